//! Loading any common file, and refusing bad ones with an error that names them.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use gddsp_core::audio_io::{load, write_wav, Audio};
use gddsp_core::AudioError;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gddsp-audio-io-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn write_int_wav(path: &Path, rate: u32, bits: u16, channels: &[Vec<f32>]) {
    let spec = hound::WavSpec { channels: channels.len() as u16, sample_rate: rate, bits_per_sample: bits, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let full = (1i64 << (bits - 1)) as f32 - 1.0;
    for n in 0..channels[0].len() {
        for ch in channels {
            w.write_sample((ch[n] * full).round() as i32).unwrap();
        }
    }
    w.finalize().unwrap();
}

#[test]
fn integer_and_float_wavs_of_any_rate_and_channel_count_load_exactly() {
    let dir = temp_dir("formats");
    for (rate, bits, n_ch) in [(8_000, 16, 1), (44_100, 16, 2), (48_000, 24, 6), (192_000, 32, 1)] {
        let channels: Vec<Vec<f32>> = (0..n_ch).map(|c| sine(rate as f32, 100.0 * (c + 1) as f32, 0.5, rate as usize / 10)).collect();
        let path = dir.join(format!("int{bits}_{rate}_{n_ch}.wav"));
        write_int_wav(&path, rate, bits, &channels);
        let a = load(&path).unwrap();
        assert_eq!((a.sample_rate, a.channels.len(), a.len()), (rate, n_ch, channels[0].len()));
        let tol = 1.5 / (1u64 << (bits - 1)) as f32;
        for (got, want) in a.channels.iter().zip(&channels) {
            assert!(max_abs_diff(got, want) <= tol, "{bits}-bit at {rate}");
        }
    }
    let float = Audio::new(96_000, vec![test_noise(9600, 1), test_noise(9600, 2)]);
    let path = dir.join("float.wav");
    write_wav(&path, &float).unwrap();
    assert_eq!(load(&path).unwrap(), float);
}

#[test]
fn flac_mp3_and_ogg_decode() {
    // 0.5 s of a 440 Hz sine at 44.1 kHz, stereo, encoded by sox.
    for name in ["sine440.flac", "sine440.mp3", "sine440.ogg"] {
        let a = load(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(a.sample_rate, 44_100, "{name}");
        assert_eq!(a.channels.len(), 2, "{name}");
        assert!((a.seconds() - 0.5).abs() < 0.06, "{name}: {} s", a.seconds());
        let f = zero_crossing_frequency(&a.channels[0][4410..17_640], 44_100.0);
        assert!(cents(f, 440.0).abs() < 5.0, "{name}: {f} Hz");
    }
}

fn expect_error(path: &Path, check: impl Fn(&AudioError) -> bool) {
    match load(path) {
        Ok(a) => panic!("{} loaded ({} samples) but should not", path.display(), a.len()),
        Err(e) => {
            assert!(check(&e), "{}: unexpected error {e:?}", path.display());
            assert!(e.to_string().contains(path.file_name().unwrap().to_str().unwrap()), "error does not name the file: {e}");
        }
    }
}

#[test]
fn bad_files_give_errors_that_name_them() {
    let dir = temp_dir("bad");
    expect_error(&dir.join("missing.wav"), |e| matches!(e, AudioError::Open { .. }));

    let text = dir.join("notes.wav");
    std::fs::write(&text, "this is not audio at all, just words").unwrap();
    expect_error(&text, |e| matches!(e, AudioError::Unsupported { .. } | AudioError::Corrupt { .. }));

    let empty = dir.join("empty.wav");
    write_int_wav(&empty, 44_100, 16, &[vec![]]);
    expect_error(&empty, |e| matches!(e, AudioError::Empty { .. }));

    let zero_bytes = dir.join("zero.flac");
    std::fs::write(&zero_bytes, []).unwrap();
    expect_error(&zero_bytes, |e| matches!(e, AudioError::Unsupported { .. } | AudioError::Corrupt { .. }));

    let full = dir.join("full.wav");
    write_int_wav(&full, 44_100, 16, &[sine(44_100.0, 440.0, 0.5, 44_100)]);
    let bytes = std::fs::read(&full).unwrap();
    let truncated = dir.join("truncated.wav");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    expect_error(&truncated, |e| matches!(e, AudioError::Corrupt { .. }));

    let nan = dir.join("nan.wav");
    let mut x = sine(48_000.0, 440.0, 0.5, 4800);
    x[1234] = f32::NAN;
    write_wav(&nan, &Audio::new(48_000, vec![x])).unwrap();
    expect_error(&nan, |e| matches!(e, AudioError::NotFinite { index: 1234, .. }));

    let slow = dir.join("slow.wav");
    write_int_wav(&slow, 4_000, 16, &[sine(4_000.0, 100.0, 0.5, 400)]);
    expect_error(&slow, |e| matches!(e, AudioError::SampleRate { rate: 4_000, .. }));
}
