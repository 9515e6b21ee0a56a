//! The egui editor: the reference (drop a clip on it, browse to one or type its path), its
//! waveform and spectrogram, the inferred knobs next to the current ones with *Apply*
//! (one begin / set / end gesture, so the host records and can undo it) and *Copy as
//! pedalboard settings*, then the mode, input and tone-clone controls.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Color32, RichText, Sense, Vec2};
use nice_plug::context::gui::GuiContext;
use nice_plug::prelude::*;
use nice_plug_egui::widgets::ParamSlider;
use parking_lot::{Condvar, Mutex};

use gddsp_core::inference::Model;
use gddsp_core::knobs::{Knob, Knobs, KNOBS};

use crate::params::{knobs_to_map, GddspParams, SavedReference, SourceParam};
use crate::reference::{shared_model, ReferenceView, ReferenceWorker, Status};
use crate::window::{GddspWindowEditor, Repaint};

const ERROR: Color32 = Color32::from_rgb(235, 110, 100);
const ACCENT: Color32 = Color32::from_rgb(110, 200, 170);

pub struct GddspEditor {
    params: Arc<GddspParams>,
    reference: Arc<ReferenceWorker>,
    model: Arc<Mutex<Option<Result<Arc<Model>, String>>>>,
    gui: Option<GuiContext>,
    path: String,
    /// Last analysis saved into the session, so a new one is saved once.
    saved_file: Option<(String, usize)>,
    message: Option<String>,
    /// The in-editor file browser, when open.
    browser: Option<Browser>,
    windows: Arc<WindowThreads>,
}

/// The editor's window threads still running, so the plugin can outlive them.
///
/// baseview 0.4.2 (X11) runs each editor window on its own thread and does not join it when
/// the host destroys the editor: its handle's `Drop` stops the thread's loop, then asks the
/// stopping thread to `Show`, the request fails and the `join` after it is skipped. So
/// `gui.destroy` returns while the thread still tears down its GL context and unloads
/// libEGL; a host that then unloads the plugin or exits crashed (SIGSEGV in `exit`, about
/// one run in ten of the editor screenshot test). Each window thread registers here when
/// its editor is built and leaves when the thread exits (a thread-local guard, dropped after
/// the window's own teardown); the plugin's `Drop` waits, bounded, until none is left.
#[derive(Default)]
pub struct WindowThreads {
    live: Mutex<usize>,
    exited: Condvar,
}

struct WindowThreadGuard(Arc<WindowThreads>);

impl Drop for WindowThreadGuard {
    fn drop(&mut self) {
        *self.0.live.lock() -= 1;
        self.0.exited.notify_all();
    }
}

impl WindowThreads {
    /// Counts the calling thread (once) until it exits. Only for baseview's X11 window
    /// threads: elsewhere baseview runs windows on the host's main thread, which does not
    /// exit while the plugin lives.
    fn register_this_thread(self: &Arc<Self>) {
        thread_local! {
            static GUARD: RefCell<Option<WindowThreadGuard>> = const { RefCell::new(None) };
        }
        if !cfg!(target_os = "linux") {
            return;
        }
        GUARD.with(|guard| {
            let mut guard = guard.borrow_mut();
            if guard.is_none() {
                *self.live.lock() += 1;
                *guard = Some(WindowThreadGuard(self.clone()));
            }
        });
    }

    /// Waits until every registered window thread has exited, or `timeout` passed; returns
    /// whether none is left.
    pub fn wait_until_exited(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut live = self.live.lock();
        while *live > 0 {
            if self.exited.wait_until(&mut live, deadline).timed_out() {
                break;
            }
        }
        *live == 0
    }
}

/// Audio files the reference worker decodes (symphonia's formats as built here).
const AUDIO_EXTENSIONS: [&str; 6] = ["wav", "flac", "mp3", "ogg", "oga", "wave"];

/// A folder's listing: subfolders, then audio files, each sorted; hidden entries left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    pub folders: Vec<String>,
    pub files: Vec<String>,
}

