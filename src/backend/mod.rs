//! Storage backends: where the rows live. The store's semantics (validation, limits,
//! expiry rules, token drawing, hashing tokens into ids) sit above in `store`; a backend
//! only runs queries, keyed by id (see `token::id_of`): no token ever reaches it.

pub mod local;
pub mod remote;

use std::time::Duration;

use crate::error::Result;

/// A stored session as listed by `all` and `page`: (id, data).
pub type Entry = (String, Vec<u8>);

/// One session of an owner, as `sessions_of` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session's id: base64url (no padding) of the SHA-256 of its token, 43 characters
    /// (`token::id_of`). It names the session for `revoke`; it is not a token.
    pub id: String,
    pub owner: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub expiry: u64,
}

/// One row change (`Backend::apply`), keyed by id; times are SQLite integers
/// (milliseconds since the Unix epoch). The store turns each write into one
/// (`store::Write`), a commit whose expiry is not in the future into a `Delete`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<'a> {
    /// Insert or replace; a replaced row keeps its owner only if it was active at `now`.
    Upsert { id: String, data: &'a [u8], expiry: i64 },
    /// Replace the data and expiry of the session if it is active at `now`; nothing
    /// written otherwise.
    Update { id: String, data: &'a [u8], expiry: i64 },
    /// Set the expiry of the session if it is active at `now`.
    Touch { id: String, expiry: i64 },
    /// Remove the row, active or not.
    Delete { id: String },
}

/// What `rotate` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The new id took over the session; the old one is gone.
    Rotated,
    /// The old id names no active session: nothing changed.
    NotActive,
    /// The new id is already stored (a collision): nothing changed, draw another.
    Taken,
}

/// Counts of active and expired-but-stored sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionCounts {
    pub active: u64,
    pub expired: u64,
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SweepReport {
    /// Expired sessions deleted by this call.
    pub removed: u64,
    /// True when expired sessions remain after the call (its batch, or its time budget
    /// where the instance is the queue, was reached).
    pub more: bool,
}

/// The queries a backend answers. Times are milliseconds since the Unix epoch as SQLite
/// integers; `now` is passed in so that every backend reads the same clock.
/// Each method is atomic (one transaction, or none at all), except the chunked ones:
/// `sweep` and the listings, whose every chunk is.
pub trait Backend {
    /// The data of the session if its expiry is after `now`.
    fn find(&mut self, id: &str, now: i64) -> Result<Option<Vec<u8>>>;
    /// Insert only if no row (active or expired) has this id; false on a collision.
    fn insert_new(&mut self, id: &str, data: &[u8], expiry: i64) -> Result<bool>;
    /// Active sessions in id order.
    fn all(&mut self, now: i64) -> Result<Vec<Entry>>;
    /// Active sessions with id > `after`, in id order, at most `limit`.
    fn page(&mut self, after: &str, limit: u32, now: i64) -> Result<Vec<Entry>>;
    fn counts(&mut self, now: i64) -> Result<SessionCounts>;
    /// Deletes at most `batch` sessions with expiry <= `now`, oldest first, and says whether
    /// any expired ones remain. A backend may delete in chunks, one transaction each,
    /// sized by `budget` (see `LocalBackend::sweep`); each chunk is atomic, the call as a
    /// whole is not.
    fn sweep(&mut self, now: i64, batch: u32, budget: Option<Duration>) -> Result<SweepReport>;
    /// Sets (or clears) the owner of an active session; false if none was active.
    fn set_owner(&mut self, id: &str, owner: Option<&str>, now: i64) -> Result<bool>;
    /// The owner's active sessions, soonest expiry first, through the owner index.
    fn sessions_of(&mut self, owner: &str, now: i64) -> Result<Vec<SessionInfo>>;
    /// Deletes every row of `owner` except `keep`'s; returns how many of them were active.
    fn revoke_owner(&mut self, owner: &str, keep: Option<&str>, now: i64) -> Result<u64>;
    /// Deletes the row `id`; true if it was active.
    fn revoke(&mut self, id: &str, now: i64) -> Result<bool>;
    /// In one transaction: the active session `old` moves to `new` with `expiry`, data and
    /// owner kept.
    fn rotate(&mut self, old: &str, new: &str, expiry: i64, now: i64) -> Result<Rotation>;
    /// Every write: `changes` in order as one transaction (group commit when there are
    /// several), durable together when this returns (one fsync on a file, one round trip
    /// to a server), or none of them on an error. One answer per change, in order: for
    /// `Update` and `Touch` whether the session was active; true for `Upsert` and `Delete`.
    fn apply(&mut self, changes: &[Change<'_>], now: i64) -> Result<Vec<bool>>;
}

/// Lets the component pick a backend at run time (`SessionStore<Box<dyn Backend>>`).
impl<B: Backend + ?Sized> Backend for Box<B> {
    fn find(&mut self, id: &str, now: i64) -> Result<Option<Vec<u8>>> {
        (**self).find(id, now)
    }
    fn insert_new(&mut self, id: &str, data: &[u8], expiry: i64) -> Result<bool> {
        (**self).insert_new(id, data, expiry)
    }
    fn all(&mut self, now: i64) -> Result<Vec<Entry>> {
        (**self).all(now)
    }
    fn page(&mut self, after: &str, limit: u32, now: i64) -> Result<Vec<Entry>> {
        (**self).page(after, limit, now)
    }
    fn counts(&mut self, now: i64) -> Result<SessionCounts> {
        (**self).counts(now)
    }
    fn sweep(&mut self, now: i64, batch: u32, budget: Option<Duration>) -> Result<SweepReport> {
        (**self).sweep(now, batch, budget)
    }
    fn set_owner(&mut self, id: &str, owner: Option<&str>, now: i64) -> Result<bool> {
        (**self).set_owner(id, owner, now)
    }
    fn sessions_of(&mut self, owner: &str, now: i64) -> Result<Vec<SessionInfo>> {
        (**self).sessions_of(owner, now)
    }
    fn revoke_owner(&mut self, owner: &str, keep: Option<&str>, now: i64) -> Result<u64> {
        (**self).revoke_owner(owner, keep, now)
    }
    fn revoke(&mut self, id: &str, now: i64) -> Result<bool> {
        (**self).revoke(id, now)
    }
    fn rotate(&mut self, old: &str, new: &str, expiry: i64, now: i64) -> Result<Rotation> {
        (**self).rotate(old, new, expiry, now)
    }
    fn apply(&mut self, changes: &[Change<'_>], now: i64) -> Result<Vec<bool>> {
        (**self).apply(changes, now)
    }
}
