//! Engine errors mapped to the store's: what means "cannot open or reach" is `Unavailable`,
//! the rest `Storage`.

use crate::error::Error;

/// SQLite primary result codes that mean "cannot open or reach", not "query failed".
fn is_unavailable_code(code: i32) -> bool {
    use libsql::ffi;
    matches!(
        code & 0xff,
        ffi::SQLITE_BUSY
            | ffi::SQLITE_LOCKED
            | ffi::SQLITE_CANTOPEN
            | ffi::SQLITE_NOTADB
            | ffi::SQLITE_PERM
            | ffi::SQLITE_READONLY
            | ffi::SQLITE_AUTH
    )
}

pub(super) fn open_error(path: &str, e: libsql::Error) -> Error {
    match e {
        libsql::Error::SqliteFailure(code, msg) if code & 0xff == libsql::ffi::SQLITE_NOTADB => {
            Error::Unavailable(format!(
                "{path} is not a libSQL/SQLite database ({msg}); it was left untouched. Point \
                 SESSIONS_DATABASE at another file"
            ))
        }
        libsql::Error::SqliteFailure(code, msg) if is_unavailable_code(code) => {
            Error::Unavailable(format!("cannot open {path}: {msg}"))
        }
        libsql::Error::ConnectionFailed(msg) => {
            Error::Unavailable(format!("cannot open {path}: {msg}"))
        }
        other => storage(other),
    }
}

pub(super) fn storage(e: libsql::Error) -> Error {
    match e {
        libsql::Error::SqliteFailure(code, msg) if is_unavailable_code(code) => {
            Error::Unavailable(msg)
        }
        libsql::Error::SqliteFailure(_, msg) => Error::Storage(msg),
        other => Error::Storage(other.to_string()),
    }
}
