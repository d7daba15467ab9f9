//! The session-store semantics, independent of where rows live and of the component
//! boundary: token, owner and size validation, expiry rules, collision-safe token drawing,
//! and tokens hashed into ids (`token::id_of`) before anything reaches a backend: the
//! database holds ids, never tokens. Each call that takes a token hashes it once.

use crate::backend::{
    Backend, Change, Device, Entry, Loaded, NewRow, Rotation, SessionCounts, SessionInfo,
    SweepReport,
};
use crate::clock::{Clock, WallClock};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::token::{self, RandomTokens, TokenSource};

/// How many fresh tokens `create` draws before deciding the randomness source is broken.
/// With 256-bit tokens a single collision is already beyond belief.
const CREATE_ATTEMPTS: usize = 8;

/// Longest label accepted, in bytes: enough for "Firefox on Linux, Berlin".
pub const MAX_LABEL_BYTES: usize = 128;

/// Longest idle timeout accepted: 100 years, in ms (keeps `now + idle` an exact integer).
pub const MAX_IDLE_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// When a session ends (0.3): at `absolute` (ms since the epoch; `u64::MAX` never) at the
/// latest, and after `idle` ms without a read or write, if set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    pub absolute: u64,
    pub idle: Option<u64>,
}

/// An active session as `load` reads it: its data, the version a conditional update
/// names, and what a devices page shows. Times in ms since the epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub data: Vec<u8>,
    pub version: u64,
    pub expiry: u64,
    /// None: no absolute deadline.
    pub absolute: Option<u64>,
    pub idle: Option<u64>,
    /// None for a session stored before 0.3.
    pub created: Option<u64>,
    pub last_seen: Option<u64>,
    pub label: Option<String>,
    pub owner: Option<String>,
}
/// One write of [`SessionStore::write_all`], as the call of the same name takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write<'a> {
    Commit {
        token: &'a str,
        data: &'a [u8],
        expiry: u64,
    },
    Update {
        token: &'a str,
        data: &'a [u8],
        expiry: u64,
    },
    Touch {
        token: &'a str,
        expiry: u64,
    },
    Delete {
        token: &'a str,
    },
    /// 0.3: insert or replace with deadlines and an optional label.
    CommitWith {
        token: &'a str,
        data: &'a [u8],
        deadlines: Deadlines,
        label: Option<&'a str>,
    },
    /// 0.3: the conditional update (see [`SessionStore::update_if`]).
    UpdateIf {
        token: &'a str,
        data: &'a [u8],
        version: u64,
    },
    /// 0.3: activity without data (see [`SessionStore::keep_alive`]).
    KeepAlive {
        token: &'a str,
    },
}

/// A session store over one backend.
///
/// Times are milliseconds since the Unix epoch. An expiry above `i64::MAX` (SQLite's
/// largest integer, ~292 million years away), such as `u64::MAX`, is stored as `i64::MAX`:
/// the session never expires. It is never wrapped into the past.
///
/// Listings (`all`, `page`, `sessions_of`) give ids, not tokens, and `revoke` takes an id.
pub struct SessionStore<B, C = WallClock, T = RandomTokens> {
    backend: B,
    clock: C,
    tokens: T,
    max_data_bytes: u64,
    sweep_batch: u32,
    sweep_budget: Option<std::time::Duration>,
    last_seen_ms: i64,
}

impl<B: Backend> SessionStore<B> {
    /// A store with the wall clock and random tokens, limits taken from `config`.
    pub fn new(backend: B, config: &Config) -> Self {
        SessionStore::with_parts(backend, config, WallClock, RandomTokens)
    }
}

