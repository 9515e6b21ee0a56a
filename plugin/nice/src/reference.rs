//! The reference worker: decodes a dropped or opened clip (any common format and rate),
//! runs the z-encoder and the FX decoder through tract, and hands the result on — z to the
//! decoder thread (the only place that uses it), the inferred knobs, waveform and
//! spectrogram to the editor. Never the audio thread, never the GUI thread.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::Mutex;
use realfft::RealFftPlanner;

use gddsp_core::audio_io;
use gddsp_core::inference::Model;
use gddsp_core::knobs::Knobs;

/// Where the plugin looks for `model.json`, `encoder.onnx` and `decoder.onnx`, in order:
/// `$GDDSP_MODEL_DIR`, `$XDG_DATA_HOME/gddsp/models` (or `~/.local/share/gddsp/models`),
/// then the `models/` folder of the source tree it was built from.
pub fn model_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("GDDSP_MODEL_DIR") {
        dirs.push(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME") {
        dirs.push(Path::new(&d).join("gddsp/models"));
    } else if let Some(h) = std::env::var_os("HOME") {
        dirs.push(Path::new(&h).join(".local/share/gddsp/models"));
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"));
    dirs
}

/// Loads the first model directory that has a `model.json`; the error names the files.
pub fn load_model() -> Result<Model, String> {
    let dirs = model_dirs();
    let Some(dir) = dirs.iter().find(|d| d.join(gddsp_core::inference::MODEL_JSON).exists()) else {
        let tried: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        return Err(format!("model missing: no model.json in {}", tried.join(", ")));
    };
    Model::load(dir).map_err(|e| e.to_string())
}

#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Idle,
    Analysing,
    Done,
    Failed(String),
}

/// What the editor shows of the reference.
#[derive(Debug, Clone)]
pub struct ReferenceView {
    pub file: String,
    pub status: Status,
    pub inferred: Option<Knobs>,
    pub z: Option<Vec<f32>>,
    pub seconds: f64,
    pub elapsed_s: f64,
    /// Min and max per column, −1…1.
    pub waveform: Vec<(f32, f32)>,
    /// Columns of magnitudes in 0…1 (a 72 dB range), low bins first.
    pub spectrogram: Vec<Vec<f32>>,
}

impl Default for ReferenceView {
    fn default() -> Self {
        ReferenceView { file: String::new(), status: Status::Idle, inferred: None, z: None, seconds: 0.0, elapsed_s: 0.0, waveform: Vec::new(), spectrogram: Vec::new() }
    }
}

/// Where a new timbre goes: the running decoder thread, if any.
pub type TimbreRoute = Arc<Mutex<Option<Sender<Vec<f32>>>>>;

pub struct ReferenceWorker {
    jobs: Option<Sender<PathBuf>>,
    pub view: Arc<Mutex<ReferenceView>>,
    thread: Option<JoinHandle<()>>,
}

const WAVEFORM_COLUMNS: usize = 400;
const SPECTROGRAM_COLUMNS: usize = 200;
const SPECTROGRAM_FFT: usize = 1024;
const SPECTROGRAM_BINS: usize = 96;

impl ReferenceWorker {
    /// Starts the worker; `model` is shared with whoever else runs it; `timbre` gets each
    /// new z; `on_done` is called (on the worker) after each analysis, e.g. to repaint.
    pub fn spawn(model: Arc<Mutex<Option<Result<Arc<Model>, String>>>>, timbre: TimbreRoute, on_done: Box<dyn Fn() + Send>) -> Self {
        let (tx, rx) = mpsc::channel::<PathBuf>();
        let view = Arc::new(Mutex::new(ReferenceView::default()));
        let v = view.clone();
        let thread = std::thread::Builder::new().name("gddsp-reference".into()).spawn(move || run(rx, model, timbre, v, on_done)).ok();
        ReferenceWorker { jobs: Some(tx), view, thread }
    }

    /// Queues a clip for analysis (the newest request wins).
    pub fn analyse(&self, path: PathBuf) {
        {
            let mut v = self.view.lock();
            v.file = path.display().to_string();
            v.status = Status::Analysing;
        }
        if let Some(tx) = &self.jobs {
            let _ = tx.send(path);
        }
    }
}

