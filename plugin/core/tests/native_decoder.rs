//! The native decoder against tract on the shipped `decoder.onnx`: the same function,
//! streamed over many frames with the GRU state carried.

mod common;

use std::path::Path;

use common::max_abs_diff as max_diff;
use gddsp_core::inference::native_decoder::{DecoderShape, DecoderWeights};
use gddsp_core::inference::{Model, DECODER_ONNX, ENCODER_ONNX, NATIVE_TOLERANCE};

fn models() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

#[test]
fn native_and_tract_decoders_agree_over_a_played_phrase() {
    let model = Model::load(&models()).expect("the shipped model loads");
    assert_eq!(model.decoder_backend(), "native", "the shipped decoder.onnx must pass the load check");
    let spec = model.spec().clone();
    let (mut native, mut tract) = (model.decoder(), model.tract_decoder());
    let z: Vec<f32> = (0..model.info.z_dim).map(|j| ((j * 13 % 7) as f32 - 3.0) * 0.4).collect();
    let mut worst = 0f32;
    let mut loudest = 0f32;
    // 500 frames (2 s): strings entering and leaving, pitch glides, loudness swells.
    for t in 0..500 {
        let controls: Vec<f32> = (0..spec.voices)
            .flat_map(|s| {
                let on = (t / 40 + s) % 3 != 0;
                let pitch = -1.0 + 0.3 * s as f32 + 0.2 * (t as f32 * 0.05).sin();
                let loud = if on { 0.5 + 0.5 * (t as f32 * 0.02 + s as f32).cos() } else { -1.5 };
                [pitch, loud, if on { 0.9 } else { 0.0 }]
            })
            .collect();
        let a = native.step(&controls, &z).unwrap();
        let b = tract.step(&controls, &z).unwrap();
        worst = worst.max(max_diff(&a.amplitude, &b.amplitude)).max(max_diff(&a.harmonics, &b.harmonics)).max(max_diff(&a.noise, &b.noise)).max(max_diff(native.state(), tract.state()));
        loudest = loudest.max(b.amplitude.iter().copied().fold(0.0, f32::max));
    }
    eprintln!("native vs tract, 500 streamed frames: max abs error {worst:e} (largest amplitude {loudest})");
    assert!(worst < NATIVE_TOLERANCE, "native vs tract: {worst}");
    assert!(loudest > 1e-3, "the phrase must make the decoder sound");
    // reset returns both to rest: the first frame after it matches a fresh stream.
    native.reset();
    let fresh = model.decoder().step(&[0.1; 18], &z).unwrap();
    assert_eq!(native.step(&[0.1; 18], &z).unwrap(), fresh);
}

#[test]
fn weights_of_another_graph_are_refused_with_a_reason() {
    let shape = DecoderShape { voices: 6, hidden: 128, harmonics: 60, bands: 65, z_dim: 32 };
    let encoder = std::fs::read(models().join(ENCODER_ONNX)).unwrap();
    let e = DecoderWeights::from_onnx(&encoder, shape).unwrap_err();
    assert!(e.contains("expected W_controls"), "{e}");
    let decoder = std::fs::read(models().join(DECODER_ONNX)).unwrap();
    let e = DecoderWeights::from_onnx(&decoder, DecoderShape { hidden: 64, ..shape }).unwrap_err();
    assert!(e.contains("[3, 64]"), "{e}");
    assert!(DecoderWeights::from_onnx(b"\xff\xff not onnx", shape).is_err());
    assert!(DecoderWeights::from_onnx(&decoder, shape).is_ok());
}
