//! Shared by the training tests that need a corpus on disk.

use std::path::Path;

use gddsp_train::data::corpus::{generate, CorpusConfig};

/// A 24 s plucked-string corpus (4 s clips, groups of two, seed 3) in `dir`: enough for
/// every split to hold a clip, small enough to train a few steps on in seconds.
pub fn tiny_corpus(dir: &Path) {
    let mut cc = CorpusConfig::new(dir.to_path_buf(), 24.0 / 3600.0, 3);
    cc.pluck = true;
    cc.clip_seconds = 4.0;
    cc.group_size = 2;
    generate(&cc, &mut |_| {}).unwrap();
}
