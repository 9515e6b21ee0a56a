//! Cross-crate end-to-end tests live in `tests/tests/`; this crate holds only the paths
//! they share.

use std::path::PathBuf;

/// The repository's root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the repository").to_path_buf()
}

/// A shipped example under `models/examples/`.
pub fn example(name: &str) -> PathBuf {
    repo_root().join("models/examples").join(name)
}

pub mod clap_host;
