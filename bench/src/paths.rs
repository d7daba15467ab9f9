//! Where the benchmark finds the repository's files (scripts, tools).

use std::path::{Path, PathBuf};

/// The repository: this package's parent directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}
