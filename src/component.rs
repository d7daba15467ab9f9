//! The WIT glue: exports `edge:sessions/store` at 0.3.0 and, for hosts built for 0.2.x, at
//! 0.2.2 beside it, and `edge:sessions/sweeper@0.2.2` (unchanged in 0.3), all by delegating
//! to [`SessionStore`] over one table. Nothing here decides behaviour; it converts types.
//!
//! One store is opened lazily per instance, on the first call, and kept: the connection
//! and its prepared statements live across calls. A failed open (bad configuration, a
//! database that is locked or missing) is not cached, so a later call retries it.

use std::cell::RefCell;

use crate::backend::Backend;
use crate::config::Config;
use crate::error::Error;
use crate::store::{Deadlines, SessionStore, Write};

wit_bindgen::generate!({
    world: "edge:sessions/session-store@0.3.0",
    path: "wit/v0.3",
    // The 0.2.2 package is a dependency of the 0.3.0 world, not its root: generate it too.
    generate_all,
});

struct Component;

export!(Component);

thread_local! {
    static STORE: RefCell<Option<SessionStore<Box<dyn Backend>>>> = const { RefCell::new(None) };
}

/// Runs `op` on the instance's store, opened on first use; its error as the WIT's `E`.
fn with_store<T, E: From<Error>>(
    op: impl FnOnce(&mut SessionStore<Box<dyn Backend>>) -> Result<T, Error>,
) -> Result<T, E> {
    STORE
        .with_borrow_mut(|slot| {
            let store = match slot {
                Some(store) => store,
                None => slot.insert(crate::open(&Config::from_env()?)?),
            };
            op(store)
        })
        .map_err(E::from)
}

/// The 0.2.2 exports, as 0.2 hosts call them.
mod v02 {
    use super::{with_store, Component, Config, Write};
    use crate::error::Error;

    use super::edge::sessions0_2_2::types::Error as WitError;
    use super::exports::edge::sessions0_2_2::store::{
        Guest as StoreGuest, SessionCounts, SessionInfo, Timestamp, Write as WitWrite,
    };
    use super::exports::edge::sessions0_2_2::sweeper::{Guest as SweeperGuest, SweepReport};

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
            with_store(|s| s.stats())
                .map(|c| SessionCounts { active: c.active, expired: c.expired })
        }

        fn set_owner(token: String, owner: Option<String>) -> Result<bool, WitError> {
            with_store(|s| s.set_owner(&token, owner.as_deref()))
        }

        fn sessions_of(owner: String) -> Result<Vec<SessionInfo>, WitError> {
            let infos = with_store::<_, WitError>(|s| s.sessions_of(&owner))?;
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
            let outcomes = with_store::<_, WitError>(|s| s.write_all(&writes))?;
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
}

/// The 0.3.0 exports.
mod v03 {
    use super::{with_store, Component, Deadlines, Write};
    use crate::error::Error;
    use crate::store::Session as Stored;

    use super::edge::sessions0_3_0::types::{
        Deadlines as WitDeadlines, Error as WitError, Session, SessionCounts, SessionInfo,
    };
    use super::exports::edge::sessions0_3_0::store::{Guest as StoreGuest, Write as WitWrite};

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

    fn deadlines(d: WitDeadlines) -> Deadlines {
        Deadlines { absolute: d.absolute, idle: d.idle }
    }

    fn session(s: Stored) -> Session {
        Session {
            data: s.data,
            version: s.version,
            expiry: s.expiry,
            absolute: s.absolute,
            idle: s.idle,
            created: s.created,
            last_seen: s.last_seen,
            label: s.label,
            owner: s.owner,
        }
    }

    impl StoreGuest for Component {
        fn find(token: String) -> Result<Option<Session>, WitError> {
            with_store(|s| s.load(&token)).map(|found| found.map(session))
        }

        fn create(
            data: Vec<u8>,
            d: WitDeadlines,
            label: Option<String>,
        ) -> Result<String, WitError> {
            with_store(|s| s.create_with(&data, deadlines(d), label.as_deref()))
        }

        fn commit(
            token: String,
            data: Vec<u8>,
            d: WitDeadlines,
            label: Option<String>,
        ) -> Result<(), WitError> {
            with_store(|s| s.commit_with(&token, &data, deadlines(d), label.as_deref()))
        }

        fn update(token: String, data: Vec<u8>, version: u64) -> Result<Option<u64>, WitError> {
            with_store(|s| s.update_if(&token, &data, version))
        }

        fn touch(token: String) -> Result<bool, WitError> {
            with_store(|s| s.keep_alive(&token))
        }

        fn set_label(token: String, label: Option<String>) -> Result<bool, WitError> {
            with_store(|s| s.set_label(&token, label.as_deref()))
        }

        fn insert(
            token: String,
            data: Vec<u8>,
            d: WitDeadlines,
            label: Option<String>,
        ) -> Result<bool, WitError> {
            with_store(|s| s.insert_with(&token, &data, deadlines(d), label.as_deref()))
        }

        fn delete(token: String) -> Result<(), WitError> {
            with_store(|s| s.delete(&token))
        }

        fn page(after: Option<String>, limit: u32) -> Result<Vec<(String, Vec<u8>)>, WitError> {
            with_store(|s| s.page(after.as_deref(), limit))
        }

        fn stats() -> Result<SessionCounts, WitError> {
            with_store(|s| s.stats())
                .map(|c| SessionCounts { active: c.active, expired: c.expired })
        }

        fn set_owner(token: String, owner: Option<String>) -> Result<bool, WitError> {
            with_store(|s| s.set_owner(&token, owner.as_deref()))
        }

        fn sessions_of(owner: String) -> Result<Vec<SessionInfo>, WitError> {
            let devices = with_store::<_, WitError>(|s| s.devices_of(&owner))?;
            Ok(devices
                .into_iter()
                .map(|i| SessionInfo {
                    id: i.info.id,
                    owner: i.info.owner,
                    expiry: i.info.expiry,
                    created: i.created,
                    last_seen: i.last_seen,
                    label: i.label,
                })
                .collect())
        }

        fn revoke_owner(owner: String, keep: Option<String>) -> Result<u64, WitError> {
            with_store(|s| s.revoke_owner(&owner, keep.as_deref()))
        }

        fn revoke(id: String) -> Result<bool, WitError> {
            with_store(|s| s.revoke(&id))
        }

        fn rotate(token: String, d: WitDeadlines) -> Result<Option<String>, WitError> {
            with_store(|s| s.rotate_with(&token, deadlines(d)))
        }

        fn write_all(writes: Vec<WitWrite>) -> Result<Vec<Result<bool, WitError>>, WitError> {
            let writes: Vec<Write<'_>> = writes
                .iter()
                .map(|write| match write {
                    WitWrite::Commit(w) => Write::CommitWith {
                        token: &w.token,
                        data: &w.data,
                        deadlines: deadlines(w.deadlines),
                        label: w.label.as_deref(),
                    },
                    WitWrite::Update(w) => {
                        Write::UpdateIf { token: &w.token, data: &w.data, version: w.version }
                    }
                    WitWrite::Touch(token) => Write::KeepAlive { token },
                    WitWrite::Delete(token) => Write::Delete { token },
                })
                .collect();
            let outcomes = with_store::<_, WitError>(|s| s.write_all(&writes))?;
            Ok(outcomes.into_iter().map(|outcome| outcome.map_err(WitError::from)).collect())
        }
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
