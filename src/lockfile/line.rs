//! The lock line and the names of the files beside a database, as hosts import them.
//! See [docs/durability.md](../../docs/durability.md#the-lock-files).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The suffix of the lock file: `<db>-lock`.
pub const LOCK_SUFFIX: &str = "-lock";

/// The suffix of the last released lock: `<db>-lock-last`.
pub const LAST_SUFFIX: &str = "-lock-last";

/// The suffix of the hosts' OS lock for removing an abandoned lock: `<db>-lock-break`.
pub const BREAK_SUFFIX: &str = "-lock-break";

/// What starts the suffix of a waiter's place in the queue: `<db>-wait.<arrival>.<id>`.
pub const WAIT_SUFFIX: &str = "-wait.";

/// What starts a `SESSIONS_LOCK_OWNER` tag that names an owner file: `flock:<file name>`.
pub const OWNER_TAG_PREFIX: &str = "flock:";

/// The owner file's name for `id` beside the database named `db_name`: `<db name>-owner-<id>`.
pub fn owner_file_name(db_name: &str, id: &str) -> String {
    format!("{db_name}-owner-{id}")
}

/// The owner file a lock's `host=` tag names, if it is a `flock:` tag naming an owner file of
/// the database `db_name` (`<db name>-owner-<id>`, `<id>` letters and digits): a file name
/// beside the database, never a path, so a lock's text never leads a host elsewhere.
pub fn owner_file_of<'a>(db_name: &str, tag: &'a str) -> Option<&'a str> {
    let name = tag.strip_prefix(OWNER_TAG_PREFIX)?;
    let id = name.strip_prefix(db_name)?.strip_prefix("-owner-")?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(name)
}

/// Longest lock line read back; the longest line written is about 240 bytes.
const MAX_LINE: usize = 512;

/// What a lock file says it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Held for one call (shared locking).
    Operation,
    /// Held for an instance's whole life (exclusive locking).
    Exclusive,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Operation => "operation",
            Mode::Exclusive => "exclusive",
        }
    }
}

/// A lock file's line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockLine {
    pub owner: String,
    /// `SESSIONS_LOCK_OWNER` of the holder's host, `None` if it gave none.
    pub host: Option<String>,
    pub mode: Mode,
    pub acquired_ms: u64,
}

impl LockLine {
    /// The line as written into `<db>-lock`.
    pub fn render(&self) -> String {
        format!(
            "owner={} host={} mode={} acquired_ms={}",
            self.owner,
            self.host.as_deref().unwrap_or("-"),
            self.mode.label(),
            self.acquired_ms
        )
    }

    /// Parses a line written by [`LockLine::render`]; `None` for anything else.
    pub fn parse(line: &str) -> Option<LockLine> {
        let mut fields = line.trim_end().split(' ');
        let owner = fields.next()?.strip_prefix("owner=")?.to_owned();
        let host = match fields.next()?.strip_prefix("host=")? {
            "-" => None,
            tag => Some(tag.to_owned()),
        };
        let mode = match fields.next()?.strip_prefix("mode=")? {
            "operation" => Mode::Operation,
            "exclusive" => Mode::Exclusive,
            _ => return None,
        };
        let acquired_ms = fields.next()?.strip_prefix("acquired_ms=")?.parse().ok()?;
        (fields.next().is_none() && !owner.is_empty()).then_some(LockLine {
            owner,
            host,
            mode,
            acquired_ms,
        })
    }
}

/// The directory `database` is in (`.` for a bare file name).
pub(super) fn dir_of(database: &Path) -> PathBuf {
    match database.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// The file name of `database`, which starts the names of the files beside it.
pub(super) fn name_of(database: &Path) -> String {
    database.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// `<database><suffix>`: the lock file and its companions.
pub fn companion(database: &Path, suffix: &str) -> PathBuf {
    let mut path = database.as_os_str().to_owned();
    path.push(suffix);
    path.into()
}

/// The lock's line in one read call (`read_to_string` probes in 32-byte steps, each a WASI
/// call inside a component); `None` if there is no lock or its line is not one of ours.
pub fn read_line(path: &Path) -> Option<LockLine> {
    let mut buf = [0u8; MAX_LINE];
    let n = File::open(path).ok()?.read(&mut buf).ok()?;
    LockLine::parse(std::str::from_utf8(&buf[..n]).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_tag_names_only_an_owner_file_of_its_own_database() {
        let name = owner_file_name("s.db", "01ab");
        assert_eq!(
            owner_file_of("s.db", &format!("{OWNER_TAG_PREFIX}{name}")),
            Some(name.as_str())
        );
        for foreign in [
            "flock:s.db-owner-",
            "flock:t.db-owner-01ab",
            "flock:s.db-owner-../x",
            "flock:/etc/passwd",
            "s.db-owner-01ab",
            "pid:12",
        ] {
            assert_eq!(owner_file_of("s.db", foreign), None, "{foreign}");
        }
    }

    #[test]
    fn lines_that_are_not_lock_lines_do_not_parse() {
        for bad in [
            "",
            "garbage",
            "owner= host=- mode=operation acquired_ms=1",
            "owner=a host=- mode=other acquired_ms=1",
            "owner=a host=- mode=operation acquired_ms=x",
            "owner=a host=- mode=operation acquired_ms=1 extra=1",
        ] {
            assert_eq!(LockLine::parse(bad), None, "{bad}");
        }
        let unnamed =
            LockLine::parse("owner=a host=- mode=exclusive acquired_ms=7").expect("parses");
        assert_eq!((unnamed.host, unnamed.mode), (None, Mode::Exclusive));
    }
}
