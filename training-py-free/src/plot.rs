//! PNG plots for people to look at: stacked spectrograms of audio files (a clean mix above
//! its wet version, a reference above a reconstruction).
//!
//! A spectrogram is |STFT| in dB (Hann window of 1024 samples, hop 256), 80 dB of range
//! below the file's loudest bin, frequency on a linear axis up to Nyquist. Text needs a
//! TrueType font: the first of a few common system fonts is used; without one the plot is
//! drawn without labels (and says so).

use std::path::Path;
use std::sync::OnceLock;

use gddsp_core::analysis::hann;
use gddsp_core::audio_io::Audio;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use realfft::RealFftPlanner;

pub const FFT: usize = 1024;
pub const HOP: usize = 256;
pub const RANGE_DB: f32 = 80.0;

const FONTS: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// Registers a system font for plot text once; false if none was found.
pub fn have_font() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| {
        FONTS.iter().any(|path| match std::fs::read(path) {
            // plotters keeps fonts for the life of the process; leaking one file is that.
            Ok(bytes) => plotters::style::register_font("sans-serif", FontStyle::Normal, Box::leak(bytes.into_boxed_slice())).is_ok(),
            Err(_) => false,
        })
    })
}

/// Magnitude spectrogram in dB: `[frame][bin]`.
pub fn spectrogram_db(signal: &[f32]) -> Vec<Vec<f32>> {
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(FFT);
    let window = hann(FFT);
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let frames = signal.len().div_ceil(HOP).max(1);
    (0..frames)
        .map(|j| {
            gddsp_core::analysis::centered_frame(signal, j * HOP, &mut input);
            for (x, w) in input.iter_mut().zip(&window) {
                *x *= w;
            }
            fft.process(&mut input, &mut spectrum).expect("buffers sized by the plan");
            spectrum.iter().map(|c| 10.0 * (c.norm_sqr() + 1e-20).log10()).collect()
        })
        .collect()
}

/// One panel of a stacked plot.
pub struct Panel<'a> {
    pub title: String,
    pub audio: &'a Audio,
}

/// Draws one spectrogram per panel, stacked, into a PNG. Multi-channel audio is summed
/// to one channel first (a hexaphonic recording's mix).
pub fn spectrograms_png(path: &Path, panels: &[Panel]) -> Result<(), String> {
    let labels = have_font();
    let (w, h) = (1200u32, 320 * panels.len().max(1) as u32);
    let root = BitMapBackend::new(path, (w, h)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    for (area, panel) in root.split_evenly((panels.len(), 1)).iter().zip(panels) {
        let mix = panel.audio.mix_down();
        let sr = panel.audio.sample_rate as f32;
        let spec = spectrogram_db(&mix);
        let top = spec.iter().flatten().fold(f32::MIN, |m, &x| m.max(x));
        let seconds = mix.len() as f32 / sr;
        let mut builder = ChartBuilder::on(area);
        builder.margin(8).x_label_area_size(if labels { 30 } else { 4 }).y_label_area_size(if labels { 50 } else { 4 });
        if labels {
            builder.caption(&panel.title, ("sans-serif", 18));
        }
        let mut chart = builder.build_cartesian_2d(0f32..seconds, 0f32..sr / 2000.0).map_err(|e| e.to_string())?;
        let mut mesh = chart.configure_mesh();
        mesh.disable_mesh();
        if labels {
            mesh.x_desc("time (s)").y_desc("frequency (kHz)");
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw().map_err(|e| e.to_string())?;
        let bins = FFT / 2 + 1;
        let (dt, df) = (HOP as f32 / sr, sr / FFT as f32 / 1000.0);
        chart
            .draw_series(spec.iter().enumerate().flat_map(|(j, frame)| {
                frame.iter().enumerate().take(bins).map(move |(k, &db)| {
                    let v = ((db - top + RANGE_DB) / RANGE_DB).clamp(0.0, 1.0);
                    let (t, f) = (j as f32 * dt, k as f32 * df);
                    Rectangle::new([(t, f), (t + dt, f + df)], ViridisRGB::get_color_normalized(v, 0.0, 1.0).filled())
                })
            }))
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| format!("{}: {e}", path.display()))?;
    if !labels {
        eprintln!("note: no TrueType font found ({}); the plot has no labels", FONTS[0]);
    }
    Ok(())
}

/// One knob's points for [`knob_scatter_png`]: (true, inferred) positions.
pub struct KnobPoints {
    pub name: String,
    pub points: Vec<(f32, f32)>,
}

/// True vs inferred knob positions, one square panel per knob (3 per row), with the
/// diagonal a perfect model would sit on.
pub fn knob_scatter_png(path: &Path, knobs: &[KnobPoints]) -> Result<(), String> {
    let labels = have_font();
    let rows = knobs.len().div_ceil(3).max(1);
    let root = BitMapBackend::new(path, (1050, 350 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    for (area, k) in root.split_evenly((rows, 3)).iter().zip(knobs) {
        let mut builder = ChartBuilder::on(area);
        builder.margin(10).x_label_area_size(if labels { 30 } else { 4 }).y_label_area_size(if labels { 40 } else { 4 });
        if labels {
            builder.caption(&k.name, ("sans-serif", 16));
        }
        let mut chart = builder.build_cartesian_2d(0f32..1f32, 0f32..1f32).map_err(|e| e.to_string())?;
        let mut mesh = chart.configure_mesh();
        if labels {
            mesh.x_desc("true").y_desc("inferred");
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw().map_err(|e| e.to_string())?;
        chart.draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], &BLACK.mix(0.4))).map_err(|e| e.to_string())?;
        chart.draw_series(k.points.iter().map(|&(t, p)| Circle::new((t, p), 3, BLUE.mix(0.7).filled()))).map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| format!("{}: {e}", path.display()))
}
