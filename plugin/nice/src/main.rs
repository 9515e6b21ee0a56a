//! The standalone app (`gddsp-standalone`): the plugin with its own audio and MIDI I/O
//! (JACK, ALSA, or `--backend dummy` without audio hardware). Built by
//! `cargo xtask bundle gddsp --release` (feature `standalone`).

use gddsp_plugin::Gddsp;
use nice_plug::prelude::*;

fn main() {
    nice_export_standalone::<Gddsp>();
}