impl<B: Backend, C: Clock, T: TokenSource> SessionStore<B, C, T> {
    /// A store with an explicit clock and token source (tests, benchmarks).
    pub fn with_parts(backend: B, config: &Config, clock: C, tokens: T) -> Self {
        SessionStore {
            backend,
            clock,
            tokens,
            max_data_bytes: config.max_data_bytes,
            sweep_batch: config.sweep_batch,
            sweep_budget: config.sweep_budget,
            last_seen_ms: i64::try_from(config.last_seen_interval.as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// The data of an active session; `None` if unknown or expired (expiry <= now).
    pub fn find(&mut self, token: &str) -> Result<Option<Vec<u8>>> {
        let id = checked_id(token)?;
        let now = self.now();
        self.backend.find(&id, now)
    }

    /// The active session with its version and device metadata; `None` if unknown or
    /// expired. Records the read (last seen; the expiry slid by the idle timeout, capped at
    /// the absolute deadline) when the last record is at least the configured interval old:
    /// at most one write per session per interval.
    pub fn load(&mut self, token: &str) -> Result<Option<Session>> {
        let id = checked_id(token)?;
        let now = self.now();
        let seen_before = now.saturating_sub(self.last_seen_ms);
        Ok(self.backend.load(&id, now, seen_before)?.map(session_of))
    }

    /// Stores `data` under a freshly drawn token with `deadlines` and `label`, as `create`.
    pub fn create_with(
        &mut self,
        data: &[u8],
        deadlines: Deadlines,
        label: Option<&str>,
    ) -> Result<String> {
        let now = self.now();
        let row = self.checked_row(data, deadlines, label, now)?;
        self.insert_drawn(row, now)
    }

    /// Inserts or replaces a session with `deadlines` (its expiry: now + idle, capped at
    /// `absolute`; not in the future: the session is deleted, as by `commit`). Over an active session the sooner absolute deadline wins, and the owner,
    /// creation time, and (when none given) label and idle timeout are kept.
    pub fn commit_with(
        &mut self,
        token: &str,
        data: &[u8],
        deadlines: Deadlines,
        label: Option<&str>,
    ) -> Result<()> {
        self.write(Write::CommitWith { token, data, deadlines, label }).map(drop)
    }

    /// Replaces the data of an active session only if its version is still `version` (as
    /// `load` read it); the new version, or `None` with nothing stored if another write came
    /// first or the session is gone (`load` tells which). Slides the expiry like a read.
    pub fn update_if(&mut self, token: &str, data: &[u8], version: u64) -> Result<Option<u64>> {
        let applied = self.write(Write::UpdateIf { token, data, version })?;
        Ok(applied.then(|| version + 1))
    }

    /// Records activity now (last seen; expiry now + idle, capped at the absolute
    /// deadline; unchanged without an idle timeout); false if no session is active.
    pub fn keep_alive(&mut self, token: &str) -> Result<bool> {
        self.write(Write::KeepAlive { token })
    }

    /// Sets (`Some`) or clears the label of an active session; false, nothing changed, if
    /// none is active. `InvalidInput` for a label over [`MAX_LABEL_BYTES`] or with control
    /// characters.
    pub fn set_label(&mut self, token: &str, label: Option<&str>) -> Result<bool> {
        let id = checked_id(token)?;
        if let Some(label) = label {
            validate_label(label)?;
        }
        let now = self.now();
        self.backend.set_label(&id, label, now)
    }

    /// As `rotate`, the new session starting over with `deadlines` (a login is a new
    /// session): its expiry now + idle, capped at `absolute`.
    pub fn rotate_with(&mut self, token: &str, deadlines: Deadlines) -> Result<Option<String>> {
        check_deadlines(deadlines)?;
        let now = self.now();
        let expiry = first_expiry(deadlines, now);
        let idle = deadlines.idle.map(clamp);
        self.rotate_as(token, expiry, Some((clamp(deadlines.absolute), idle)), now)
    }

    /// Inserts or replaces a session. An expiry not in the future deletes any stored
    /// session under that token instead: nothing is findable, and no dead data lingers.
    /// Replacing an active session keeps its owner; one that had expired loses it.
    pub fn commit(&mut self, token: &str, data: &[u8], expiry: u64) -> Result<()> {
        self.write(Write::Commit { token, data, expiry }).map(drop)
    }

    /// Replaces the data and expiry of an active session; false, with nothing written, if
    /// the token names no active session. Never creates one: a save racing a `delete`
    /// cannot bring the deleted session back. An expiry not in the future leaves the
    /// session unfindable (and swept like any expired one).
    pub fn update(&mut self, token: &str, data: &[u8], expiry: u64) -> Result<bool> {
        self.write(Write::Update { token, data, expiry })
    }

    /// Removes a session; an unknown token is not an error.
    pub fn delete(&mut self, token: &str) -> Result<()> {
        self.write(Write::Delete { token }).map(drop)
    }

    /// Group commit: `writes` in order as one transaction, durable together when this
    /// returns, each as the method of the same name does it. One outcome per write, in
    /// order: `Update` and `Touch` say whether the session was active, `Commit` and
    /// `Delete` say true. A write with bad input (token, data size) fails alone with its
    /// error and changes nothing; the others go ahead. The outer error (storage,
    /// unavailable) means nothing of the batch was stored. An empty batch, or one whose
    /// every write is refused, does not reach the backend.
    pub fn write_all(&mut self, writes: &[Write<'_>]) -> Result<Vec<Result<bool>>> {
        let now = self.now();
        let mut changes = Vec::with_capacity(writes.len());
        let refused: Vec<Option<Error>> = writes
            .iter()
            .map(|&write| match self.change(write, now) {
                Ok(change) => {
                    changes.push(change);
                    None
                }
                Err(e) => Some(e),
            })
            .collect();
        let applied =
            if changes.is_empty() { Vec::new() } else { self.backend.apply(&changes, now)? };
        if applied.len() != changes.len() {
            return Err(Error::Storage(format!(
                "{} answers for a batch of {} writes",
                applied.len(),
                changes.len()
            )));
        }
        let mut applied = applied.into_iter();
        Ok(refused
            .into_iter()
            .map(|refused| refused.map_or_else(|| Ok(applied.next().unwrap_or(false)), Err))
            .collect())
    }

    /// Every active session as (id, data), in id order.
    pub fn all(&mut self) -> Result<Vec<Entry>> {
        let now = self.now();
        self.backend.all(now)
    }

    /// Active sessions as (id, data) in id order strictly after the id `after` (which need
    /// not exist), at most `limit`. A limit of 0 gives an empty page. Pass the last id of one
    /// page as `after` to get the next; sessions created meanwhile appear if they sort later.
    pub fn page(&mut self, after: Option<&str>, limit: u32) -> Result<Vec<Entry>> {
        if let Some(after) = after {
            token::validate_input("id", after)?;
        }
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now = self.now();
        self.backend.page(after.unwrap_or(""), limit, now)
    }

    /// Moves an active session's expiry without rewriting its data; false if the session
    /// is unknown or already expired (an expired session is not revived).
    pub fn touch(&mut self, token: &str, expiry: u64) -> Result<bool> {
        self.write(Write::Touch { token, expiry })
    }

    /// Stores `data` under a freshly drawn token, without an owner, and returns the token.
    /// Never overwrites: a token whose id is already present (even expired) is drawn again.
    pub fn create(&mut self, data: &[u8], expiry: u64) -> Result<String> {
        self.check_size(data)?;
        let row =
            NewRow { data, expiry: clamp(expiry), absolute: i64::MAX, idle: None, label: None };
        let now = self.now();
        self.insert_drawn(row, now)
    }

    /// `row` under a freshly drawn token, drawn again on a collision.
    fn insert_drawn(&mut self, row: NewRow<'_>, now: i64) -> Result<String> {
        for _ in 0..CREATE_ATTEMPTS {
            let token = self.tokens.draw()?;
            if self.backend.insert_new(&token::id_of(&token), row, now)? {
                return Ok(token);
            }
        }
        Err(all_taken())
    }

    /// Stores `data` under the caller's `token`, without an owner; false, with nothing
    /// changed, if the token's id is already stored, active or expired but not yet swept
    /// (an id is never reused while a stale cookie may still carry it). An expiry not in
    /// the future is stored as given: nothing findable, swept like any expired session.
    pub fn insert(&mut self, token: &str, data: &[u8], expiry: u64) -> Result<bool> {
        let id = checked_id(token)?;
        self.check_size(data)?;
        let row =
            NewRow { data, expiry: clamp(expiry), absolute: i64::MAX, idle: None, label: None };
        let now = self.now();
        self.backend.insert_new(&id, row, now)
    }

    /// As `insert`, with `deadlines` and `label` as `create_with` takes them.
    pub fn insert_with(
        &mut self,
        token: &str,
        data: &[u8],
        deadlines: Deadlines,
        label: Option<&str>,
    ) -> Result<bool> {
        let id = checked_id(token)?;
        let now = self.now();
        let row = self.checked_row(data, deadlines, label, now)?;
        self.backend.insert_new(&id, row, now)
    }

    /// A new session's row, its data size, deadlines and label checked.
    fn checked_row<'a>(
        &self,
        data: &'a [u8],
        deadlines: Deadlines,
        label: Option<&'a str>,
        now: i64,
    ) -> Result<NewRow<'a>> {
        self.check_size(data)?;
        check_deadlines(deadlines)?;
        if let Some(label) = label {
            validate_label(label)?;
        }
        Ok(new_row(data, deadlines, label, now))
    }

    /// Sets (`Some`) or clears (`None`) the owner of an active session; false, with nothing
    /// changed, if the token names no active session (an expired one included).
    pub fn set_owner(&mut self, token: &str, owner: Option<&str>) -> Result<bool> {
        let id = checked_id(token)?;
        if let Some(owner) = owner {
            token::validate_input("owner", owner)?;
        }
        let now = self.now();
        self.backend.set_owner(&id, owner, now)
    }

    /// The owner's active sessions, soonest expiry first.
    pub fn sessions_of(&mut self, owner: &str) -> Result<Vec<SessionInfo>> {
        Ok(self.devices_of(owner)?.into_iter().map(|device| device.info).collect())
    }

    /// The owner's active sessions, soonest expiry first, with created, last seen, label.
    pub fn devices_of(&mut self, owner: &str) -> Result<Vec<Device>> {
        token::validate_input("owner", owner)?;
        let now = self.now();
        self.backend.sessions_of(owner, now)
    }

    /// Deletes every session of `owner` except the one whose token is `keep`; with a `keep`
    /// that is no longer an active session of `owner`, deletes nothing. Returns how many
    /// active sessions were deleted; the owner's expired ones go too.
    pub fn revoke_owner(&mut self, owner: &str, keep: Option<&str>) -> Result<u64> {
        token::validate_input("owner", owner)?;
        let keep = keep.map(checked_id).transpose()?;
        let now = self.now();
        self.backend.revoke_owner(owner, keep.as_deref(), now)
    }

    /// Deletes the session with this id (as listed); true if it was active.
    pub fn revoke(&mut self, id: &str) -> Result<bool> {
        token::validate_input("id", id)?;
        let now = self.now();
        self.backend.revoke(id, now)
    }

    /// In one transaction, a freshly drawn token (as `create` draws it) takes over the data
    /// and owner of the active session `token`, with `expiry`; `token` stops existing.
    /// `None`, with nothing created or deleted, if `token` names no active session. An
    /// expiry not in the future is stored as given: the rotated session is then unfindable.
    pub fn rotate(&mut self, token: &str, expiry: u64) -> Result<Option<String>> {
        let now = self.now();
        self.rotate_as(token, clamp(expiry), None, now)
    }

    fn rotate_as(
        &mut self,
        token: &str,
        expiry: i64,
        deadlines: Option<(i64, Option<i64>)>,
        now: i64,
    ) -> Result<Option<String>> {
        let old = checked_id(token)?;
        for _ in 0..CREATE_ATTEMPTS {
            let fresh = self.tokens.draw()?;
            match self.backend.rotate(&old, &token::id_of(&fresh), expiry, deadlines, now)? {
                Rotation::Rotated => return Ok(Some(fresh)),
                Rotation::NotActive => return Ok(None),
                Rotation::Taken => continue,
            }
        }
        Err(all_taken())
    }

    /// Counts of active and expired-but-stored sessions.
    pub fn stats(&mut self) -> Result<SessionCounts> {
        let now = self.now();
        self.backend.counts(now)
    }

    /// Deletes at most the configured batch of expired sessions, oldest first, in chunks
    /// sized by the configured budget (see `LocalBackend::sweep`); `more` says whether
    /// expired sessions remain.
    pub fn sweep(&mut self) -> Result<SweepReport> {
        let now = self.now();
        self.backend.sweep(now, self.sweep_batch, self.sweep_budget)
    }

    /// One write on its own: a batch of one.
    fn write(&mut self, write: Write<'_>) -> Result<bool> {
        self.write_all(&[write])?
            .pop()
            .unwrap_or_else(|| Err(Error::Storage("a write got no answer".into())))
    }

    /// The row change a write makes, once its token and data are checked: the one place
    /// that says what each write does to the table.
    fn change<'a>(&self, write: Write<'a>, now: i64) -> Result<Change<'a>> {
        Ok(match write {
            Write::Commit { token, data, expiry } => {
                let id = checked_id(token)?;
                self.check_size(data)?;
                match clamp(expiry) {
                    expiry if expiry <= now => Change::Delete { id },
                    expiry => Change::Upsert {
                        id,
                        row: NewRow { data, expiry, absolute: i64::MAX, idle: None, label: None },
                    },
                }
            }
            Write::CommitWith { token, data, deadlines, label } => {
                let id = checked_id(token)?;
                self.check_size(data)?;
                check_deadlines(deadlines)?;
                if let Some(label) = label {
                    validate_label(label)?;
                }
                match new_row(data, deadlines, label, now) {
                    row if row.expiry.min(row.absolute) <= now => Change::Delete { id },
                    row => Change::Upsert { id, row },
                }
            }
            Write::UpdateIf { token, data, version } => {
                let id = checked_id(token)?;
                self.check_size(data)?;
                // A version no row can hold matches nothing: the update does not apply.
                let version = i64::try_from(version).unwrap_or(-1);
                Change::UpdateIf { id, data, version }
            }
            Write::KeepAlive { token } => {
                Change::Seen { id: checked_id(token)?, seen_before: i64::MAX }
            }
            Write::Update { token, data, expiry } => {
                let id = checked_id(token)?;
                self.check_size(data)?;
                Change::Update { id, data, expiry: clamp(expiry) }
            }
            Write::Touch { token, expiry } => {
                Change::Touch { id: checked_id(token)?, expiry: clamp(expiry) }
            }
            Write::Delete { token } => Change::Delete { id: checked_id(token)? },
        })
    }

