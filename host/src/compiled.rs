//! Compiled components kept on disk, so that a host's second start skips Cranelift.
//!
//! Compiling the component takes seconds; loading its compiled form takes milliseconds.
//! [`load`] keeps one artifact per component and engine in a cache directory:
//!
//! * **Key**: `<sha256 of the component's bytes>-<engine compatibility hash>.cwasm`. The
//!   engine's hash covers wasmtime's version and every setting that changes compiled code,
//!   so a rebuilt component or another engine configuration never finds the old artifact.
//! * **File**: the SHA-256 of the artifact (32 bytes), then the artifact wasmtime's
//!   `Engine::precompile_component` made. Written to a temporary name, fsynced, then renamed
//!   over the key, so a reader sees a whole file or none.
//! * **Load**: the checksum must match the bytes (a truncated, corrupted or foreign file
//!   fails here), wasmtime must recognise them as a compiled component, and its own header
//!   check must accept them for this engine. Anything else is logged as a warning and the
//!   component is compiled again and the file replaced: a bad artifact is never run.
//!
//! Loading compiled code runs what the file holds, so the directory must be as trusted as
//! the component itself: it is created with mode 0700, and files in it are read, never
//! executed as given, only after the checks above.

use std::fs::{self, DirBuilder, File};
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Engine, Precompiled};

/// Where a [`load`] got its component from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The artifact in the cache, checked and loaded.
    Cache,
    /// Compiled now (no usable artifact), and stored for the next start.
    Compiled,
}

/// The compiled form of the component `bytes`: from `dir` if it holds a sound artifact for
/// this engine, else compiled and written there. Failing to write the cache is a warning,
/// never an error: the component is still returned.
pub fn load(engine: &Engine, bytes: &[u8], dir: &Path) -> wasmtime::Result<(Component, Origin)> {
    let path = artifact_path(engine, bytes, dir);
    match read_artifact(engine, &path) {
        Ok(Some(component)) => return Ok((component, Origin::Cache)),
        Ok(None) => {}
        Err(why) => {
            tracing::warn!(artifact = %path.display(), "compiled component not used, compiling again: {why}")
        }
    }
    let artifact = engine.precompile_component(bytes)?;
    // SAFETY: `artifact` was made just now by this engine from `bytes`.
    let component = unsafe { Component::deserialize(engine, &artifact)? };
    if let Err(e) = write_artifact(dir, &path, &artifact) {
        tracing::warn!(dir = %dir.display(), "cannot keep the compiled component for the next start: {e}");
    }
    Ok((component, Origin::Compiled))
}

/// `<dir>/<component hash>-<engine hash>.cwasm`.
fn artifact_path(engine: &Engine, bytes: &[u8], dir: &Path) -> PathBuf {
    let mut engine_hash = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut engine_hash);
    let engine_hash = std::hash::Hasher::finish(&engine_hash);
    dir.join(format!("{}-{engine_hash:016x}.cwasm", hex(&Sha256::digest(bytes))))
}

/// The artifact at `path`: `None` if there is none, an error saying why if it is unusable.
fn read_artifact(engine: &Engine, path: &Path) -> Result<Option<Component>, String> {
    let file = match fs::read(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    let (checksum, artifact) = file.split_at_checked(32).ok_or("it is truncated")?;
    if Sha256::digest(artifact).as_slice() != checksum {
        return Err(
            "its checksum does not match: it is damaged or was not written by this host".into()
        );
    }
    if Engine::detect_precompiled(artifact) != Some(Precompiled::Component) {
        return Err("it is not a compiled component".into());
    }
    // SAFETY: the bytes are, by their checksum, those this host wrote from
    // `Engine::precompile_component`; wasmtime checks that they fit this engine's version
    // and configuration before using them.
    unsafe { Component::deserialize(engine, artifact) }
        .map(Some)
        .map_err(|e| format!("wasmtime refused it: {e:#}"))
}

/// Writes `checksum ++ artifact` to `path` through a temporary file and a rename.
fn write_artifact(dir: &Path, path: &Path, artifact: &[u8]) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let staged = path.with_extension(format!("tmp{}", std::process::id()));
    let written = File::create(&staged).and_then(|mut file| {
        file.write_all(&Sha256::digest(artifact))?;
        file.write_all(artifact)?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| fs::rename(&staged, path));
    if renamed.is_err() {
        let _ = fs::remove_file(&staged);
    }
    renamed
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