pub fn list_folder(dir: &Path) -> std::io::Result<Listing> {
    let mut folders = Vec::new();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        // `metadata` follows symlinks, so a linked folder lists as a folder.
        let Ok(meta) = std::fs::metadata(entry.path()) else { continue };
        if meta.is_dir() {
            folders.push(name);
        } else if Path::new(&name).extension().and_then(|e| e.to_str()).is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())) {
            files.push(name);
        }
    }
    folders.sort_by_key(|n| n.to_lowercase());
    files.sort_by_key(|n| n.to_lowercase());
    Ok(Listing { folders, files })
}

/// A file browser drawn in egui, next to dropping a clip on the editor: the plugin opens no
/// native dialog (one would pull GTK or a desktop portal into a plugin).
struct Browser {
    dir: PathBuf,
    listing: Result<Listing, String>,
}

impl Browser {
    fn at(dir: PathBuf) -> Browser {
        let listing = list_folder(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()));
        Browser { dir, listing }
    }

    /// Where browsing starts: the folder of the typed path, else the home folder.
    fn start(typed: &str) -> Browser {
        let typed = Path::new(typed.trim());
        let from_typed = if typed.is_dir() { Some(typed.to_path_buf()) } else { typed.parent().filter(|p| p.is_dir()).map(Path::to_path_buf) };
        let dir = from_typed.filter(|p| !p.as_os_str().is_empty()).or_else(|| std::env::var_os("HOME").map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("/"));
        Browser::at(dir)
    }

    /// Draws the browser; returns the file picked, if one was.
    fn show(&mut self, ui: &mut egui::Ui) -> Option<PathBuf> {
        let mut go_to = None;
        let mut picked = None;
        ui.horizontal(|ui| {
            if ui.button("Up").clicked() {
                go_to = self.dir.parent().map(Path::to_path_buf);
            }
            ui.label(self.dir.display().to_string());
        });
        egui::ScrollArea::vertical().id_salt("browser").max_height(180.0).show(ui, |ui| match &self.listing {
            Err(e) => {
                ui.label(RichText::new(e).color(ERROR));
            }
            Ok(l) if l.folders.is_empty() && l.files.is_empty() => {
                ui.label("no folders or audio files here");
            }
            Ok(l) => {
                for f in &l.folders {
                    if ui.selectable_label(false, format!("{f}/")).clicked() {
                        go_to = Some(self.dir.join(f));
                    }
                }
                for f in &l.files {
                    if ui.selectable_label(false, f.as_str()).clicked() {
                        picked = Some(self.dir.join(f));
                    }
                }
            }
        });
        if let Some(dir) = go_to {
            *self = Browser::at(dir);
        }
        picked
    }
}

pub fn create(params: Arc<GddspParams>, reference: Arc<ReferenceWorker>, model: Arc<Mutex<Option<Result<Arc<Model>, String>>>>, repaint: Repaint, windows: Arc<WindowThreads>) -> Option<GddspWindowEditor> {
    let state = params.editor_state.clone();
    let app = GddspEditor { params, reference, model, gui: None, path: String::new(), saved_file: None, message: None, browser: None, windows };
    Some(GddspWindowEditor { app: Arc::new(Mutex::new(app)), state, repaint })
}

/// The knobs as a guitarist would set them on real pedals, and as JSON for tools.
pub fn pedalboard_text(knobs: &Knobs) -> String {
    let mut lines = vec!["GDDSP pedalboard settings".to_string()];
    for (spec, v) in KNOBS.iter().zip(knobs.values()) {
        lines.push(format!("  {:<22} {:>9} {}", spec.name, format_value(*v), spec.unit));
    }
    let json = knobs.to_json().to_string();
    lines.push(String::new());
    lines.push(json);
    lines.join("\n")
}

fn format_value(v: f32) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Sets every knob to `knobs` as one gesture: begin all, set all, end all.
pub fn apply_knobs(setter: &ParamSetter, params: &GddspParams, knobs: &Knobs) {
    for k in Knob::ALL {
        setter.begin_set_parameter(params.knob(k));
    }
    for k in Knob::ALL {
        setter.set_parameter(params.knob(k), knobs.get(k));
    }
    for k in Knob::ALL {
        setter.end_set_parameter(params.knob(k));
    }
}