    fn check_size(&self, data: &[u8]) -> Result<()> {
        if data.len() as u64 > self.max_data_bytes {
            return Err(Error::TooLarge(self.max_data_bytes));
        }
        Ok(())
    }

    fn now(&self) -> i64 {
        clamp(self.clock.now_ms())
    }
}

/// The row of a 0.3 write: expiry now + idle (none: the absolute deadline), capped.
fn new_row<'a>(
    data: &'a [u8],
    deadlines: Deadlines,
    label: Option<&'a str>,
    now: i64,
) -> NewRow<'a> {
    NewRow {
        data,
        expiry: first_expiry(deadlines, now),
        absolute: clamp(deadlines.absolute),
        idle: deadlines.idle.map(clamp),
        label,
    }
}

/// The expiry of a session starting now: now + idle, or the absolute deadline without an
/// idle timeout (the SQL caps it at `absolute` either way).
fn first_expiry(deadlines: Deadlines, now: i64) -> i64 {
    deadlines.idle.map_or(clamp(deadlines.absolute), |idle| now.saturating_add(clamp(idle)))
}

fn check_deadlines(deadlines: Deadlines) -> Result<()> {
    match deadlines.idle {
        Some(0) => {
            Err(Error::InvalidInput("the idle timeout is 0; use none for no timeout".into()))
        }
        Some(idle) if idle > MAX_IDLE_MS => Err(Error::InvalidInput(format!(
            "the idle timeout is {idle} ms; at most {MAX_IDLE_MS} (100 years) are accepted"
        ))),
        _ => Ok(()),
    }
}

