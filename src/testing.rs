//! Fixtures of the crate's unit tests: a clock moved by hand, scripted tokens, stores over
//! `:memory:` or a file at a known time.

use std::cell::Cell;
use std::collections::VecDeque;
use std::path::Path;
use std::rc::Rc;

use crate::backend::local::LocalBackend;
use crate::backend::{Change, NewRow};
use crate::clock::Clock;
use crate::config::{Config, Database};
use crate::error::Result;
use crate::store::SessionStore;
use crate::token::{RandomTokens, TokenSource};

/// A clock the test moves by hand.
#[derive(Clone, Default)]
pub struct ManualClock(pub Rc<Cell<u64>>);

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.get()
    }
}

/// Hands out scripted tokens first, then random ones.
#[derive(Default)]
pub struct Scripted(pub VecDeque<String>);

impl TokenSource for Scripted {
    fn draw(&mut self) -> Result<String> {
        self.0.pop_front().map_or_else(|| RandomTokens.draw(), Ok)
    }
}

pub const T0: u64 = 1_700_000_000_000;

pub type TestStore = SessionStore<LocalBackend, ManualClock, Scripted>;

pub fn file_config(dir: &Path) -> Config {
    Config { database: Database::File(dir.join("sessions.db")), ..Config::default() }
}

pub fn open_with(config: &Config) -> (TestStore, ManualClock) {
    let clock = ManualClock::default();
    clock.0.set(T0);
    let backend = LocalBackend::open(config).expect("open");
    (SessionStore::with_parts(backend, config, clock.clone(), Scripted::default()), clock)
}

pub fn memory_store() -> (TestStore, ManualClock) {
    open_with(&Config { database: Database::Memory, ..Config::default() })
}

/// The upsert a 0.2 `commit` makes: no deadline, no idle timeout, no label.
pub fn upsert<'a>(id: &str, data: &'a [u8], expiry: i64) -> Change<'a> {
    let row = NewRow { data, expiry, absolute: i64::MAX, idle: None, label: None };
    Change::Upsert { id: id.into(), row }
}
