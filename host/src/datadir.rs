//! The data directory, readable by this user only: WASI gives the component no file modes,
//! so the host sets them. [`prepare`] is what every store and the demo server call.

use std::fs::{self, DirBuilder};
use std::io::{self, ErrorKind};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` and its missing parents with mode 0700. An existing `dir` that its group or
/// others may enter is left as the operator set it, with a warning in the log naming its mode.
/// Errors: `dir` cannot be created or examined.
pub fn prepare(dir: &Path) -> io::Result<()> {
    match fs::metadata(dir) {
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    dir = %dir.display(),
                    "the data directory is accessible to other users (mode {mode:o}): session data \
                     and user names are readable; chmod 700 it"
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            DirBuilder::new().recursive(true).mode(0o700).create(dir)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::prepare;

    #[test]
    fn a_missing_directory_and_its_parents_are_created_for_this_user_only() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("a").join("data");
        prepare(&dir).expect("prepare");
        for d in [tmp.path().join("a"), dir] {
            let mode = std::fs::metadata(&d).expect("metadata").permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", d.display());
        }
    }

    #[test]
    fn an_existing_open_directory_keeps_its_mode() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        prepare(tmp.path()).expect("prepare");
        let mode = std::fs::metadata(tmp.path()).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode, 0o755);
    }
}