/// Checks a session label: non-empty, at most [`MAX_LABEL_BYTES`], no control characters.
pub fn validate_label(label: &str) -> Result<()> {
    if label.is_empty() {
        return Err(Error::InvalidInput("the label is empty; use none for no label".into()));
    }
    if label.len() > MAX_LABEL_BYTES {
        return Err(Error::InvalidInput(format!(
            "the label is {} bytes long; at most {MAX_LABEL_BYTES} are accepted",
            label.len()
        )));
    }
    if let Some((at, c)) = label.char_indices().find(|(_, c)| c.is_control()) {
        return Err(Error::InvalidInput(format!(
            "the label contains a control character ({c:?}) at byte {at}"
        )));
    }
    Ok(())
}

/// A backend's row as the store answers it.
fn session_of(row: Loaded) -> Session {
    let ms = |at: i64| u64::try_from(at).unwrap_or(0);
    Session {
        data: row.data,
        version: ms(row.version),
        expiry: ms(row.expiry),
        absolute: (row.absolute != i64::MAX).then(|| ms(row.absolute)),
        idle: row.idle.map(ms),
        created: row.created.map(ms),
        last_seen: row.last_seen.map(ms),
        label: row.label,
        owner: row.owner,
    }
}

/// The id of a caller's token, once the token is valid.
fn checked_id(token: &str) -> Result<String> {
    token::validate(token)?;
    Ok(token::id_of(token))
}

fn all_taken() -> Error {
    Error::Storage(format!(
        "{CREATE_ATTEMPTS} freshly drawn tokens were all taken; the randomness source is not random"
    ))
}

/// Milliseconds as a SQLite integer, saturating at `i64::MAX`.
fn clamp(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
