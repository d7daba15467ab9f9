//! The session-store semantics, independent of where rows live and of the component
//! boundary: token and size validation, expiry rules, collision-safe token drawing.

use crate::backend::{Backend, Entry, SessionCounts, SweepReport};
use crate::clock::{Clock, WallClock};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::token::{self, RandomTokens, TokenSource};

/// How many fresh tokens `create` draws before deciding the randomness source is broken.
/// With 256-bit tokens a single collision is already beyond belief.
const CREATE_ATTEMPTS: usize = 8;

/// A session store over one backend.
///
/// Times are milliseconds since the Unix epoch. An expiry above `i64::MAX` (SQLite's
/// largest integer, ~292 million years away), such as `u64::MAX`, is stored as `i64::MAX`:
/// the session never expires. It is never wrapped into the past.
pub struct SessionStore<B, C = WallClock, T = RandomTokens> {
    backend: B,
    clock: C,
    tokens: T,
    max_data_bytes: u64,
    sweep_batch: u32,
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
        }
    }

    /// The data of an active session; `None` if unknown or expired (expiry <= now).
    pub fn find(&mut self, token: &str) -> Result<Option<Vec<u8>>> {
        token::validate(token)?;
        let now = self.now();
        self.backend.find(token, now)
    }

    /// Inserts or replaces a session. An expiry not in the future deletes any stored
    /// session under that token instead: nothing is findable, and no dead data lingers.
    pub fn commit(&mut self, token: &str, data: &[u8], expiry: u64) -> Result<()> {
        token::validate(token)?;
        self.check_size(data)?;
        let expiry = clamp(expiry);
        if expiry <= self.now() {
            return self.backend.delete(token);
        }
        self.backend.upsert(token, data, expiry)
    }

    /// Removes a session; an unknown token is not an error.
    pub fn delete(&mut self, token: &str) -> Result<()> {
        token::validate(token)?;
        self.backend.delete(token)
    }

    /// Every active session, in token order.
    pub fn all(&mut self) -> Result<Vec<Entry>> {
        let now = self.now();
        self.backend.all(now)
    }

    /// Active sessions in token order strictly after `after` (which need not exist), at
    /// most `limit`. A limit of 0 gives an empty page. Pass the last token of one page as
    /// `after` to get the next; sessions created meanwhile appear if they sort later.
    pub fn page(&mut self, after: Option<&str>, limit: u32) -> Result<Vec<Entry>> {
        if let Some(after) = after {
            token::validate(after)?;
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
        token::validate(token)?;
        let now = self.now();
        self.backend.touch(token, clamp(expiry), now)
    }

    /// Stores `data` under a freshly drawn token and returns the token. Never overwrites:
    /// a token already present (even expired) is drawn again.
    pub fn create(&mut self, data: &[u8], expiry: u64) -> Result<String> {
        self.check_size(data)?;
        let expiry = clamp(expiry);
        for _ in 0..CREATE_ATTEMPTS {
            let token = self.tokens.draw()?;
            if self.backend.insert_new(&token, data, expiry)? {
                return Ok(token);
            }
        }
        Err(Error::Storage(format!(
            "{CREATE_ATTEMPTS} freshly drawn tokens were all taken; the randomness source is not random"
        )))
    }

    /// Counts of active and expired-but-stored sessions.
    pub fn stats(&mut self) -> Result<SessionCounts> {
        let now = self.now();
        self.backend.counts(now)
    }

    /// Deletes at most the configured batch of expired sessions in one transaction.
    pub fn sweep(&mut self) -> Result<SweepReport> {
        let now = self.now();
        self.backend.sweep(now, self.sweep_batch)
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

/// Milliseconds as a SQLite integer, saturating at `i64::MAX`.
fn clamp(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}