impl GddspEditor {
    /// Called on the window's thread as the window opens.
    pub(crate) fn opened(&mut self, gui: GuiContext) {
        self.gui = Some(gui);
        self.windows.register_this_thread();
    }

    pub(crate) fn closed(&mut self) {
        self.gui = None;
    }

    pub(crate) fn ui(&mut self, ui: &mut egui::Ui) {
        let Some(gui) = self.gui.clone() else { return };
        let setter = gui.param_setter();
        // A clip dropped on the editor from a file manager (see `crate::window`).
        let dropped: Vec<PathBuf> = ui.ctx().input(|i| i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).filter(|p| !p.as_os_str().is_empty()).collect());
        if let Some(p) = dropped.into_iter().next() {
            self.path = p.display().to_string();
            self.reference.analyse(p);
        }
        let view = self.reference.view.lock().clone();
        self.remember(&view);
        if view.status == Status::Analysing {
            ui.ctx().request_repaint_after(std::time::Duration::from_millis(100));
        }

        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.heading("GDDSP — guitar tone clone");
            self.reference_row(ui, &view);
            draw_waveform(ui, &view);
            draw_spectrogram(ui, &view);
            ui.separator();
            self.knob_table(ui, &setter, &view);
            ui.separator();
            self.play_controls(ui, &setter);
        });
        drop_hint(ui);
    }

    /// Saves a finished analysis with the session (the audio thread never reads it).
    fn remember(&mut self, view: &ReferenceView) {
        let (Status::Done, Some(z), Some(k)) = (&view.status, &view.z, &view.inferred) else { return };
        let key = (view.file.clone(), z.len());
        if self.saved_file.as_ref() == Some(&key) {
            return;
        }
        *self.params.reference.lock() = Some(SavedReference { file: view.file.clone(), z: z.clone(), knobs: knobs_to_map(k) });
        self.saved_file = Some(key);
    }

    fn reference_row(&mut self, ui: &mut egui::Ui, view: &ReferenceView) {
        ui.horizontal(|ui| {
            ui.label("Reference clip:");
            // The button comes first: a text field's hit area reaches past its frame.
            if ui.selectable_label(self.browser.is_some(), "Browse…").clicked() {
                self.browser = match self.browser {
                    Some(_) => None,
                    None => Some(Browser::start(&self.path)),
                };
            }
            let open = ui.button("Open").clicked();
            let field = ui.add(egui::TextEdit::singleline(&mut self.path).hint_text("or type a clip's path and press Enter").desired_width(380.0));
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (open || entered) && !self.path.trim().is_empty() {
                self.browser = None;
                self.reference.analyse(PathBuf::from(self.path.trim()));
                ui.ctx().request_repaint();
            }
        });
        if let Some(picked) = self.browser.as_mut().and_then(|b| b.show(ui)) {
            self.path = picked.display().to_string();
            self.browser = None;
            self.reference.analyse(picked);
            ui.ctx().request_repaint();
        }
        match &view.status {
            Status::Idle => {
                let saved = self.params.reference.lock().as_ref().map(|r| r.file.clone());
                match saved {
                    Some(f) => ui.label(format!("Tone from the saved reference {f}. Open a clip to analyse another.")),
                    None => ui.label("Drop a wet guitar clip here (WAV, FLAC, MP3, OGG; any rate), Browse… to one, or type its path."),
                };
            }
            Status::Analysing => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!("Analysing {} …", view.file));
                });
            }
            Status::Done => {
                ui.label(RichText::new(format!("{}: {:.1} s analysed in {:.2} s", view.file, view.seconds, view.elapsed_s)).color(ACCENT));
            }
            Status::Failed(e) => {
                ui.label(RichText::new(e).color(ERROR));
            }
        }
        if let Some(Err(e)) = self.model.lock().as_ref() {
            ui.label(RichText::new(format!("{e} — FX clone still works; tone clone and analysis need the model.")).color(ERROR));
        }
    }

    fn knob_table(&mut self, ui: &mut egui::Ui, setter: &ParamSetter, view: &ReferenceView) {
        let inferred = view.inferred.or_else(|| self.params.reference.lock().as_ref().map(|r| crate::params::knobs_from_map(&r.knobs)));
        egui::Grid::new("knobs").num_columns(3).striped(true).show(ui, |ui| {
            ui.label(RichText::new("Knob").strong());
            ui.label(RichText::new("Current").strong());
            ui.label(RichText::new("Inferred from the reference").strong());
            ui.end_row();
            for k in Knob::ALL {
                let spec = k.spec();
                ui.label(spec.name);
                ui.add(ParamSlider::for_param(self.params.knob(k), setter).with_width(220.0));
                match inferred {
                    Some(inf) => ui.label(format!("{} {}", format_value(inf.get(k)), spec.unit)),
                    None => ui.label("—"),
                };
                ui.end_row();
            }
        });
        ui.horizontal(|ui| {
            let apply = ui.add_enabled(inferred.is_some(), egui::Button::new("Apply inferred knobs"));
            if let (true, Some(inf)) = (apply.clicked(), inferred) {
                apply_knobs(setter, &self.params, &inf);
                self.message = Some("Applied (one undo step in your DAW).".into());
            }
            if ui.button("Copy as pedalboard settings").clicked() {
                let knobs = inferred.unwrap_or_else(|| self.params.current_knobs());
                ui.ctx().copy_text(pedalboard_text(&knobs));
                self.message = Some(format!("Copied the {} knobs to the clipboard.", if inferred.is_some() { "inferred" } else { "current" }));
            }
            if let Some(m) = &self.message {
                ui.label(m);
            }
        });
    }

    fn play_controls(&mut self, ui: &mut egui::Ui, setter: &ParamSetter) {
        let p = &self.params;
        egui::Grid::new("play").num_columns(2).show(ui, |ui| {
            let row = |ui: &mut egui::Ui, name: &str, add: &mut dyn FnMut(&mut egui::Ui)| {
                ui.label(name);
                add(ui);
                ui.end_row();
            };
            row(ui, "Mode", &mut |ui| {
                ui.add(ParamSlider::for_param(&p.mode, setter));
            });
            row(ui, "Input", &mut |ui| {
                ui.add(ParamSlider::for_param(&p.input, setter));
            });
            if p.input.value() == SourceParam::Hex && !p.hex_port.load(Ordering::Relaxed) {
                ui.label("");
                ui.label(RichText::new("No hex pickup input: choose the \"Stereo + hex pickup\" port layout in your host (CLAP; standalone: --audio-layout 2). Playing the main input meanwhile.").color(ERROR));
                ui.end_row();
            }
            row(ui, "Dry/wet", &mut |ui| {
                ui.add(ParamSlider::for_param(&p.dry_wet, setter));
            });
            row(ui, "Output gain", &mut |ui| {
                ui.add(ParamSlider::for_param(&p.output_gain_db, setter));
            });
        });
        ui.collapsing("Tone clone", |ui| {
            if shared_model(&self.model).is_err() {
                ui.label(RichText::new("Tone clone needs the model (see above).").color(ERROR));
            }
            egui::Grid::new("tone").num_columns(2).show(ui, |ui| {
                let sliders: [(&str, &FloatParam); 6] = [
                    ("Pitch shift", &p.pitch_shift_st),
                    ("Loudness shift", &p.loudness_shift_db),
                    ("Confidence gate", &p.confidence_gate),
                    ("Autotune", &p.autotune),
                    ("Harmonics gain", &p.harmonics_gain_db),
                    ("Noise gain", &p.noise_gain_db),
                ];
                for (name, param) in sliders {
                    ui.label(name);
                    ui.add(ParamSlider::for_param(param, setter));
                    ui.end_row();
                }
                ui.label("Auto adjust");
                ui.add(ParamSlider::for_param(&p.auto_adjust, setter));
                ui.end_row();
            });
        });
    }
}

