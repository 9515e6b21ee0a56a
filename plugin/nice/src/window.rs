//! The editor's window: a baseview window that runs the egui editor and paints it with
//! egui_glow, and takes a reference clip dropped on it from a file manager.
//!
//! Our own glue, not nice-plug-egui's `EguiEditor`: that builds on egui-baseview 0.9.0,
//! whose window receives baseview's drag-and-drop events and throws them away (its
//! `on_event` ends in `_ => do_repaint = false` and answers `Ignored`), and whose window
//! type has no public constructor to wrap. So this module is the same loop — baseview
//! events → `egui::RawInput`, `egui::Context::run_ui`, egui_glow paints — with the drag
//! passed on as egui's `hovered_files` and the drop as its `dropped_files`.
//! nice-plug-egui still draws the parameters (`ParamSlider`).

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use copypasta::ClipboardProvider;
use egui_glow::glow::{self, HasContext};
use keyboard_types::{Key, KeyState};
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::{LogicalSize, NativeSize, Size};
use nice_plug::editor::{Editor, EditorHandle, HostMethods, ParentWindowHandle, SpawnedEditor};
use nice_plug_egui::baseview::{self, DropData, DropEffect, EventStatus, HandlerError, MouseCursor, WindowContext, WindowHandler, WindowSize};
use parking_lot::Mutex;

use crate::editor::GddspEditor;

/// The editor's size in logical pixels (fixed: the layout scrolls when a host makes it
/// smaller than it asks for).
pub const EDITOR_SIZE: (f64, f64) = (860.0, 640.0);

/// How often the window checks for a redraw asked from outside the GUI (a parameter moved
/// by the host, an analysis finished).
const POLL: Duration = Duration::from_millis(16);

/// Asks the open editor to redraw; any thread may ask, the window polls it.
#[derive(Clone, Default)]
pub struct Repaint(Arc<AtomicBool>);

impl Repaint {
    pub fn request(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn take(&self) -> bool {
        self.0.swap(false, Ordering::Relaxed)
    }
}

/// Whether the editor is open, and the window system's scale factor it last reported.
#[derive(Default)]
pub struct WindowState {
    open: AtomicBool,
    /// f64 bits; 0 until a window has reported its scale.
    scale_factor: AtomicU64,
}

impl WindowState {
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    fn scale_factor(&self) -> f64 {
        match f64::from_bits(self.scale_factor.load(Ordering::Relaxed)) {
            s if s > 0.0 => s,
            _ => 1.0,
        }
    }

    fn set_scale_factor(&self, scale: f64) {
        self.scale_factor.store(scale.to_bits(), Ordering::Relaxed);
    }
}

/// The plugin's [`Editor`]: opens an [`EditorWindow`] in the host's parent window.
pub struct GddspWindowEditor {
    pub app: Arc<Mutex<GddspEditor>>,
    pub state: Arc<WindowState>,
    pub repaint: Repaint,
}

impl Editor for GddspWindowEditor {
    type Handle = GddspWindowHandle;

    fn spawn(&self, parent: Option<ParentWindowHandle>, wait_for_parent: bool, fallback_scale_factor: Option<f64>, gui: GuiContext, host: Option<HostMethods>) -> Result<SpawnedEditor<Self::Handle>, Box<dyn Error>> {
        let settings = baseview::WindowSettings::new()
            .with_title("GDDSP")
            .with_size(Size::Logical(LogicalSize::new(EDITOR_SIZE.0, EDITOR_SIZE.1)))
            .with_resizable(false)
            .with_parent(parent.as_ref())
            .with_wait_for_parent(wait_for_parent)
            .with_fallback_scale_factor(fallback_scale_factor)
            .with_gl_config(Some(baseview::gl::GlConfig::default()));
        let (app, state, repaint) = (self.app.clone(), self.state.clone(), self.repaint.clone());
        let window = baseview::Window::create_with_host(settings, move |window| EditorWindow::open(window, app, gui, state, repaint), host.map(host_adapter))?;
        self.state.open.store(true, Ordering::Release);
        Ok(SpawnedEditor { handle: GddspWindowHandle { state: self.state.clone(), repaint: self.repaint.clone() }, window })
    }

    fn size(&self) -> NativeSize<u32> {
        NativeSize::from_size(Size::Logical(LogicalSize::new(EDITOR_SIZE.0, EDITOR_SIZE.1)), self.state.scale_factor())
    }

