//! Delay: a feedback comb with a linearly interpolated fractional delay.
//!
//! ```text
//! D    = time_ms · sr / 1000               (samples, fractional; D ≥ 1)
//! e[n] = w[n − D]                          (echo signal)
//! w[n] = x[n] + feedback · e[n]            (what enters the delay line)
//! y[n] = x[n] + mix · e[n]
//! w[n − D] = (1 − φ) · w[n − ⌊D⌋] + φ · w[n − ⌊D⌋ − 1],   φ = D − ⌊D⌋
//! ```
//!
//! An impulse gives echoes at `D, 2D, 3D, …` with gains `1, feedback, feedback², …`
//! (as sums over each smeared echo when `φ ≠ 0`). In the frequency domain
//! `E(ω) = X(ω)·Λ(ω) / (1 − feedback·Λ(ω))`, `Λ(ω) = (1 − φ)e^{−iω⌊D⌋} + φe^{−iω(⌊D⌋+1)}`:
//! the differentiable twin's closed form, differentiable in the delay time too.
//! `mix = 0` is an exact bypass. A change of time jumps the read position (no ramp).

use super::flush_denormal;

/// Longest delay the line holds, ms (the knob table's maximum).
const MAX_TIME_MS: f32 = 1000.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DelayParams {
    pub time_ms: f32,
    pub feedback: f32,
    pub mix: f32,
}

pub struct Delay {
    sample_rate: f32,
    line: Vec<f32>,
    mask: usize,
    write: usize,
    whole: usize,
    frac: f32,
    feedback: f32,
    mix: f32,
}

impl Delay {
    pub fn new(sample_rate: f32, params: DelayParams) -> Self {
        let max = (MAX_TIME_MS * sample_rate / 1000.0).ceil() as usize + 2;
        let len = max.next_power_of_two();
        let mut d = Delay {
            sample_rate,
            line: vec![0.0; len],
            mask: len - 1,
            write: 0,
            whole: 1,
            frac: 0.0,
            feedback: 0.0,
            mix: 0.0,
        };
        d.set_params(params);
        d
    }

    pub fn set_params(&mut self, p: DelayParams) {
        let samples = (p.time_ms.min(MAX_TIME_MS) * self.sample_rate / 1000.0).max(1.0);
        self.whole = samples.floor() as usize;
        self.frac = samples - self.whole as f32;
        self.feedback = p.feedback;
        self.mix = p.mix;
    }

    pub fn reset(&mut self) {
        self.line.fill(0.0);
        self.write = 0;
    }

    pub fn process(&mut self, buf: &mut [f32]) {
        // The line keeps running while bypassed so echoes resume cleanly; with mix 0 the
        // output is still exactly the input.
        let (fb, mix, phi) = (self.feedback, self.mix, self.frac);
        for x in buf.iter_mut() {
            let r0 = self.line[(self.write.wrapping_sub(self.whole)) & self.mask];
            let r1 = self.line[(self.write.wrapping_sub(self.whole + 1)) & self.mask];
            let e = r0 + phi * (r1 - r0);
            self.line[self.write] = flush_denormal(*x + fb * e);
            self.write = (self.write + 1) & self.mask;
            *x += mix * e;
        }
    }
}
