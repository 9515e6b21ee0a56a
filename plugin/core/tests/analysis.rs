//! Pitch, loudness and MFCC measured on signals whose truth is known.

mod common;

use common::*;
use gddsp_core::analysis::{channel_features, Loudness, Mfcc, Yin};
use gddsp_core::audio_io::{resample, Audio};
use gddsp_core::ModelSpec;

fn midi_hz(m: f32) -> f32 {
    440.0 * 2f32.powf((m - 69.0) / 12.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A bright tone: five harmonics with falling amplitudes.
fn tone(rate: f32, f0: f32, len: usize) -> Vec<f32> {
    let mut y = vec![0.0; len];
    for h in 1..=5 {
        if f0 * h as f32 >= rate / 2.0 {
            break;
        }
        for (o, s) in y.iter_mut().zip(sine(rate, f0 * h as f32, 0.3 / h as f32, len)) {
            *o += s;
        }
    }
    y
}

#[test]
fn yin_median_error_under_10_cents_from_e2_to_e6() {
    let rate = 16_000.0;
    let yin = Yin::new(rate);
    for midi in (40..=88).step_by(3) {
        let f0 = midi_hz(midi as f32);
        let (f, conf) = yin.track(&tone(rate, f0, 8000), 64);
        let errs: Vec<f64> = f[10..f.len() - 10].iter().map(|&x| cents(x as f64, f0 as f64).abs()).collect();
        let m = median(errs);
        assert!(m < 10.0, "MIDI {midi} ({f0:.1} Hz): median error {m:.2} cents");
        assert!(conf[60] > 0.9, "MIDI {midi}: confidence {}", conf[60]);
    }
}

#[test]
fn yin_tracks_plucked_strings_through_resampling() {
    // Karplus–Strong plucks at 44.1 kHz, resampled to the model rate as the CLI does.
    let rate = 44_100.0;
    for period in [535, 401, 300, 225, 178, 133, 100, 67] {
        let truth = rate / (period as f64 + 0.5);
        let pluck = pluck(period, 22_050, period as u32);
        let audio = resample(&Audio::new(44_100, vec![pluck]), 16_000).unwrap();
        let spec = ModelSpec::default();
        let feats = channel_features(&audio.channels[0], &spec);
        let errs: Vec<f64> = feats
            .f0_hz
            .iter()
            .zip(&feats.confidence)
            .skip(5)
            .take(100)
            .filter(|(_, &c)| c > 0.5)
            .map(|(&f, _)| cents(f as f64, truth).abs())
            .collect();
        assert!(errs.len() > 80, "period {period}: only {} confident frames", errs.len());
        let m = median(errs);
        assert!(m < 10.0, "pluck at {truth:.1} Hz: median error {m:.2} cents");
    }
}

#[test]
fn silence_has_no_pitch_and_floor_loudness() {
    let spec = ModelSpec::default();
    let feats = channel_features(&vec![0.0; 4000], &spec);
    assert!(feats.confidence.iter().all(|&c| c == 0.0));
    assert!(feats.loudness_db.iter().all(|&l| l == -100.0));
    assert_eq!(feats.f0_hz.len(), 4000usize.div_ceil(64));
}

#[test]
fn the_loudness_control_leaves_the_floor_in_the_frame_a_note_starts() {
    // A note from sample 4000 (inside frame 62: 3968..4032). The decoder's loudness reads
    // the samples up to the end of each frame, as the live trackers do: floor through
    // frame 61, sounding from 62, and within 1 dB of its steady level a window later.
    let spec = ModelSpec::default();
    let mut x = vec![0.0; 4000];
    x.extend(tone(16_000.0, 220.0, 8000));
    let l = channel_features(&x, &spec).loudness_db;
    assert!(l[..62].iter().all(|&v| v == -100.0), "early rise: frames 55..62 read {:?}", &l[55..62]);
    assert!(l[62] > -99.0, "frame 62 reads {}", l[62]);
    let steady = l[120];
    assert!((l[62 + 1024 / 64] - steady).abs() < 1.0, "a window after the onset: {} against {steady}", l[78]);
}

#[test]
fn loudness_reads_a_6_db_step_as_6_db() {
    let rate = 16_000.0;
    let mut x = sine(rate, 1000.0, 0.1, 16_000);
    x.extend(sine(rate, 1000.0, 0.2, 16_000));
    let l = Loudness::new(rate).track(&x, 64);
    let before = median(l[50..200].iter().map(|&v| v as f64).collect());
    let after = median(l[300..450].iter().map(|&v| v as f64).collect());
    assert!(((after - before) - 6.02).abs() < 0.5, "step reads {:.2} dB", after - before);
    // A 1 kHz sine of amplitude 0.1 has RMS 0.0707: −23 dB full-scale RMS.
    assert!((before - 20.0 * (0.1 / 2f64.sqrt()).log10()).abs() < 0.5, "absolute level {before:.2} dB");
}

#[test]
fn loudness_is_a_weighted() {
    let rate = 16_000.0;
    let l = Loudness::new(rate);
    let at = |f: f32| median(l.track(&sine(rate, f, 0.1, 8000), 64)[20..100].iter().map(|&v| v as f64).collect());
    // IEC 61672: A(100 Hz) = −19.1 dB relative to 1 kHz.
    let d = at(100.0) - at(1000.0);
    assert!((d + 19.1).abs() < 0.7, "100 Hz reads {d:.2} dB under 1 kHz");
}

#[test]
fn mfcc_c0_tracks_level_and_the_envelope_finds_the_tone() {
    let rate = 16_000.0;
    let mfcc = Mfcc::new(rate, 30);
    let noise = test_noise(8000, 4);
    let loud: Vec<f32> = noise.iter().map(|v| v * 2.0).collect();
    let a = mfcc.track(&noise, 64);
    let b = mfcc.track(&loud, 64);
    let frame = 40 * 30;
    // ×2 amplitude = ×4 power: every log-mel band rises by ln 4, c0 by √128 · ln 4.
    let want = (128f32).sqrt() * 4f32.ln();
    assert!((b[frame] - a[frame] - want).abs() < 0.01 * want, "c0 rose {}", b[frame] - a[frame]);
    for q in 1..30 {
        assert!((b[frame + q] - a[frame + q]).abs() < 0.05, "c{q} moved");
    }
    // The 30-coefficient envelope of a tone peaks near the tone's mel band.
    for (hz, expect_band) in [(500.0, 27usize), (2000.0, 71)] {
        let c = mfcc.track(&sine(rate, hz, 0.5, 8000), 64);
        let c = &c[frame..frame + 30];
        let envelope: Vec<f32> = (0..128)
            .map(|m| {
                c.iter()
                    .enumerate()
                    .map(|(q, &v)| {
                        let alpha = if q == 0 { (1.0f32 / 128.0).sqrt() } else { (2.0f32 / 128.0).sqrt() };
                        v * alpha * (std::f32::consts::PI * q as f32 * (m as f32 + 0.5) / 128.0).cos()
                    })
                    .sum()
            })
            .collect();
        let peak = (0..128).max_by(|&p, &q| envelope[p].total_cmp(&envelope[q])).unwrap();
        assert!(peak.abs_diff(expect_band) <= 4, "{hz} Hz peaks at band {peak}, expected ≈{expect_band}");
    }
}

#[test]
fn a_string_range_tracker_ignores_what_lies_below_its_string() {
    use gddsp_core::analysis::pitch::string_range;
    // Ranges: 3 semitones under each standard open string to a bend at the 24th fret.
    let (lo, hi) = string_range(0);
    assert!((lo - 69.30).abs() < 0.01 && (hi - 369.99).abs() < 0.01, "{lo} {hi}");
    let (lo, hi) = string_range(5);
    assert!((lo - 277.18).abs() < 0.01 && (hi - 1479.98).abs() < 0.01, "{lo} {hi}");
    // A B-string note (246.9 Hz) with bleed an octave below: the whole-guitar tracker
    // hears the 123.5 Hz period of the sum, the B string's own tracker hears its note.
    let rate = 16_000.0;
    let len = 8000;
    let b3 = midi_hz(59.0);
    let signal: Vec<f32> = tone(rate, b3, len).iter().zip(sine(rate, b3 / 2.0, 0.2, len)).map(|(a, b)| a + b).collect();
    let whole = Yin::new(rate).track(&signal, 64).0;
    let (lo, hi) = string_range(4);
    let string = Yin::with_range(rate, lo, hi).track(&signal, 64).0;
    let whole_err = median(whole[10..110].iter().map(|&f| cents(f as f64, b3 as f64).abs()).collect());
    let string_err = median(string[10..110].iter().map(|&f| cents(f as f64, b3 as f64).abs()).collect());
    assert!(whole_err > 1100.0, "whole-range tracker: {whole_err:.1} cents");
    assert!(string_err < 5.0, "string-range tracker: {string_err:.1} cents");
}