    unsafe fn assume_standalone_in_process(&self) {
        // SAFETY: the same contract as the trait's method.
        unsafe { baseview::assume_standalone_in_process() }
    }
}

/// nice-plug's host callbacks as baseview's (nice-plug-core keeps its own copies of
/// these traits so as not to depend on baseview).
fn host_adapter(host: HostMethods) -> baseview::host::Host {
    struct Callbacks(Box<dyn nice_plug::editor::HostCallbacks>);
    impl baseview::host::HostCallbacks for Callbacks {
        fn request_resize(&mut self, size: WindowSize) -> Result<(), HandlerError> {
            self.0.request_resize(size.physical.into(), size.scale_factor).map_err(HandlerError::from_boxed)
        }

        fn destroyed(&mut self) {
            self.0.destroyed();
        }
    }
    struct MainThread(Box<dyn nice_plug::editor::HostMainThreadCaller>);
    impl baseview::host::HostMainThreadCaller for MainThread {
        fn call_main_thread(&mut self) {
            self.0.call_main_thread();
        }
    }
    baseview::host::Host::new().with_callbacks(Callbacks(host.callbacks)).with_main_thread(MainThread(host.main_thread_caller))
}

/// The host's handle on an open editor.
pub struct GddspWindowHandle {
    state: Arc<WindowState>,
    repaint: Repaint,
}

impl EditorHandle for GddspWindowHandle {
    type Window = baseview::Window;
    type Error = baseview::Error;

    fn run_until_closed(window: Self::Window) -> Result<(), Self::Error> {
        window.run_until_closed()
    }

    fn set_parent(&self, parent: ParentWindowHandle, window: &Self::Window) -> Result<(), Self::Error> {
        window.set_parent(&parent)
    }

    fn show(&self, window: &Self::Window) -> Result<(), Self::Error> {
        let shown = window.show();
        // baseview does not always send `Focused` after `show`: draw the first frame anyway.
        self.repaint.request();
        shown
    }

    fn hide(&self, window: &Self::Window) -> Result<(), Self::Error> {
        window.hide()
    }

    fn host_main_thread_callback(&self, window: &Self::Window) {
        window.host_main_thread_callback();
    }

    fn set_size(&self, size: NativeSize<u32>, window: &Self::Window) -> Result<(), Self::Error> {
        window.resize(size)
    }

    fn set_fallback_scale_factor(&self, scale_factor: f64, window: &Self::Window) -> Result<(), Self::Error> {
        window.suggest_fallback_scale_factor(scale_factor)
    }

    fn state_changed(&self) {
        self.repaint.request();
    }

    fn param_value_changed(&self, _id: &str, _normalized_value: f32) {
        self.repaint.request();
    }

    fn param_modulation_changed(&self, _id: &str, _modulation_offset: f32) {
        self.repaint.request();
    }
}

impl Drop for GddspWindowHandle {
    fn drop(&mut self) {
        self.state.open.store(false, Ordering::Release);
    }
}

/// One open editor window; baseview calls it on the window's thread (hence `&self` and
/// cells).
struct EditorWindow {
    window: WindowContext,
    egui: egui::Context,
    gl: Arc<glow::Context>,
    painter: RefCell<egui_glow::Painter>,
    input: RefCell<egui::RawInput>,
    app: Arc<Mutex<GddspEditor>>,
    state: Arc<WindowState>,
    repaint: Repaint,
    /// None where the window system has no clipboard to offer (copying then does nothing).
    clipboard: RefCell<Option<copypasta::ClipboardContext>>,
    pointer: Cell<Option<egui::Pos2>>,
    modifiers: Cell<egui::Modifiers>,
    cursor: Cell<MouseCursor>,
    poll: baseview::TimerHandle,
    started: Instant,
}

impl EditorWindow {
    fn open(window: WindowContext, app: Arc<Mutex<GddspEditor>>, gui: GuiContext, state: Arc<WindowState>, repaint: Repaint) -> Result<EditorWindow, HandlerError> {
        let context = window.gl_context().ok_or_else(|| HandlerError::from_boxed("the editor's window has no OpenGL context".into()))?;
        // SAFETY: the context belongs to this window and is used on its thread only.
        unsafe { context.make_current()? };
        // SAFETY: the loader resolves symbols from the context made current above.
        let gl = Arc::new(unsafe { glow::Context::from_loader_function_cstr(|s| context.get_proc_address(s)) });
        let painter = egui_glow::Painter::new(gl.clone(), "", None, true).map_err(|e| HandlerError::from_boxed(format!("OpenGL painter: {e}").into()))?;
        // SAFETY: as above.
        unsafe { context.make_not_current()? };

        let egui = egui::Context::default();
        let waker = window.waker();
        egui.set_request_repaint_callback(move |info| waker.request_redraw_after(info.delay));
        let size = window.size();
        state.set_scale_factor(size.scale_factor);
        let mut input = egui::RawInput { max_texture_side: Some(painter.max_texture_side()), screen_rect: Some(screen_rect(size)), ..Default::default() };
        input.viewports.insert(
            egui::ViewportId::ROOT,
            egui::ViewportInfo { title: Some("GDDSP".into()), native_pixels_per_point: Some(size.scale_factor as f32), focused: Some(true), inner_rect: Some(screen_rect(size)), ..Default::default() },
        );
        app.lock().opened(gui);
        let poll = window.create_timer(POLL)?;
        Ok(EditorWindow {
            window,
            egui,
            gl,
            painter: RefCell::new(painter),
            input: RefCell::new(input),
            app,
            state,
            repaint,
            clipboard: RefCell::new(copypasta::ClipboardContext::new().ok()),
            pointer: Cell::new(None),
            modifiers: Cell::new(egui::Modifiers::default()),
            cursor: Cell::new(MouseCursor::Default),
            poll,
            started: Instant::now(),
        })
    }

