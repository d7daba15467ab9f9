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

/// One session of an owner with what a devices page shows (`sessions_of` since 0.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub info: SessionInfo,
    /// When it was stored first and last read or written (ms); none if unknown (a session
    /// stored before 0.3).
    pub created: Option<u64>,
    pub last_seen: Option<u64>,
    pub label: Option<String>,
}

/// An active session as `Backend::load` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub data: Vec<u8>,
    /// Changes with every write of the data; what a conditional update names.
    pub version: i64,
    pub expiry: i64,
    /// The deadline no write moves `expiry` past (`i64::MAX`: none).
    pub absolute: i64,
    /// Inactivity, in ms, that ends the session; none if it ends only at `absolute`.
    pub idle: Option<i64>,
    pub created: Option<i64>,
    pub last_seen: Option<i64>,
    pub label: Option<String>,
    pub owner: Option<String>,
}

impl Loaded {
    /// Whether the session was last seen after `seen_before` (ms): its read need not be
    /// recorded again. Unknown (never recorded) counts as not seen.
    pub fn seen_after(&self, seen_before: i64) -> bool {
        self.last_seen.is_some_and(|seen| seen > seen_before)
    }
}

/// A session to store: its data, the expiry asked (capped at `absolute` by the store's
/// SQL), its deadlines and its label. Times are SQLite integers (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewRow<'a> {
    pub data: &'a [u8],
    pub expiry: i64,
    /// `i64::MAX`: no absolute deadline.
    pub absolute: i64,
    pub idle: Option<i64>,
    pub label: Option<&'a str>,
}

/// One row change (`Backend::apply`), keyed by id; times are SQLite integers
/// (milliseconds since the Unix epoch). The store turns each write into one
/// (`store::Write`), a commit whose expiry is not in the future into a `Delete`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<'a> {
    /// Insert or replace; a replaced row keeps its owner, creation time, label and idle
    /// timeout (unless given) and the sooner absolute deadline only if it was active at `now`.
    Upsert { id: String, row: NewRow<'a> },
    /// Replace the data of the session if it is active at `now` and still at `version`;
    /// the version moves on by one and the expiry slides (idle timeout), capped.
    UpdateIf { id: String, data: &'a [u8], version: i64 },
    /// Record activity at `now`: last seen, and the expiry slid by the idle timeout, capped
    /// at the absolute deadline; only if active and last seen at or before `seen_before`.
    Seen { id: String, seen_before: i64 },
    /// Replace the data and expiry of the session if it is active at `now`; nothing
    /// written otherwise.
    Update { id: String, data: &'a [u8], expiry: i64 },
    /// Set the expiry of the session if it is active at `now`, capped at its absolute deadline.
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
    fn insert_new(&mut self, id: &str, row: NewRow<'_>, now: i64) -> Result<bool>;
    /// The session if active at `now`; a read of one last seen at or before `seen_before`
    /// is recorded first (`Change::Seen`), in one turn of the lock (one round trip), and
    /// any other read takes no lock.
    fn load(&mut self, id: &str, now: i64, seen_before: i64) -> Result<Option<Loaded>>;
    /// Sets (or clears) the label of an active session; false if none was active.
    fn set_label(&mut self, id: &str, label: Option<&str>, now: i64) -> Result<bool>;
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
    fn sessions_of(&mut self, owner: &str, now: i64) -> Result<Vec<Device>>;
    /// Deletes every row of `owner` except `keep`'s; returns how many of them were active.
    fn revoke_owner(&mut self, owner: &str, keep: Option<&str>, now: i64) -> Result<u64>;
    /// Deletes the row `id`; true if it was active.
    fn revoke(&mut self, id: &str, now: i64) -> Result<bool>;
    /// In one transaction: the active session `old` moves to `new` with `expiry` (capped),
    /// data, owner, label and creation time kept; with `deadlines` (absolute, idle) its
    /// deadlines replaced, else kept.
    fn rotate(
        &mut self,
        old: &str,
        new: &str,
        expiry: i64,
        deadlines: Option<(i64, Option<i64>)>,
        now: i64,
    ) -> Result<Rotation>;
    /// Every write: `changes` in order as one transaction (group commit when there are
    /// several), durable together when this returns (one fsync on a file, one round trip
    /// to a server), or none of them on an error. One answer per change, in order: for
    /// `Update`, `Touch` and `Seen` whether the row changed (the session was active; for
    /// `Seen`, and due); for `UpdateIf` whether it applied; true for `Upsert` and `Delete`.
    fn apply(&mut self, changes: &[Change<'_>], now: i64) -> Result<Vec<bool>>;
}

/// Lets the component pick a backend at run time (`SessionStore<Box<dyn Backend>>`).
impl<B: Backend + ?Sized> Backend for Box<B> {
    fn find(&mut self, id: &str, now: i64) -> Result<Option<Vec<u8>>> {
        (**self).find(id, now)
    }
    fn insert_new(&mut self, id: &str, row: NewRow<'_>, now: i64) -> Result<bool> {
        (**self).insert_new(id, row, now)
    }
    fn load(&mut self, id: &str, now: i64, seen_before: i64) -> Result<Option<Loaded>> {
        (**self).load(id, now, seen_before)
    }
    fn set_label(&mut self, id: &str, label: Option<&str>, now: i64) -> Result<bool> {
        (**self).set_label(id, label, now)
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
    fn sessions_of(&mut self, owner: &str, now: i64) -> Result<Vec<Device>> {
        (**self).sessions_of(owner, now)
    }
    fn revoke_owner(&mut self, owner: &str, keep: Option<&str>, now: i64) -> Result<u64> {
        (**self).revoke_owner(owner, keep, now)
    }
    fn revoke(&mut self, id: &str, now: i64) -> Result<bool> {
        (**self).revoke(id, now)
    }
    fn rotate(
        &mut self,
        old: &str,
        new: &str,
        expiry: i64,
        deadlines: Option<(i64, Option<i64>)>,
        now: i64,
    ) -> Result<Rotation> {
        (**self).rotate(old, new, expiry, deadlines, now)
    }
    fn apply(&mut self, changes: &[Change<'_>], now: i64) -> Result<Vec<bool>> {
        (**self).apply(changes, now)
    }
}