/// While a file is dragged over the editor: a frame round it and what a drop will do.
fn drop_hint(ui: &mut egui::Ui) {
    let hovered: Option<PathBuf> = ui.ctx().input(|i| i.raw.hovered_files.first().and_then(|f| f.path.clone()));
    let Some(path) = hovered else { return };
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let rect = ui.ctx().content_rect().shrink(4.0);
    let painter = ui.ctx().layer_painter(egui::LayerId::new(egui::Order::Foreground, egui::Id::unique("drop hint")));
    painter.rect(rect, 6.0, Color32::from_black_alpha(170), egui::Stroke::new(3.0, ACCENT), egui::StrokeKind::Inside);
    painter.text(rect.center(), egui::Align2::CENTER_CENTER, format!("Drop to analyse {name}"), egui::FontId::proportional(22.0), Color32::WHITE);
}

fn draw_waveform(ui: &mut egui::Ui, view: &ReferenceView) {
    if view.waveform.is_empty() {
        return;
    }
    let (rect, _) = ui.allocate_exact_size(Vec2::new(ui.available_width().min(800.0), 70.0), Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, Color32::from_gray(25));
    let n = view.waveform.len() as f32;
    for (i, &(lo, hi)) in view.waveform.iter().enumerate() {
        let x = rect.left() + rect.width() * i as f32 / n;
        let y = |v: f32| rect.center().y - v.clamp(-1.0, 1.0) * rect.height() / 2.0;
        painter.line_segment([egui::pos2(x, y(hi)), egui::pos2(x, y(lo))], egui::Stroke::new(1.0, ACCENT));
    }
}

