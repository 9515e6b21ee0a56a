//! The decoder on its own thread. tract allocates on every run (≈ 107 allocations per
//! frame, measured), so the audio thread never calls it: it sends each frame's controls
//! through one `rtrb` ring and takes synth frames from another; if a frame is late the
//! synth holds the last one. The worker runs the native decoder when the model's load
//! check passed ([`crate::inference::native_decoder`]), tract otherwise.
//!
//! The worker sleeps in `park` until the audio thread, having queued a block's frames,
//! calls [`DecoderLink::wake`] (an atomic swap, and a futex wake only when the worker is
//! parked: no lock, no allocation, never waits). Polling with a 300 µs sleep instead cost
//! ≈ 7 % of a core in wake-ups alone.
//!
//! On the rings a frame is a fixed run of `f32`s: controls are `f0 [V] ++ decoder
//! inputs [V × 3] ++ output gains [V + 1] ++ [generation]` (per voice, then the noise:
//! what the tone controls' auto adjust gives back,
//! [`crate::engine::tone::ToneShaper::output_gains`]), synth frames `f0 [V] ++
//! amplitude [V] ++ harmonics [V × H] ++ noise [N] ++ [generation]`. The timbre `z`
//! reaches the worker by a channel from whoever analysed the reference (never the audio
//! thread); a new `z` restarts the decoder's GRU state.
//!
//! The generation tag is how [`DecoderLink::reset`] forgets the past without a lock: it
//! moves to a new generation, the worker skips frames of an older one and restarts its
//! GRU state on the first frame of the new one, and the audio thread drops decoded frames
//! of an older one. Without it the last note before a host's reset played on for the
//! frames in flight (12 ms measured at 48 kHz, blocks of 256).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

use rtrb::{Consumer, Producer, RingBuffer};

use crate::inference::{DecoderStream, Model};
use crate::synth::SynthFrame;
use crate::ModelSpec;

/// Frames each ring holds (0.25 s at 250 frames/s).
const RING_FRAMES: usize = 64;
/// The longest the worker sleeps without a wake (it then looks for a new timbre or a stop).
const IDLE: Duration = Duration::from_millis(20);

/// Frame sizes on the rings.
#[derive(Debug, Clone, Copy)]
struct Layout {
    voices: usize,
    harmonics: usize,
    noise: usize,
}

impl Layout {
    fn of(spec: &ModelSpec) -> Self {
        Layout { voices: spec.voices, harmonics: spec.harmonics, noise: spec.noise_bands }
    }
    fn controls(&self) -> usize {
        self.voices * 5 + 2
    }
    fn synth(&self) -> usize {
        self.voices * (2 + self.harmonics) + self.noise + 1
    }
}

/// The audio thread's end.
pub struct DecoderLink {
    to_worker: Producer<f32>,
    from_worker: Consumer<f32>,
    layout: Layout,
    shared: Arc<Shared>,
    worker: Thread,
    /// The generation this end sends and accepts (see the module doc).
    generation: u32,
}

/// Generations wrap below 2²⁴, so an `f32` on the rings holds each one exactly.
const GENERATIONS: u32 = 1 << 24;

struct Shared {
    stop: AtomicBool,
    /// Frames the worker decoded, and frames dropped because a ring was full.
    decoded: AtomicU64,
    dropped: AtomicU64,
    /// The audio thread's current generation.
    generation: AtomicU32,
}

impl DecoderLink {
    /// Queues one frame's controls (`f0 [V]`, decoder inputs `[V × 3]`, output gains
    /// `[V + 1]`). Returns false, dropping the frame, when the worker is too far behind.
    pub fn send(&mut self, f0: &[f32], controls: &[f32], gains: &[f32]) -> bool {
        let n = self.layout.controls();
        let Ok(mut chunk) = self.to_worker.write_chunk(n) else {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        };
        let (a, b) = chunk.as_mut_slices();
        let generation = self.generation as f32;
        let src = f0.iter().chain(controls.iter()).chain(gains.iter()).chain(std::iter::once(&generation));
        for (dst, v) in a.iter_mut().chain(b.iter_mut()).zip(src) {
            *dst = *v;
        }
        chunk.commit_all();
        true
    }

    /// Wakes the worker for the frames just queued.
    pub fn wake(&self) {
        self.worker.unpark();
    }

    /// Synth frames ready to be taken.
    pub fn ready(&self) -> usize {
        self.from_worker.slots() / self.layout.synth()
    }

    /// Takes the next decoded frame into `frame`; false (and `frame` untouched) if none.
    /// Frames of an older generation are dropped on the way.
    pub fn receive(&mut self, frame: &mut SynthFrame) -> bool {
        let n = self.layout.synth();
        loop {
            let Ok(chunk) = self.from_worker.read_chunk(n) else { return false };
            let (a, b) = chunk.as_slices();
            // The tag is the frame's last value (no index: no panic path on this thread).
            let tag = b.last().or(a.last()).copied();
            if tag == Some(self.generation as f32) {
                let mut values = a.iter().chain(b.iter());
                let fields: [&mut Vec<f32>; 4] = [&mut frame.f0_hz, &mut frame.amplitude, &mut frame.harmonics, &mut frame.noise];
                for field in fields {
                    for (dst, v) in field.iter_mut().zip(&mut values) {
                        *dst = *v;
                    }
                }
                chunk.commit_all();
                return true;
            }
            chunk.commit_all();
        }
    }

