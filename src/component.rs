//! The WIT glue: exports `edge:sessions/store` and `edge:sessions/sweeper` by delegating
//! to [`SessionStore`]. Nothing here decides behaviour; it converts types.
//!
//! One store is opened lazily per instance, on the first call, and kept: the connection
//! and its prepared statements live across calls. A failed open (bad configuration, a
//! database that is locked or missing) is not cached, so a later call retries it.

use std::cell::RefCell;

use crate::backend::Backend;
use crate::config::Config;
use crate::error::Error;
use crate::store::{SessionStore, Write};

wit_bindgen::generate!({
    world: "session-store",
    path: "wit",
});

use edge::sessions::types::Error as WitError;
use exports::edge::sessions::store::{
    Guest as StoreGuest, SessionCounts, SessionInfo, Timestamp, Write as WitWrite,
};
use exports::edge::sessions::sweeper::{Guest as SweeperGuest, SweepReport};

struct Component;

export!(Component);

thread_local! {
    static STORE: RefCell<Option<SessionStore<Box<dyn Backend>>>> = const { RefCell::new(None) };
}

fn with_store<T>(
    op: impl FnOnce(&mut SessionStore<Box<dyn Backend>>) -> Result<T, Error>,
) -> Result<T, WitError> {
    STORE
        .with_borrow_mut(|slot| {
            let store = match slot {
                Some(store) => store,
                None => slot.insert(crate::open(&Config::from_env()?)?),
            };
            op(store)
        })
        .map_err(WitError::from)
}

impl From<Error> for WitError {
    fn from(e: Error) -> WitError {
        match e {
            Error::InvalidToken(m) => WitError::InvalidToken(m),
            Error::InvalidInput(m) => WitError::InvalidInput(m),
            Error::TooLarge(limit) => WitError::TooLarge(limit),
            Error::InvalidConfig(m) => WitError::InvalidConfig(m),
            Error::Unavailable(m) => WitError::Unavailable(m),
            Error::Storage(m) => WitError::Storage(m),
        }
    }
}

impl StoreGuest for Component {
    fn find(token: String) -> Result<Option<Vec<u8>>, WitError> {
        with_store(|s| s.find(&token))
    }

    fn commit(token: String, data: Vec<u8>, expiry: Timestamp) -> Result<(), WitError> {
        with_store(|s| s.commit(&token, &data, expiry))
    }

    fn update(token: String, data: Vec<u8>, expiry: Timestamp) -> Result<bool, WitError> {
        with_store(|s| s.update(&token, &data, expiry))
    }

    fn delete(token: String) -> Result<(), WitError> {
        with_store(|s| s.delete(&token))
    }

    fn all() -> Result<Vec<(String, Vec<u8>)>, WitError> {
        with_store(|s| s.all())
    }

    fn page(after: Option<String>, limit: u32) -> Result<Vec<(String, Vec<u8>)>, WitError> {
        with_store(|s| s.page(after.as_deref(), limit))
    }

    fn touch(token: String, expiry: Timestamp) -> Result<bool, WitError> {
        with_store(|s| s.touch(&token, expiry))
    }

    fn create(data: Vec<u8>, expiry: Timestamp) -> Result<String, WitError> {
        with_store(|s| s.create(&data, expiry))
    }

    fn insert(token: String, data: Vec<u8>, expiry: Timestamp) -> Result<bool, WitError> {
        with_store(|s| s.insert(&token, &data, expiry))
    }

    fn stats() -> Result<SessionCounts, WitError> {
        with_store(|s| s.stats()).map(|c| SessionCounts { active: c.active, expired: c.expired })
    }

    fn set_owner(token: String, owner: Option<String>) -> Result<bool, WitError> {
        with_store(|s| s.set_owner(&token, owner.as_deref()))
    }

    fn sessions_of(owner: String) -> Result<Vec<SessionInfo>, WitError> {
        let infos = with_store(|s| s.sessions_of(&owner))?;
        Ok(infos
            .into_iter()
            .map(|i| SessionInfo { id: i.id, owner: i.owner, expiry: i.expiry })
            .collect())
    }

    fn revoke_owner(owner: String, keep: Option<String>) -> Result<u64, WitError> {
        with_store(|s| s.revoke_owner(&owner, keep.as_deref()))
    }

    fn revoke(id: String) -> Result<bool, WitError> {
        with_store(|s| s.revoke(&id))
    }

    fn rotate(token: String, expiry: Timestamp) -> Result<Option<String>, WitError> {
        with_store(|s| s.rotate(&token, expiry))
    }

    fn write_all(writes: Vec<WitWrite>) -> Result<Vec<Result<bool, WitError>>, WitError> {
        let writes: Vec<Write<'_>> = writes
            .iter()
            .map(|write| match write {
                WitWrite::Commit(w) => {
                    Write::Commit { token: &w.token, data: &w.data, expiry: w.expiry }
                }
                WitWrite::Update(w) => {
                    Write::Update { token: &w.token, data: &w.data, expiry: w.expiry }
                }
                WitWrite::Touch((token, expiry)) => Write::Touch { token, expiry: *expiry },
                WitWrite::Delete(token) => Write::Delete { token },
            })
            .collect();
        let outcomes = with_store(|s| s.write_all(&writes))?;
        Ok(outcomes.into_iter().map(|outcome| outcome.map_err(WitError::from)).collect())
    }
}

impl SweeperGuest for Component {
    fn sweep() -> Result<SweepReport, WitError> {
        with_store(|s| s.sweep()).map(|r| SweepReport { removed: r.removed, more: r.more })
    }

    /// Needs no database: a malformed configuration, which this function cannot report,
    /// disables cleanup (every other call reports it).
    fn cleanup_interval() -> Option<u64> {
        Config::from_env()
            .ok()
            .and_then(|c| c.cleanup_interval)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// libSQL's Rust crate references `sqlite3_load_extension`, which a WASI build of SQLite
/// omits (no dlopen); without a definition the component would import it from `env`.
/// Loading extensions is refused, as in any WASI build.
///
/// # Safety
/// Called by C with SQLite's signature; only `err_msg` is written, and only if non-null.
#[no_mangle]
pub unsafe extern "C" fn sqlite3_load_extension(
    _db: *mut core::ffi::c_void,
    _file: *const core::ffi::c_char,
    _proc: *const core::ffi::c_char,
    err_msg: *mut *mut core::ffi::c_char,
) -> core::ffi::c_int {
    if !err_msg.is_null() {
        *err_msg = core::ptr::null_mut();
    }
    libsql::ffi::SQLITE_ERROR
}