fn draw_spectrogram(ui: &mut egui::Ui, view: &ReferenceView) {
    let Some(rows) = view.spectrogram.first().map(Vec::len) else { return };
    let (rect, _) = ui.allocate_exact_size(Vec2::new(ui.available_width().min(800.0), 110.0), Sense::hover());
    let painter = ui.painter_at(rect);
    let (cw, rh) = (rect.width() / view.spectrogram.len() as f32, rect.height() / rows as f32);
    for (c, col) in view.spectrogram.iter().enumerate() {
        for (r, &v) in col.iter().enumerate() {
            let shade = (v * 255.0) as u8;
            let cell = egui::Rect::from_min_size(egui::pos2(rect.left() + c as f32 * cw, rect.bottom() - (r + 1) as f32 * rh), Vec2::new(cw + 0.5, rh + 0.5));
            painter.rect_filled(cell, 0.0, Color32::from_rgb(shade / 3, shade, (shade as f32 * 0.8) as u8));
        }
    }
}

#[cfg(test)]
mod browser_tests {
    use super::*;

    #[test]
    fn a_folder_lists_subfolders_then_audio_files_and_nothing_else() {
        let dir = std::env::temp_dir().join(format!("gddsp-browser-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("Solos")).unwrap();
        std::fs::create_dir_all(dir.join(".cache")).unwrap();
        for f in ["b.WAV", "a.flac", "notes.txt", ".hidden.wav", "riff.mp3", "cover.png"] {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        let l = list_folder(&dir).unwrap();
        assert_eq!(l.folders, vec!["Solos"]);
        assert_eq!(l.files, vec!["a.flac", "b.WAV", "riff.mp3"]);
        assert!(list_folder(&dir.join("missing")).is_err(), "a missing folder is an error, not an empty list");
        let b = Browser::start(&dir.join("a.flac").display().to_string());
        assert_eq!(b.dir, dir, "browsing starts in the typed file's folder");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pedalboard_text_lists_every_knob_with_units_and_parses_back() {
        let knobs = Knobs::default().with(Knob::DelayTimeMs, 350.0).with(Knob::DistortionDriveDb, 18.5);
        let text = pedalboard_text(&knobs);
        assert!(text.contains("delay.time_ms") && text.contains("350 ms"), "{text}");
        assert!(text.contains("18.50 dB"), "{text}");
        let json = text.lines().last().unwrap();
        let back = Knobs::from_json(json).expect("the JSON line is a knob setting");
        assert_eq!(back, knobs);
    }
}