    /// Physical pixels → egui's points.
    fn to_points(&self, x: f64, y: f64) -> egui::Pos2 {
        let scale = self.window.scale_factor();
        egui::pos2((x / scale) as f32, (y / scale) as f32)
    }

    fn set_modifiers(&self, m: &keyboard_types::Modifiers, input: &mut egui::RawInput) {
        let command = if cfg!(target_os = "macos") { m.meta() } else { m.ctrl() };
        let new = egui::Modifiers { alt: m.alt(), ctrl: m.ctrl(), shift: m.shift(), mac_cmd: cfg!(target_os = "macos") && m.meta(), command };
        if new != self.modifiers.get() {
            self.modifiers.set(new);
            input.events.push(egui::Event::ModifiersChanged(new));
        }
    }

    fn mouse(&self, event: &baseview::MouseEvent, input: &mut egui::RawInput) -> EventStatus {
        use baseview::MouseEvent as M;
        match event {
            M::CursorMoved { position, modifiers } => {
                self.set_modifiers(modifiers, input);
                let pos = self.to_points(position.x, position.y);
                self.pointer.set(Some(pos));
                input.events.push(egui::Event::PointerMoved(pos));
            }
            M::ButtonPressed { button, modifiers } | M::ButtonReleased { button, modifiers } => {
                self.set_modifiers(modifiers, input);
                let button = match button {
                    baseview::MouseButton::Left => egui::PointerButton::Primary,
                    baseview::MouseButton::Right => egui::PointerButton::Secondary,
                    baseview::MouseButton::Middle => egui::PointerButton::Middle,
                    _ => return EventStatus::Ignored,
                };
                if let Some(pos) = self.pointer.get() {
                    let pressed = matches!(event, M::ButtonPressed { .. });
                    input.events.push(egui::Event::PointerButton { pos, button, pressed, modifiers: self.modifiers.get() });
                }
            }
            M::WheelScrolled { delta, modifiers } => {
                self.set_modifiers(modifiers, input);
                let (unit, delta) = match *delta {
                    baseview::ScrollDelta::Lines { x, y } => (egui::MouseWheelUnit::Line, egui::vec2(x, y)),
                    baseview::ScrollDelta::Pixels { x, y } => (egui::MouseWheelUnit::Point, egui::vec2(x, y) / self.window.scale_factor() as f32),
                };
                input.events.push(egui::Event::MouseWheel { unit, delta, modifiers: self.modifiers.get(), phase: egui::TouchPhase::Move, source: egui::MouseWheelSource::Unknown });
            }
            M::CursorLeft => {
                self.pointer.set(None);
                input.events.push(egui::Event::PointerGone);
            }
            M::DragEntered { position, data, .. } | M::DragMoved { position, data, .. } => {
                let pos = self.to_points(position.x, position.y);
                self.pointer.set(Some(pos));
                input.events.push(egui::Event::PointerMoved(pos));
                input.hovered_files = files(data).into_iter().map(|path| egui::HoveredFile { path: Some(path), ..Default::default() }).collect();
                return drop_status(data);
            }
            M::DragLeft => input.hovered_files.clear(),
            M::DragDropped { data, .. } => {
                input.hovered_files.clear();
                input.dropped_files.extend(files(data).into_iter().map(|path| Arc::new(DroppedPath(path)) as egui::DroppedFileHandle));
                return drop_status(data);
            }
            _ => return EventStatus::Ignored,
        }
        if self.egui.egui_is_using_pointer() || self.egui.egui_wants_pointer_input() {
            EventStatus::Captured
        } else {
            EventStatus::Ignored
        }
    }

