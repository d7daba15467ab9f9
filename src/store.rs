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
    use std::cell::Cell;
    use std::collections::VecDeque;
    use std::path::Path;
    use std::rc::Rc;

    use super::*;
    use crate::backend::local::LocalBackend;
    use crate::config::Database;

    /// A clock the test moves by hand.
    #[derive(Clone, Default)]
    struct ManualClock(Rc<Cell<u64>>);

    impl Clock for ManualClock {
        fn now_ms(&self) -> u64 {
            self.0.get()
        }
    }

    /// Hands out scripted tokens first, then random ones.
    #[derive(Default)]
    struct Scripted(VecDeque<String>);

    impl TokenSource for Scripted {
        fn draw(&mut self) -> Result<String> {
            self.0.pop_front().map_or_else(|| RandomTokens.draw(), Ok)
        }
    }

    const T0: u64 = 1_700_000_000_000;

    type TestStore = SessionStore<LocalBackend, ManualClock, Scripted>;

    fn file_config(dir: &Path) -> Config {
        Config { database: Database::File(dir.join("sessions.db")), ..Config::default() }
    }

    fn open_with(config: &Config) -> (TestStore, ManualClock) {
        let clock = ManualClock::default();
        clock.0.set(T0);
        let backend = LocalBackend::open(config).expect("open");
        (SessionStore::with_parts(backend, config, clock.clone(), Scripted::default()), clock)
    }

    fn memory_store() -> (TestStore, ManualClock) {
        open_with(&Config { database: Database::Memory, ..Config::default() })
    }

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

    #[test]
    fn sessions_survive_reopening_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = file_config(dir.path());
        {
            let (mut s, _) = open_with(&config);
            s.commit("tok", b"persisted", T0 + 1000).expect("commit");
        }
        let (mut s, _) = open_with(&config);
        assert_eq!(s.find("tok").expect("find"), Some(b"persisted".to_vec()));
    }

    #[test]
    fn two_stores_on_one_file_see_each_others_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = file_config(dir.path());
        let (mut a, _) = open_with(&config);
        let (mut b, _) = open_with(&config);
        a.commit("tok", b"from a", T0 + 1000).expect("commit");
        assert_eq!(b.find("tok").expect("find"), Some(b"from a".to_vec()));
        b.commit("tok", b"from b", T0 + 1000).expect("commit");
        assert_eq!(a.find("tok").expect("find"), Some(b"from b".to_vec()));
        assert!(!dir.path().join("sessions.db-lock").exists(), "no lock is held between calls");
    }

    #[test]
    fn an_exclusive_store_keeps_the_file_to_itself_until_it_is_closed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shared = Config { busy_timeout: std::time::Duration::from_millis(50), ..file_config(dir.path()) };
        let exclusive = Config { locking: crate::config::Locking::Exclusive, ..shared.clone() };
        let (mut owner, _) = open_with(&exclusive);
        owner.commit("tok", b"kept", T0 + 1000).expect("commit");
        assert!(dir.path().join("sessions.db-lock").exists(), "the lock is held between calls");
        for config in [&shared, &exclusive] {
            match LocalBackend::open(config) {
                Err(Error::Unavailable(msg)) => assert!(msg.contains("held exclusively"), "{msg}"),
                Err(other) => panic!("expected Unavailable, got {other:?}"),
                Ok(_) => panic!("a second opener got in"),
            }
        }
        drop(owner);
        assert!(!dir.path().join("sessions.db-lock").exists(), "closing releases the lock");
        // The file was left in WAL mode; a shared opener turns it back and sees everything.
        let (mut later, _) = open_with(&shared);
        assert_eq!(later.find("tok").expect("find"), Some(b"kept".to_vec()));
        later.commit("tok2", b"after", T0 + 1000).expect("commit");
        drop(later);
        let (mut again, _) = open_with(&exclusive);
        assert_eq!(again.find("tok2").expect("find"), Some(b"after".to_vec()));
    }

    #[test]
    fn a_custom_table_name_is_used() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = crate::schema::TableName::new("web_sessions").expect("valid");
        let config = Config { table, ..file_config(dir.path()) };
        let (mut s, _) = open_with(&config);
        s.commit("tok", b"x", T0 + 1000).expect("commit");
        assert_eq!(s.find("tok").expect("find"), Some(b"x".to_vec()));
    }

    #[test]
    fn a_file_that_is_not_a_database_is_unavailable_and_left_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = file_config(dir.path());
        let garbage = b"this is not a database, it is a text file that happens to be here".repeat(100);
        std::fs::write(dir.path().join("sessions.db"), &garbage).expect("write");
        match LocalBackend::open(&config) {
            Err(Error::Unavailable(msg)) => assert!(msg.contains("not a libSQL/SQLite database"), "{msg}"),
            Err(other) => panic!("expected Unavailable, got {other:?}"),
            Ok(_) => panic!("expected Unavailable, got an open store"),
        }
        assert_eq!(std::fs::read(dir.path().join("sessions.db")).expect("read"), garbage);
    }

    #[test]
    fn a_missing_directory_is_unavailable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = file_config(&dir.path().join("missing"));
        match LocalBackend::open(&config) {
            Err(Error::Unavailable(msg)) => assert!(msg.contains("not accessible"), "{msg}"),
            Err(other) => panic!("expected Unavailable, got {other:?}"),
            Ok(_) => panic!("expected Unavailable, got an open store"),
        }
    }

    #[test]
    fn a_lock_held_by_another_instance_is_never_broken_however_old() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config { busy_timeout: std::time::Duration::from_millis(100), ..file_config(dir.path()) };
        let (mut s, _) = open_with(&config);
        s.commit("tok", b"x", T0 + 1000).expect("commit");
        let lock_path = dir.path().join("sessions.db-lock");
        let line = "owner=paused-writer host=flock:sessions.db-owner-0a mode=operation acquired_ms=1";
        std::fs::write(&lock_path, line).expect("a paused writer's lock");
        let ancient = std::time::SystemTime::now() - std::time::Duration::from_secs(365 * 24 * 3600);
        std::fs::File::options().write(true).open(&lock_path).and_then(|f| f.set_modified(ancient)).expect("age");
        assert!(matches!(s.commit("tok", b"y", T0 + 1000), Err(Error::Unavailable(_))));
        assert_eq!(std::fs::read_to_string(&lock_path).expect("lock"), line, "the lock is still the writer's");
        std::fs::remove_file(&lock_path).expect("the writer releases");
        assert_eq!(s.find("tok").expect("find"), Some(b"x".to_vec()), "nothing was written meanwhile");
    }

    #[test]
    fn a_sweep_from_a_fresh_instance_removes_the_whole_batch_in_chunks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config { sweep_batch: 1000, ..file_config(dir.path()) };
        let (mut s, clock) = open_with(&config);
        for i in 0..2500 {
            s.commit(&format!("old{i:04}"), b"x", T0 + 10).expect("commit");
        }
        s.commit("live", b"x", T0 + 10_000).expect("commit");
        clock.0.set(T0 + 10);
        let (mut fresh, fresh_clock) = open_with(&config);
        fresh_clock.0.set(T0 + 10);
        assert_eq!(fresh.sweep().expect("sweep"), SweepReport { removed: 1000, more: true });
        assert_eq!(fresh.sweep().expect("sweep"), SweepReport { removed: 1000, more: true });
        assert_eq!(fresh.sweep().expect("sweep"), SweepReport { removed: 500, more: false });
        assert_eq!(s.stats().expect("stats"), SessionCounts { active: 1, expired: 0 });
        assert!(!dir.path().join("sessions.db-lock").exists(), "no lock is left between calls");
    }

    #[test]
    fn a_sweep_batch_of_a_million_rows_needs_no_temporary_file() {
        let config = Config { database: Database::Memory, sweep_batch: 1_000_000, sweep_budget: None, ..Config::default() };
        let (mut s, clock) = open_with(&config);
        for i in 0..300_000 {
            s.commit(&format!("old{i:06}"), b"x", T0 + 10).expect("commit");
        }
        clock.0.set(T0 + 10);
        assert_eq!(s.sweep().expect("sweep"), SweepReport { removed: 300_000, more: false });
    }

    #[test]
    fn listings_skip_any_number_of_expired_rows_across_chunks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut s, clock) = open_with(&file_config(dir.path()));
        for i in 0..5000 {
            s.commit(&format!("b{i:05}"), b"gone", T0 + 10).expect("commit");
        }
        for token in ["a", "b02500x", "c", "d", "e"] {
            s.commit(token, token.as_bytes(), T0 + 10_000).expect("commit");
        }
        clock.0.set(T0 + 10);
        let tokens = |entries: Vec<Entry>| entries.into_iter().map(|(t, _)| t).collect::<Vec<_>>();
        assert_eq!(tokens(s.all().expect("all")), ["a", "b02500x", "c", "d", "e"]);
        assert_eq!(tokens(s.page(Some("a"), 2).expect("page")), ["b02500x", "c"]);
        assert_eq!(tokens(s.page(Some("c"), 10).expect("page")), ["d", "e"]);
        assert_eq!(s.all().expect("all")[1].1, b"b02500x".to_vec());
    }
}
