//! Per-string controls (f0, confidence, A-weighted loudness at the model frame rate),
//! computed once and cached next to the audio as `NAME_features.bin`. Each string of a
//! hexaphonic recording is tracked within its own f0 range.
//!
//! The cache is little-endian: the magic `GDDSPFT2`, then `u32` model sample rate, hop,
//! channel count and frame count, a `u64` fingerprint of the source audio, then per
//! channel `f0[frames]`, `confidence[frames]`, `loudness_db[frames]` as `f32`. A cache
//! whose header does not match the audio and the model spec is recomputed.

use std::path::Path;

use gddsp_core::analysis::{channel_features, string_features, ChannelFeatures};
use gddsp_core::audio_io::{self, Audio};
use gddsp_core::ModelSpec;

use super::error::DataError;
use super::Fnv;
use super::notes::STRINGS;

/// Version 2: loudness from trailing windows ([`ChannelFeatures`]); a version-1 cache is
/// recomputed.
const MAGIC: &[u8; 8] = b"GDDSPFT2";

/// Features of every channel at the model rate (the audio is resampled to it first).
/// The six channels of a hexaphonic recording are tracked each in its string's range.
pub fn compute(clean: &Audio, spec: &ModelSpec) -> Result<Vec<ChannelFeatures>, DataError> {
    let at_model_rate = audio_io::resample(clean, spec.sample_rate)?;
    let hex = at_model_rate.channels.len() == STRINGS;
    Ok(at_model_rate.channels.iter().enumerate().map(|(s, c)| if hex { string_features(c, spec, s) } else { channel_features(c, spec) }).collect())
}

/// A cheap identity of the audio: its shape and every 61st sample (FNV-1a).
pub fn fingerprint(audio: &Audio) -> u64 {
    let mut h = Fnv::default();
    h.eat(audio.sample_rate as u64);
    h.eat(audio.channels.len() as u64);
    h.eat(audio.len() as u64);
    for c in &audio.channels {
        for x in c.iter().step_by(61) {
            h.eat(x.to_bits() as u64);
        }
    }
    h.finish()
}

pub fn write_cache(path: &Path, features: &[ChannelFeatures], spec: &ModelSpec, source: u64) -> Result<(), DataError> {
    let frames = features.first().map_or(0, |f| f.f0_hz.len());
    let mut bytes = Vec::with_capacity(32 + features.len() * frames * 12);
    bytes.extend_from_slice(MAGIC);
    for v in [spec.sample_rate, spec.hop as u32, features.len() as u32, frames as u32] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes.extend_from_slice(&source.to_le_bytes());
    for f in features {
        for track in [&f.f0_hz, &f.confidence, &f.loudness_db] {
            for x in track.iter() {
                bytes.extend_from_slice(&x.to_le_bytes());
            }
        }
    }
    std::fs::write(path, bytes).map_err(|e| DataError::io(path, format!("cannot write the feature cache: {e}")))
}

/// Reads a cache; `None` if it is missing, stale or unreadable (the caller recomputes).
pub fn read_cache(path: &Path, spec: &ModelSpec, source: u64, channels: usize) -> Option<Vec<ChannelFeatures>> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() < 32 || &bytes[..8] != MAGIC {
        return None;
    }
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
    let (rate, hop, n_ch, frames) = (u32_at(8), u32_at(12) as usize, u32_at(16) as usize, u32_at(20) as usize);
    let fp = u64::from_le_bytes(bytes[24..32].try_into().expect("8 bytes"));
    if rate != spec.sample_rate || hop != spec.hop || n_ch != channels || fp != source || bytes.len() != 32 + n_ch * frames * 12 {
        return None;
    }
    let mut floats = bytes[32..].chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")));
    let mut take = || (&mut floats).take(frames).collect::<Vec<f32>>();
    Some((0..n_ch).map(|_| ChannelFeatures { f0_hz: take(), confidence: take(), loudness_db: take() }).collect())
}

/// Cached features of `clean` (computed and written if the cache is missing or stale;
/// a cache that cannot be written, e.g. on a read-only dataset, is only kept in memory).
pub fn load_or_compute(cache: &Path, clean: &Audio, spec: &ModelSpec) -> Result<(Vec<ChannelFeatures>, bool), DataError> {
    let fp = fingerprint(clean);
    if let Some(f) = read_cache(cache, spec, fp, clean.channels.len()) {
        return Ok((f, true));
    }
    let f = compute(clean, spec)?;
    let _ = write_cache(cache, &f, spec, fp);
    Ok((f, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_round_trips_and_rejects_a_different_source() {
        let dir = std::env::temp_dir().join(format!("gddsp-features-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x_features.bin");
        let spec = ModelSpec::default();
        let sine: Vec<f32> = (0..16_000).map(|n| (n as f32 * 0.1).sin() * 0.3).collect();
        let audio = Audio::new(16_000, vec![sine.clone(), vec![0.0; 16_000]]);
        let (a, cached) = load_or_compute(&path, &audio, &spec).unwrap();
        assert!(!cached);
        let (b, cached) = load_or_compute(&path, &audio, &spec).unwrap();
        assert!(cached);
        assert_eq!(a, b);
        assert_eq!(a[0].f0_hz.len(), spec.frames_for(16_000));
        let louder = Audio::new(16_000, vec![sine.iter().map(|x| x * 2.0).collect(), vec![0.0; 16_000]]);
        assert!(read_cache(&path, &spec, fingerprint(&louder), 2).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