    fn keyboard(&self, event: &keyboard_types::KeyboardEvent, input: &mut egui::RawInput) -> EventStatus {
        self.set_modifiers(&event.modifiers, input);
        let pressed = event.state == KeyState::Down;
        let modifiers = self.modifiers.get();
        if let Some(key) = egui_key(&event.key) {
            input.events.push(egui::Event::Key { key, physical_key: None, pressed, repeat: event.repeat, modifiers });
        }
        if pressed {
            match (&event.key, modifiers.command) {
                (Key::Character(c), true) if c.eq_ignore_ascii_case("c") => input.events.push(egui::Event::Copy),
                (Key::Character(c), true) if c.eq_ignore_ascii_case("x") => input.events.push(egui::Event::Cut),
                (Key::Character(c), true) if c.eq_ignore_ascii_case("v") => {
                    if let Some(text) = self.clipboard.borrow_mut().as_mut().and_then(|c| c.get_contents().ok()) {
                        input.events.push(egui::Event::Paste(text));
                    }
                }
                (Key::Character(c), false) if !modifiers.ctrl => input.events.push(egui::Event::Text(c.clone())),
                _ => {}
            }
        }
        // Keys the editor does not want (no text field has focus) go back to the host, so
        // its shortcuts (the space bar's play/stop) still work with the editor in front.
        if self.egui.egui_wants_keyboard_input() {
            EventStatus::Captured
        } else {
            EventStatus::Ignored
        }
    }

    fn paint(&self, output: &mut egui::FullOutput) -> Result<(), HandlerError> {
        let context = self.window.gl_context().ok_or_else(|| HandlerError::from_boxed("the editor's OpenGL context is gone".into()))?;
        let size = self.window.size();
        let mut painter = self.painter.borrow_mut();
        // SAFETY: this window's context, on its thread; released before returning.
        unsafe {
            context.make_current()?;
            self.gl.clear_color(0.0, 0.0, 0.0, 1.0);
            self.gl.clear(glow::COLOR_BUFFER_BIT);
        }
        for (id, deltas) in output.textures_delta.set.drain() {
            for delta in deltas {
                painter.set_texture(id, &delta);
            }
        }
        let primitives = self.egui.tessellate(std::mem::take(&mut output.shapes), output.pixels_per_point);
        painter.paint_primitives([size.physical.width, size.physical.height], output.pixels_per_point, &primitives);
        for id in output.textures_delta.free.drain() {
            painter.free_texture(id);
        }
        // SAFETY: as above.
        unsafe {
            context.swap_buffers()?;
            context.make_not_current()?;
        }
        Ok(())
    }
}

/// A key as egui names it: both name keys alike ("Enter", "ArrowLeft", "a", " ").
fn egui_key(key: &Key) -> Option<egui::Key> {
    match key {
        Key::Character(c) => egui::Key::from_name(c),
        Key::Named(named) => egui::Key::from_name(&named.to_string()),
    }
}

fn screen_rect(size: WindowSize) -> egui::Rect {
    let logical: LogicalSize<f32> = size.physical.to_logical(size.scale_factor);
    egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(logical.width, logical.height))
}

fn files(data: &DropData) -> Vec<PathBuf> {
    match data {
        DropData::Files(files) => files.clone(),
        _ => Vec::new(),
    }
}

/// A file dropped from the window system, as egui hands it to the editor.
#[derive(Debug)]
struct DroppedPath(PathBuf);

impl egui::DroppedFile for DroppedPath {
    fn path(&self) -> &std::path::Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| format!("{}: {e}", self.0.display()))
    }
}

fn drop_status(data: &DropData) -> EventStatus {
    match data {
        DropData::Files(files) if !files.is_empty() => EventStatus::AcceptDrop(DropEffect::Copy),
        _ => EventStatus::Ignored,
    }
}