impl Drop for ReferenceWorker {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The shared model, loaded on first use.
pub fn shared_model(slot: &Mutex<Option<Result<Arc<Model>, String>>>) -> Result<Arc<Model>, String> {
    let mut slot = slot.lock();
    slot.get_or_insert_with(|| load_model().map(Arc::new)).clone()
}

fn run(rx: Receiver<PathBuf>, model: Arc<Mutex<Option<Result<Arc<Model>, String>>>>, timbre: TimbreRoute, view: Arc<Mutex<ReferenceView>>, on_done: Box<dyn Fn() + Send>) {
    while let Ok(mut path) = rx.recv() {
        // Only the newest of queued requests matters.
        while let Ok(newer) = rx.try_recv() {
            path = newer;
        }
        let result = analyse(&path, &model);
        let mut v = view.lock();
        if v.file != path.display().to_string() {
            continue;
        }
        match result {
            Ok(done) => {
                if let (Some(tx), Some(z)) = (timbre.lock().as_ref(), &done.z) {
                    let _ = tx.send(z.clone());
                }
                *v = done;
            }
            Err(e) => v.status = Status::Failed(e),
        }
        drop(v);
        on_done();
    }
}

/// Decodes and analyses one clip; errors are sentences a guitarist can act on.
pub fn analyse(path: &Path, model: &Mutex<Option<Result<Arc<Model>, String>>>) -> Result<ReferenceView, String> {
    let audio = audio_io::load(path).map_err(|e| format!("cannot use this file: {e}"))?;
    let model = shared_model(model)?;
    let analysis = model.analyze(&audio).map_err(|e| e.to_string())?;
    let mono = audio.mix_down();
    Ok(ReferenceView {
        file: path.display().to_string(),
        status: Status::Done,
        inferred: Some(analysis.knobs),
        z: Some(analysis.z),
        seconds: analysis.seconds,
        elapsed_s: analysis.elapsed_s,
        waveform: waveform(&mono, WAVEFORM_COLUMNS),
        spectrogram: spectrogram(&mono, SPECTROGRAM_COLUMNS),
    })
}

fn waveform(x: &[f32], columns: usize) -> Vec<(f32, f32)> {
    if x.is_empty() {
        return Vec::new();
    }
    (0..columns)
        .map(|c| {
            let (a, b) = (c * x.len() / columns, ((c + 1) * x.len() / columns).max(c * x.len() / columns + 1).min(x.len()));
            x[a..b].iter().fold((0f32, 0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)))
        })
        .collect()
}

/// Hann-windowed magnitude columns, bins up to 1/4 of the clip's rate grouped in
/// [`SPECTROGRAM_BINS`] rows, mapped from −72…0 dB re the loudest cell to 0…1.
fn spectrogram(x: &[f32], columns: usize) -> Vec<Vec<f32>> {
    if x.len() < SPECTROGRAM_FFT {
        return Vec::new();
    }
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(SPECTROGRAM_FFT);
    let window: Vec<f32> = (0..SPECTROGRAM_FFT).map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / SPECTROGRAM_FFT as f32).cos()).collect();
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let usable = SPECTROGRAM_FFT / 4;
    let per_row = usable / SPECTROGRAM_BINS;
    let mut cols: Vec<Vec<f32>> = (0..columns)
        .map(|c| {
            let start = c * (x.len() - SPECTROGRAM_FFT) / columns.max(1);
            for ((d, s), w) in input.iter_mut().zip(&x[start..start + SPECTROGRAM_FFT]).zip(&window) {
                *d = s * w;
            }
            let _ = fft.process(&mut input, &mut spectrum);
            (0..SPECTROGRAM_BINS).map(|r| spectrum[r * per_row..(r + 1) * per_row].iter().map(|z| z.norm_sqr()).sum::<f32>()).collect()
        })
        .collect();
    let peak = cols.iter().flatten().fold(1e-12f32, |m, &v| m.max(v));
    for v in cols.iter_mut().flatten() {
        *v = ((10.0 * (*v / peak).max(1e-12).log10() + 72.0) / 72.0).clamp(0.0, 1.0);
    }
    cols
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waveform_and_spectrogram_shapes() {
        let x: Vec<f32> = (0..48_000).map(|i| (i as f32 * 0.05).sin()).collect();
        let w = waveform(&x, 100);
        assert_eq!(w.len(), 100);
        assert!(w.iter().all(|&(lo, hi)| lo < -0.9 && hi > 0.9));
        let s = spectrogram(&x, 50);
        assert_eq!((s.len(), s[0].len()), (50, SPECTROGRAM_BINS));
        // 0.05 rad/sample is bin 8.1 of 1024, row 2 of rows 2 bins wide.
        let loudest = s[10].iter().enumerate().fold((0, 0f32), |b, (i, &v)| if v > b.1 { (i, v) } else { b }).0;
        assert_eq!(loudest, 4, "{:?}", &s[10][..8]);
    }

    #[test]
    fn unreadable_and_missing_files_are_plain_errors() {
        let model = Mutex::new(None);
        let err = analyse(Path::new("/no/such/clip.wav"), &model).unwrap_err();
        assert!(err.contains("cannot use this file"), "{err}");
        let dir = std::env::temp_dir().join(format!("gddsp-plugin-ref-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.wav");
        std::fs::write(&junk, b"RIFF1234WAVEnot audio at all").unwrap();
        let err = analyse(&junk, &model).unwrap_err();
        assert!(err.contains("cannot use this file"), "{err}");
    }
}
