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
    sweep_budget: Option<std::time::Duration>,
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

    /// Replaces the data and expiry of an active session; false, with nothing written, if
    /// the token names no active session. Never creates one: a save racing a `delete`
    /// cannot bring the deleted session back. An expiry not in the future leaves the
    /// session unfindable (and swept like any expired one).
    pub fn update(&mut self, token: &str, data: &[u8], expiry: u64) -> Result<bool> {
        token::validate(token)?;
        self.check_size(data)?;
        let now = self.now();
        self.backend.update(token, data, clamp(expiry), now)
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

    /// Deletes at most the configured batch of expired sessions, oldest first, in chunks
    /// sized by the configured budget (see `LocalBackend::sweep`); `more` says whether
    /// expired sessions remain.
    pub fn sweep(&mut self) -> Result<SweepReport> {
        let now = self.now();
        self.backend.sweep(now, self.sweep_batch, self.sweep_budget)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Database;
    use crate::testing::{memory_store, open_with, T0};

    #[test]
    fn a_committed_session_is_found_until_it_expires() {
        let (mut s, clock) = memory_store();
        s.commit("tok", b"hello", T0 + 1000).expect("commit");
        assert_eq!(s.find("tok").expect("find"), Some(b"hello".to_vec()));
        clock.0.set(T0 + 999);
        assert!(s.find("tok").expect("find").is_some());
        clock.0.set(T0 + 1000);
        assert_eq!(s.find("tok").expect("find"), None, "expiry <= now is expired");
    }

    #[test]
    fn update_replaces_an_active_session_and_never_recreates_a_deleted_one() {
        let (mut s, clock) = memory_store();
        assert!(!s.update("tok", b"v1", T0 + 1000).expect("update"), "nothing to update");
        assert_eq!(s.find("tok").expect("find"), None, "update never creates");
        s.commit("tok", b"v1", T0 + 1000).expect("commit");
        assert!(s.update("tok", b"v2", T0 + 5000).expect("update"));
        clock.0.set(T0 + 2000);
        assert_eq!(s.find("tok").expect("find"), Some(b"v2".to_vec()), "data and expiry replaced");
        s.delete("tok").expect("delete");
        assert!(!s.update("tok", b"v3", T0 + 9000).expect("update"), "a deleted session stays deleted");
        assert_eq!(s.find("tok").expect("find"), None);
        s.commit("old", b"x", T0 + 3000).expect("commit");
        clock.0.set(T0 + 3000);
        assert!(!s.update("old", b"y", T0 + 9000).expect("update"), "an expired session is not revived");
        assert_eq!(s.find("old").expect("find"), None);
    }

    #[test]
    fn update_with_a_past_expiry_ends_the_session_and_says_it_was_active() {
        let (mut s, _clock) = memory_store();
        s.commit("tok", b"v1", T0 + 1000).expect("commit");
        assert!(s.update("tok", b"", 0).expect("update"));
        assert_eq!(s.find("tok").expect("find"), None);
        assert!(!s.update("tok", b"", 0).expect("update"), "already ended");
    }

    #[test]
    fn commit_replaces_data_and_expiry() {
        let (mut s, clock) = memory_store();
        s.commit("tok", b"one", T0 + 10).expect("commit");
        s.commit("tok", b"two", T0 + 5000).expect("commit");
        clock.0.set(T0 + 100);
        assert_eq!(s.find("tok").expect("find"), Some(b"two".to_vec()));
    }

    #[test]
    fn a_commit_with_zero_or_past_expiry_leaves_nothing_findable() {
        let (mut s, _) = memory_store();
        s.commit("tok", b"live", T0 + 1000).expect("commit");
        s.commit("tok", b"dead", T0 - 1).expect("past expiry");
        assert_eq!(s.find("tok").expect("find"), None);
        s.commit("zero", b"x", 0).expect("zero expiry");
        assert_eq!(s.find("zero").expect("find"), None);
        assert_eq!(s.stats().expect("stats"), SessionCounts { active: 0, expired: 0 });
    }

    #[test]
    fn max_expiry_never_expires() {
        let (mut s, clock) = memory_store();
        s.commit("forever", b"x", u64::MAX).expect("commit");
        clock.0.set(i64::MAX as u64 - 1);
        assert_eq!(s.find("forever").expect("find"), Some(b"x".to_vec()));
        assert!(s.touch("forever", u64::MAX).expect("touch"));
    }

    #[test]
    fn deleting_removes_and_unknown_tokens_are_fine() {
        let (mut s, _) = memory_store();
        s.commit("tok", b"x", T0 + 1000).expect("commit");
        s.delete("tok").expect("delete");
        assert_eq!(s.find("tok").expect("find"), None);
        s.delete("never-existed").expect("unknown delete succeeds");
    }

    #[test]
    fn all_lists_only_active_sessions_in_token_order() {
        let (mut s, clock) = memory_store();
        s.commit("b", b"2", T0 + 1000).expect("commit");
        s.commit("a", b"1", T0 + 1000).expect("commit");
        s.commit("c", b"3", T0 + 10).expect("commit");
        clock.0.set(T0 + 10);
        assert_eq!(s.all().expect("all"), vec![("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())]);
    }

    #[test]
    fn page_walks_active_sessions_in_token_order() {
        let (mut s, _) = memory_store();
        for t in ["e", "a", "d", "b", "c"] {
            s.commit(t, t.as_bytes(), T0 + 1000).expect("commit");
        }
        s.commit("bb", b"expired", T0 - 5).expect("commit");
        let tokens = |page: Vec<Entry>| page.into_iter().map(|(t, _)| t).collect::<Vec<_>>();
        assert_eq!(tokens(s.page(None, 2).expect("page")), ["a", "b"]);
        assert_eq!(tokens(s.page(Some("b"), 2).expect("page")), ["c", "d"]);
        assert_eq!(tokens(s.page(Some("d"), 2).expect("page")), ["e"]);
        assert!(s.page(Some("e"), 2).expect("page").is_empty());
        assert_eq!(tokens(s.page(Some("bz-not-stored"), 10).expect("unknown after")), ["c", "d", "e"]);
        assert!(s.page(None, 0).expect("limit 0").is_empty());
        assert!(matches!(s.page(Some("a b"), 1), Err(Error::InvalidToken(_))));
    }

    #[test]
    fn touch_moves_expiry_of_active_sessions_only() {
        let (mut s, clock) = memory_store();
        s.commit("tok", b"data", T0 + 100).expect("commit");
        assert!(s.touch("tok", T0 + 10_000).expect("touch"));
        clock.0.set(T0 + 5000);
        assert_eq!(s.find("tok").expect("find"), Some(b"data".to_vec()));
        assert!(!s.touch("unknown", T0 + 99_999).expect("touch unknown"));
        clock.0.set(T0 + 10_000);
        assert!(!s.touch("tok", T0 + 99_999).expect("touch expired"), "an expired session is not revived");
        assert_eq!(s.find("tok").expect("find"), None);
    }

    #[test]
    fn create_draws_again_on_collision_and_never_overwrites() {
        let (mut s, _) = memory_store();
        s.commit("taken", b"original", T0 + 1000).expect("commit");
        s.tokens.0.extend(["taken".to_owned(), "fresh".to_owned()]);
        assert_eq!(s.create(b"new", T0 + 1000).expect("create"), "fresh");
        assert_eq!(s.find("taken").expect("find"), Some(b"original".to_vec()));
        assert_eq!(s.find("fresh").expect("find"), Some(b"new".to_vec()));
    }

    #[test]
    fn create_gives_up_with_a_storage_error_when_every_draw_collides() {
        let (mut s, _) = memory_store();
        s.commit("same", b"x", T0 + 1000).expect("commit");
        s.tokens.0.extend(std::iter::repeat_n("same".to_owned(), CREATE_ATTEMPTS));
        assert!(matches!(s.create(b"y", T0 + 1000), Err(Error::Storage(_))));
    }

    #[test]
    fn created_tokens_are_43_characters() {
        let (mut s, _) = memory_store();
        let token = s.create(b"x", T0 + 1000).expect("create");
        assert_eq!(token.len(), 43);
        assert_eq!(s.find(&token).expect("find"), Some(b"x".to_vec()));
    }

    #[test]
    fn oversized_data_is_refused_and_stored_data_survives() {
        let config = Config { database: Database::Memory, max_data_bytes: 8, ..Config::default() };
        let (mut s, _) = open_with(&config);
        s.commit("tok", b"12345678", T0 + 1000).expect("at the limit");
        assert_eq!(s.commit("tok", b"123456789", T0 + 1000), Err(Error::TooLarge(8)));
        assert_eq!(s.create(b"123456789", T0 + 1000), Err(Error::TooLarge(8)));
        assert_eq!(s.find("tok").expect("find"), Some(b"12345678".to_vec()));
        assert_eq!(s.stats().expect("stats").active, 1);
    }

    #[test]
    fn bad_tokens_are_refused_by_every_operation() {
        let (mut s, _) = memory_store();
        s.commit("good", b"x", T0 + 1000).expect("commit");
        let long = "x".repeat(300);
        for bad in ["", " padded ", "new\nline", long.as_str()] {
            assert!(matches!(s.find(bad), Err(Error::InvalidToken(_))), "find {bad:?}");
            assert!(matches!(s.commit(bad, b"x", T0 + 1000), Err(Error::InvalidToken(_))), "commit {bad:?}");
            assert!(matches!(s.delete(bad), Err(Error::InvalidToken(_))), "delete {bad:?}");
            assert!(matches!(s.touch(bad, T0 + 1000), Err(Error::InvalidToken(_))), "touch {bad:?}");
        }
        assert_eq!(s.all().expect("all").len(), 1);
    }

    #[test]
    fn a_spent_sweep_budget_ends_the_call_after_one_chunk() {
        let config = Config {
            database: Database::Memory,
            sweep_budget: Some(std::time::Duration::ZERO),
            ..Config::default()
        };
        let (mut s, clock) = open_with(&config);
        for i in 0..250 {
            s.commit(&format!("old{i:03}"), b"x", T0 + 10).expect("commit");
        }
        clock.0.set(T0 + 10);
        assert_eq!(s.sweep().expect("sweep"), SweepReport { removed: 100, more: true });
        assert_eq!(s.sweep().expect("sweep"), SweepReport { removed: 100, more: true });
        assert_eq!(s.sweep().expect("sweep"), SweepReport { removed: 50, more: false });
    }

    #[test]
    fn sweep_deletes_expired_sessions_in_bounded_batches_with_exact_counts() {
        let config = Config { database: Database::Memory, sweep_batch: 3, ..Config::default() };
        let (mut s, clock) = open_with(&config);
        for i in 0..7 {
            s.commit(&format!("old{i}"), b"x", T0 + 10).expect("commit");
        }
        for i in 0..4 {
            s.commit(&format!("live{i}"), b"x", T0 + 10_000).expect("commit");
        }
        clock.0.set(T0 + 10);
        assert_eq!(s.stats().expect("stats"), SessionCounts { active: 4, expired: 7 });
        assert_eq!(s.sweep().expect("sweep"), SweepReport { removed: 3, more: true });
        assert_eq!(s.sweep().expect("sweep"), SweepReport { removed: 3, more: true });
        assert_eq!(s.sweep().expect("sweep"), SweepReport { removed: 1, more: false });
        assert_eq!(s.sweep().expect("sweep"), SweepReport { removed: 0, more: false });
        assert_eq!(s.stats().expect("stats"), SessionCounts { active: 4, expired: 0 });
    }
}