fn cursor(icon: egui::CursorIcon) -> MouseCursor {
    use egui::CursorIcon as C;
    match icon {
        C::PointingHand => MouseCursor::Hand,
        C::Text => MouseCursor::Text,
        C::Grab => MouseCursor::Hand,
        C::Grabbing => MouseCursor::HandGrabbing,
        C::ResizeHorizontal | C::ResizeColumn => MouseCursor::EwResize,
        C::ResizeVertical | C::ResizeRow => MouseCursor::NsResize,
        C::NotAllowed | C::NoDrop => MouseCursor::NotAllowed,
        C::Copy => MouseCursor::Copy,
        C::Wait | C::Progress => MouseCursor::Working,
        C::None => MouseCursor::Hidden,
        _ => MouseCursor::Default,
    }
}

impl WindowHandler for EditorWindow {
    fn draw(&self) -> Result<(), HandlerError> {
        let size = self.window.size();
        let mut input = self.input.borrow_mut().take();
        input.time = Some(self.started.elapsed().as_secs_f64());
        input.screen_rect = Some(screen_rect(size));
        let mut output = self.egui.run_ui(input, |ui| self.app.lock().ui(ui));
        self.paint(&mut output)?;
        for command in output.platform_output.commands.drain(..) {
            if let egui::OutputCommand::CopyText(text) = command {
                if let Some(clipboard) = self.clipboard.borrow_mut().as_mut() {
                    // A clipboard that refuses leaves the editor's own message as the feedback.
                    let _ = clipboard.set_contents(text);
                }
            }
        }
        let icon = cursor(output.platform_output.cursor_icon);
        if icon != self.cursor.get() {
            self.cursor.set(icon);
            self.window.set_mouse_cursor(icon)?;
        }
        Ok(())
    }

    fn resized(&self, size: WindowSize) -> Result<(), HandlerError> {
        self.state.set_scale_factor(size.scale_factor);
        let mut input = self.input.borrow_mut();
        input.screen_rect = Some(screen_rect(size));
        if let Some(viewport) = input.viewports.get_mut(&egui::ViewportId::ROOT) {
            viewport.native_pixels_per_point = Some(size.scale_factor as f32);
            viewport.inner_rect = Some(screen_rect(size));
        }
        Ok(())
    }

    fn on_event(&self, event: baseview::Event) -> EventStatus {
        // An embedded window does not always take the keyboard focus on a click.
        if matches!(event, baseview::Event::Mouse(baseview::MouseEvent::ButtonPressed { .. })) && !self.window.has_focus() {
            let _ = self.window.focus();
        }
        let mut input = self.input.borrow_mut();
        let status = match &event {
            baseview::Event::Mouse(mouse) => self.mouse(mouse, &mut input),
            baseview::Event::Keyboard(key) => self.keyboard(key, &mut input),
            baseview::Event::Window(baseview::WindowEvent::Focused) => {
                input.events.push(egui::Event::WindowFocused(true));
                EventStatus::Captured
            }
            baseview::Event::Window(baseview::WindowEvent::Unfocused) => {
                input.events.push(egui::Event::WindowFocused(false));
                EventStatus::Captured
            }
            _ => return EventStatus::Ignored,
        };
        self.window.request_redraw();
        status
    }

    fn on_timer(&self, timer: &baseview::TimerHandle) {
        if *timer == self.poll && self.repaint.take() {
            self.window.request_redraw();
        }
    }
}

impl Drop for EditorWindow {
    fn drop(&mut self) {
        self.app.lock().closed();
        if let Some(context) = self.window.gl_context() {
            // SAFETY: this window's context, on its thread, while it still exists.
            if unsafe { context.make_current() }.is_ok() {
                self.painter.get_mut().destroy();
                // SAFETY: as above.
                let _ = unsafe { context.make_not_current() };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyboard_types::NamedKey;

    #[test]
    fn keys_reach_egui_under_their_own_names() {
        let named = [(NamedKey::Enter, egui::Key::Enter), (NamedKey::Backspace, egui::Key::Backspace), (NamedKey::ArrowLeft, egui::Key::ArrowLeft), (NamedKey::Delete, egui::Key::Delete), (NamedKey::Tab, egui::Key::Tab), (NamedKey::Escape, egui::Key::Escape), (NamedKey::Home, egui::Key::Home)];
        for (key, expected) in named {
            assert_eq!(egui_key(&Key::Named(key)), Some(expected), "{key}");
        }
        for (c, expected) in [("a", egui::Key::A), ("V", egui::Key::V), (" ", egui::Key::Space), ("/", egui::Key::Slash), ("7", egui::Key::Num7)] {
            assert_eq!(egui_key(&Key::Character(c.into())), Some(expected), "{c:?}");
        }
        assert_eq!(egui_key(&Key::Named(NamedKey::SymbolLock)), None, "a key egui does not have");
    }
}
