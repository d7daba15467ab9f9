//! Finding the component file without flags when run from the repository.

use std::path::{Path, PathBuf};

use libsqlstore_host::LoadError;

/// The component's path inside a cargo target directory.
const IN_TARGET: &str = "wasm32-wasip2/release/libsqlstore.wasm";

/// The component to load, first match wins: `$LIBSQLSTORE_COMPONENT`; `target/` under
/// the current directory; the target directory this binary was built into (the binary
/// sits in `target/<profile>/`, or `target/<profile>/deps/` for tests); the repository
/// this crate was compiled from.
pub fn locate_component() -> Result<PathBuf, LoadError> {
    if let Some(path) = std::env::var_os("LIBSQLSTORE_COMPONENT") {
        return Ok(PathBuf::from(path));
    }
    let mut candidates = vec![Path::new("target").join(IN_TARGET)];
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(exe.ancestors().skip(2).take(2).map(|dir| dir.join(IN_TARGET)));
    }
    candidates
        .push(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target").join(IN_TARGET));
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| LoadError::NotFound(candidates[0].clone()))
}
