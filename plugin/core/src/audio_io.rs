//! Audio in and out: decode any common file (`symphonia`: wav, flac, mp3, ogg/vorbis; any
//! rate, any channel count), resample (`rubato`), write WAV (`hound`).
//!
//! Loading refuses what would silently lose or poison audio: an empty file, a truncated
//! one, NaN or infinite samples, or a rate outside 8–384 kHz. Every error names the file.

use std::fs::File;
use std::path::{Path, PathBuf};

use rubato::{FftFixedIn, Resampler};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::error::AudioError;

/// Lowest and highest sample rate accepted from a file, Hz.
pub const MIN_RATE: u32 = 8_000;
pub const MAX_RATE: u32 = 384_000;

/// Planar audio: `channels[c][n]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub sample_rate: u32,
    pub channels: Vec<Vec<f32>>,
}

impl Audio {
    pub fn new(sample_rate: u32, channels: Vec<Vec<f32>>) -> Self {
        Audio { sample_rate, channels }
    }

    /// Samples per channel.
    pub fn len(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn seconds(&self) -> f64 {
        self.len() as f64 / self.sample_rate as f64
    }

    /// The sum of all channels: what one pickup under all six strings hears, the clean
    /// mix of a hexaphonic recording (the corpus' wet side is the FX chain over this).
    pub fn mix_down(&self) -> Vec<f32> {
        let mut mix = vec![0f32; self.len()];
        for c in &self.channels {
            for (m, x) in mix.iter_mut().zip(c) {
                *m += x;
            }
        }
        mix
    }

    /// The mean of all channels.
    pub fn mono(&self) -> Vec<f32> {
        let scale = 1.0 / self.channels.len().max(1) as f32;
        (0..self.len()).map(|n| self.channels.iter().map(|c| c[n]).sum::<f32>() * scale).collect()
    }
}

/// Decodes a whole audio file.
pub fn load(path: &Path) -> Result<Audio, AudioError> {
    let file = File::open(path).map_err(|reason| AudioError::Open { path: path.into(), reason })?;
    let unsupported = |detail: String| AudioError::Unsupported { path: path.into(), detail };
    let corrupt = |detail: String| AudioError::Corrupt { path: path.into(), detail };

    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &FormatOptions::default(), &MetadataOptions::default())
        .map_err(|e| match e {
            SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                corrupt("the file ends before its header is complete".into())
            }
            other => unsupported(other.to_string()),
        })?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| unsupported("no audio track".into()))?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    let expected_frames = params.n_frames;
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| unsupported(e.to_string()))?;

    let mut rate = params.sample_rate;
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut sample_buf: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => return Err(corrupt(e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = decoder.decode(&packet).map_err(|e| corrupt(e.to_string()))?;
        let spec = *decoded.spec();
        rate = Some(spec.rate);
        let n_ch = spec.channels.count();
        if channels.is_empty() {
            channels = vec![Vec::new(); n_ch];
        } else if channels.len() != n_ch {
            return Err(corrupt(format!("channel count changes from {} to {n_ch} mid-stream", channels.len())));
        }
        let needed = decoded.capacity() as u64;
        if sample_buf.as_ref().is_none_or(|b| (b.capacity() as u64) < needed * n_ch as u64) {
            sample_buf = Some(SampleBuffer::new(needed, spec));
        }
        let buf = sample_buf.as_mut().expect("allocated above");
        buf.copy_interleaved_ref(decoded);
        for frame in buf.samples().chunks_exact(n_ch) {
            for (c, &v) in frame.iter().enumerate() {
                channels[c].push(v);
            }
        }
    }

    let rate = rate.ok_or_else(|| unsupported("unknown sample rate".into()))?;
    if !(MIN_RATE..=MAX_RATE).contains(&rate) {
        return Err(AudioError::SampleRate { path: path.into(), rate, min: MIN_RATE, max: MAX_RATE });
    }
    let got = channels.first().map_or(0, Vec::len);
    if got == 0 {
        return Err(AudioError::Empty { path: path.into() });
    }
    if let Some(expected) = expected_frames {
        if (got as u64) < expected {
            return Err(corrupt(format!("the file is truncated: {got} of {expected} samples per channel are there")));
        }
    }
    for (c, ch) in channels.iter().enumerate() {
        if let Some(index) = ch.iter().position(|v| !v.is_finite()) {
            return Err(AudioError::NotFinite { path: path.into(), channel: c, index });
        }
    }
    Ok(Audio::new(rate, channels))
}

/// Resamples to `to` Hz (band-limited FFT resampling; the output is time-aligned and
/// holds `round(len · to / from)` samples).
pub fn resample(audio: &Audio, to: u32) -> Result<Audio, AudioError> {
    if audio.sample_rate == to {
        return Ok(audio.clone());
    }
    let from = audio.sample_rate;
    let err = |detail: String| AudioError::Resample { from, to, detail };
    let n_ch = audio.channels.len();
    let mut rs = FftFixedIn::<f32>::new(from as usize, to as usize, 1024, 2, n_ch).map_err(|e| err(e.to_string()))?;
    let want = (audio.len() as f64 * to as f64 / from as f64).round() as usize;
    let delay = rs.output_delay();
    let mut out: Vec<Vec<f32>> = vec![Vec::with_capacity(want + delay + 2048); n_ch];
    let mut pos = 0;
    while out[0].len() < want + delay {
        let need = rs.input_frames_next();
        let chunk: Vec<&[f32]> = audio.channels.iter().map(|c| &c[pos.min(c.len())..(pos + need).min(c.len())]).collect();
        let produced = if chunk[0].len() == need {
            rs.process(&chunk, None)
        } else if chunk[0].is_empty() {
            rs.process_partial::<&[f32]>(None, None)
        } else {
            rs.process_partial(Some(&chunk), None)
        }
        .map_err(|e| err(e.to_string()))?;
        pos += need;
        for (o, p) in out.iter_mut().zip(produced) {
            o.extend_from_slice(&p);
        }
    }
    for o in &mut out {
        o.drain(..delay);
        o.truncate(want);
    }
    Ok(Audio::new(to, out))
}

/// Writes 32-bit float WAV (no clipping, no dither: exactly the samples given).
pub fn write_wav(path: &Path, audio: &Audio) -> Result<(), AudioError> {
    let werr = |detail: String| AudioError::Write { path: PathBuf::from(path), detail };
    let spec = hound::WavSpec {
        channels: audio.channels.len() as u16,
        sample_rate: audio.sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(|e| werr(e.to_string()))?;
    for n in 0..audio.len() {
        for ch in &audio.channels {
            w.write_sample(ch[n]).map_err(|e| werr(e.to_string()))?;
        }
    }
    w.finalize().map_err(|e| werr(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, secs: f32) -> Vec<f32> {
        (0..(rate as f32 * secs) as usize).map(|n| (std::f32::consts::TAU * hz * n as f32 / rate as f32).sin() * 0.5).collect()
    }

    #[test]
    fn resample_keeps_length_timing_and_level() {
        let a = Audio::new(44_100, vec![sine(44_100, 440.0, 1.0)]);
        let b = resample(&a, 16_000).unwrap();
        assert_eq!(b.len(), 16_000);
        // Compare with the ideal 16 kHz sine away from the edges.
        let ideal = sine(16_000, 440.0, 1.0);
        let err = b.channels[0][1000..15_000].iter().zip(&ideal[1000..15_000]).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(err < 2e-3, "max error {err}");
    }
}