    /// Forgets every frame sent or decoded so far (a host's reset): they are never heard,
    /// and the decoder's GRU state restarts with the next frame sent. Lock-free.
    pub fn reset(&mut self) {
        self.generation = (self.generation + 1) % GENERATIONS;
        self.shared.generation.store(self.generation, Ordering::Relaxed);
        let ready = self.from_worker.slots();
        if let Ok(chunk) = self.from_worker.read_chunk(ready) {
            chunk.commit_all();
        }
    }

    /// Drops decoded frames until at most `keep` are waiting (bounds the latency).
    pub fn skip_to(&mut self, keep: usize) {
        let extra = self.ready().saturating_sub(keep);
        if extra > 0 {
            if let Ok(chunk) = self.from_worker.read_chunk(extra * self.layout.synth()) {
                chunk.commit_all();
            }
        }
    }

    pub fn frames_dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    pub fn frames_decoded(&self) -> u64 {
        self.shared.decoded.load(Ordering::Relaxed)
    }
}

/// The worker thread's owner: sets the timbre, stops and joins the thread on drop.
pub struct DecoderWorker {
    z: Sender<Vec<f32>>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl DecoderWorker {
    /// Starts the worker with timbre `z`; returns it and the audio thread's link.
    pub fn spawn(model: &Model, z: Vec<f32>) -> std::io::Result<(DecoderWorker, DecoderLink)> {
        let layout = Layout::of(model.spec());
        let (to_worker, worker_in) = RingBuffer::new(RING_FRAMES * layout.controls());
        let (worker_out, from_worker) = RingBuffer::new(RING_FRAMES * layout.synth());
        let shared = Arc::new(Shared { stop: AtomicBool::new(false), decoded: AtomicU64::new(0), dropped: AtomicU64::new(0), generation: AtomicU32::new(0) });
        let (z_tx, z_rx) = mpsc::channel();
        let stream = model.decoder();
        let frame = SynthFrame::silent(model.spec());
        let worker_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("gddsp-decoder".into())
            .spawn(move || run(stream, frame, z, z_rx, worker_in, worker_out, layout, &worker_shared))?;
        let worker = thread.thread().clone();
        Ok((DecoderWorker { z: z_tx, shared: shared.clone(), thread: Some(thread) }, DecoderLink { to_worker, from_worker, layout, shared, worker, generation: 0 }))
    }

    /// A sender of new timbres, for a thread that outlives this borrow (a send to a
    /// stopped worker is ignored).
    pub fn z_sender(&self) -> Sender<Vec<f32>> {
        self.z.clone()
    }

    /// A new timbre for the frames that follow.
    pub fn set_z(&self, z: Vec<f32>) {
        // The worker only stops when this owner drops, so the receiver is alive.
        let _ = self.z.send(z);
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
    }
}

impl Drop for DecoderWorker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

fn run(mut stream: DecoderStream, mut frame: SynthFrame, mut z: Vec<f32>, z_rx: Receiver<Vec<f32>>, mut input: Consumer<f32>, mut output: Producer<f32>, layout: Layout, shared: &Shared) {
    let v = layout.voices;
    let mut controls = vec![0f32; layout.controls()];
    let mut generation = 0f32;
    while !shared.stop.load(Ordering::Relaxed) {
        if let Some(latest) = z_rx.try_iter().last() {
            z = latest;
            stream.reset();
        }
        let Ok(chunk) = input.read_chunk(layout.controls()) else {
            std::thread::park_timeout(IDLE);
            continue;
        };
        let (a, b) = chunk.as_slices();
        for (dst, src) in controls.iter_mut().zip(a.iter().chain(b.iter())) {
            *dst = *src;
        }
        chunk.commit_all();
        let tag = controls[controls.len() - 1];
        if tag != shared.generation.load(Ordering::Relaxed) as f32 {
            // Sent before a reset: never heard, not worth decoding.
            shared.decoded.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if tag != generation {
            generation = tag;
            stream.reset();
        }
        frame.f0_hz.copy_from_slice(&controls[..v]);
        if stream.step_into(&controls[v..4 * v], &z, &mut frame).is_err() {
            // A failed run is a silent frame: the audio goes on.
            frame.amplitude.fill(0.0);
            frame.harmonics.fill(0.0);
            frame.noise.fill(0.0);
        }
        let gains = &controls[4 * v..5 * v + 1];
        frame.amplitude.iter_mut().zip(gains).for_each(|(a, g)| *a *= g);
        frame.noise.iter_mut().for_each(|m| *m *= gains[v]);
        let Ok(mut out) = output.write_chunk(layout.synth()) else {
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let (a, b) = out.as_mut_slices();
        let values = frame.f0_hz.iter().chain(&frame.amplitude).chain(&frame.harmonics).chain(&frame.noise).chain(std::iter::once(&generation));
        for (dst, v) in a.iter_mut().chain(b.iter_mut()).zip(values) {
            *dst = *v;
        }
        out.commit_all();
        shared.decoded.fetch_add(1, Ordering::Relaxed);
    }
}
