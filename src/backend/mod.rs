//! Storage backends: where the rows live. The store's semantics (validation, limits,
//! expiry rules, token drawing) sit above in `store`; a backend only runs queries.

pub mod local;
pub mod remote;

use std::time::Duration;

use crate::error::Result;

/// A stored session as listed by `all` and `page`: (token, data).
pub type Entry = (String, Vec<u8>);

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
    fn find(&mut self, token: &str, now: i64) -> Result<Option<Vec<u8>>>;
    /// Insert or replace.
    fn upsert(&mut self, token: &str, data: &[u8], expiry: i64) -> Result<()>;
    /// Replace the data and expiry of the session if its expiry is after `now`; false
    /// (nothing written) otherwise.
    fn update(&mut self, token: &str, data: &[u8], expiry: i64, now: i64) -> Result<bool>;
    /// Insert only if no row (active or expired) has this token; false on a collision.
    fn insert_new(&mut self, token: &str, data: &[u8], expiry: i64) -> Result<bool>;
    fn delete(&mut self, token: &str) -> Result<()>;
    /// Active sessions in token order.
    fn all(&mut self, now: i64) -> Result<Vec<Entry>>;
    /// Active sessions with token > `after`, in token order, at most `limit`.
    fn page(&mut self, after: &str, limit: u32, now: i64) -> Result<Vec<Entry>>;
    /// Sets the expiry of an active session; false if none was active.
    fn touch(&mut self, token: &str, expiry: i64, now: i64) -> Result<bool>;
    fn counts(&mut self, now: i64) -> Result<SessionCounts>;
    /// Deletes at most `batch` sessions with expiry <= `now`, oldest first, and says whether
    /// any expired ones remain. A backend may delete in chunks, one transaction each,
    /// sized by `budget` (see `LocalBackend::sweep`); each chunk is atomic, the call as a
    /// whole is not.
    fn sweep(&mut self, now: i64, batch: u32, budget: Option<Duration>) -> Result<SweepReport>;
}

/// Lets the component pick a backend at run time (`SessionStore<Box<dyn Backend>>`).
impl<B: Backend + ?Sized> Backend for Box<B> {
    fn find(&mut self, token: &str, now: i64) -> Result<Option<Vec<u8>>> {
        (**self).find(token, now)
    }
    fn upsert(&mut self, token: &str, data: &[u8], expiry: i64) -> Result<()> {
        (**self).upsert(token, data, expiry)
    }
    fn update(&mut self, token: &str, data: &[u8], expiry: i64, now: i64) -> Result<bool> {
        (**self).update(token, data, expiry, now)
    }
    fn insert_new(&mut self, token: &str, data: &[u8], expiry: i64) -> Result<bool> {
        (**self).insert_new(token, data, expiry)
    }
    fn delete(&mut self, token: &str) -> Result<()> {
        (**self).delete(token)
    }
    fn all(&mut self, now: i64) -> Result<Vec<Entry>> {
        (**self).all(now)
    }
    fn page(&mut self, after: &str, limit: u32, now: i64) -> Result<Vec<Entry>> {
        (**self).page(after, limit, now)
    }
    fn touch(&mut self, token: &str, expiry: i64, now: i64) -> Result<bool> {
        (**self).touch(token, expiry, now)
    }
    fn counts(&mut self, now: i64) -> Result<SessionCounts> {
        (**self).counts(now)
    }
    fn sweep(&mut self, now: i64, batch: u32, budget: Option<Duration>) -> Result<SweepReport> {
        (**self).sweep(now, batch, budget)
    }
}
