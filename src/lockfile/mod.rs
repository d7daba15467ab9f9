//! The cross-instance lock on a database file, and the one rule about taking it away from
//! its holder: never by age. WASI gives a component no file locks, so under shared locking
//! every operation runs under a lock *file* beside the database.
//!
//! The protocol (the files, the fields, the rules, liveness, waiting in turn) is specified in
//! [docs/durability.md](../../docs/durability.md#the-lock-files); this module implements it,
//! and hosts import its line format and file names from here.
//!
//! | item | file | what it is |
//! |---|---|---|
//! | [`LockLine`], [`Mode`], [`read_line`] | `line.rs` | the lock's one line, rendered and parsed |
//! | [`companion`], `*_SUFFIX` | `line.rs` | the names of the files beside `<db>` |
//! | [`owner_file_name`], [`owner_file_of`] | `line.rs` | liveness tags and owner files |
//! | [`FileLock`] | `lock.rs` | acquire (hard link), release (rename to `<db>-lock-last`) |
//! | [`LockGuard`], [`HeldLock`] | `lock.rs` | the lock held for one call, or for good |
//! | [`MIN_PAUSE`] … [`CARRY_WINDOW`] | `queue.rs` | the timing of waiting in turn |
//! | [`LITTER_INTERVAL`], [`PLACE_GRACE`] | `litter.rs` | what killed callers leave, cleared by the next holder |
//!
//! The rule for reading without the lock, which checks this lock before and after a read,
//! lives with the read itself, in `backend::local::unlocked`.

mod line;
mod litter;
mod lock;
mod queue;

#[cfg(test)]
pub(crate) mod fixtures;

pub use line::{
    companion, owner_file_name, owner_file_of, read_line, LockLine, Mode, BREAK_SUFFIX,
    LAST_SUFFIX, LOCK_SUFFIX, OWNER_TAG_PREFIX, WAIT_SUFFIX,
};
pub use litter::{LITTER_INTERVAL, PLACE_GRACE};
pub use lock::{FileLock, HeldLock, LockGuard};
pub use queue::{CARRY_WINDOW, MAX_PAUSE, MAX_PAUSE_FACTOR, MIN_PAUSE, UNCLAIMED};
