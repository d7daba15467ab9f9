//! How a store instance is set up: where its data lives, which `SESSIONS_*` settings it
//! gets, and the bounds on every guest call.

use std::path::PathBuf;
use std::time::Duration;

use crate::clock::HostClock;

/// Where the data directory appears inside the guest: the component's default database
/// lies in it.
pub use libsqlstore::config::DATA_DIR as GUEST_DATA_DIR;
use libsqlstore::config::DEFAULT_DATABASE as DEFAULT_GUEST_DATABASE;

/// Settings for one store (one database).
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Host directory preopened read-write as `/data` in the guest; created if missing.
    /// `None` preopens nothing (only `:memory:` databases then work).
    pub data_dir: Option<PathBuf>,
    /// `SESSIONS_*` variables handed to the guest (`SESSIONS_DATABASE`, `SESSIONS_TABLE`,
    /// …); unset ones take the component's defaults (`/data/sessions.db`, …).
    pub env: Vec<(String, String)>,
    /// Most linear memory one instance may grow to, in bytes.
    pub memory_limit: usize,
    /// Longest one guest call may run before it is stopped with `StoreError::Guest`.
    pub call_timeout: Duration,
    /// The wall clock the guest reads.
    pub clock: HostClock,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            data_dir: Some(PathBuf::from("./data")),
            env: Vec::new(),
            memory_limit: 512 << 20,
            call_timeout: Duration::from_secs(30),
            clock: HostClock::default(),
        }
    }
}

impl StoreOptions {
    /// Options for a database in `data_dir` with otherwise default settings.
    pub fn in_dir(data_dir: impl Into<PathBuf>) -> Self {
        StoreOptions { data_dir: Some(data_dir.into()), ..StoreOptions::default() }
    }

    /// The host path of the database file, when it lives in the preopened directory.
    pub fn database_host_path(&self) -> Option<PathBuf> {
        let data_dir = self.data_dir.as_ref()?;
        let guest = self
            .env
            .iter()
            .rev()
            .find(|(n, _)| n == "SESSIONS_DATABASE")
            .map_or(DEFAULT_GUEST_DATABASE, |(_, v)| v);
        let relative = guest.strip_prefix(GUEST_DATA_DIR)?.strip_prefix('/')?;
        Some(data_dir.join(relative))
    }

    /// Sets (or replaces) one `SESSIONS_*` variable.
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.retain(|(n, _)| n != name);
        self.env.push((name.to_owned(), value.into()));
        self
    }
}
