//! How a store instance is set up: where its data lives, which `SESSIONS_*` settings it
//! gets, and the bounds on every guest call.

use std::path::PathBuf;
use std::time::Duration;

use crate::clock::HostClock;

/// Where the data directory appears inside the guest: the component's default database
/// lies in it.
pub use libsqlstore::config::DATA_DIR as GUEST_DATA_DIR;
use libsqlstore::config::{Config, Database, DEFAULT_DATABASE as DEFAULT_GUEST_DATABASE};

/// Default [`StoreOptions::remote_instances`]: enough calls in flight to keep a server on
/// this machine or a nearby one busy (docs/deploy.md, "Embedding the host library").
pub const DEFAULT_REMOTE_INSTANCES: usize = 8;

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
    /// Most instances serving a store on a libSQL server, one call in flight each, so that
    /// calls overlap their round trips ([`DEFAULT_REMOTE_INSTANCES`]; 0 counts as 1). A
    /// database file or `:memory:` is always served by one (see [`StoreOptions::instances`]).
    pub remote_instances: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            data_dir: Some(PathBuf::from("./data")),
            env: Vec::new(),
            memory_limit: 512 << 20,
            call_timeout: Duration::from_secs(30),
            clock: HostClock::default(),
            remote_instances: DEFAULT_REMOTE_INSTANCES,
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

    /// How many instances serve the store: [`StoreOptions::remote_instances`] (at least one)
    /// when `SESSIONS_DATABASE` names a libSQL server, else exactly one. A file takes one
    /// writer at a time under its lock, and a `:memory:` database lives in one instance.
    pub fn instances(&self) -> usize {
        let database = self.env.iter().filter(|(name, _)| name == "SESSIONS_DATABASE");
        match Config::from_vars(database.map(|(name, value)| (name, value))) {
            Ok(Config { database: Database::Remote(_), .. }) => self.remote_instances.max(1),
            _ => 1,
        }
    }

    /// Sets (or replaces) one `SESSIONS_*` variable.
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.retain(|(n, _)| n != name);
        self.env.push((name.to_owned(), value.into()));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_libsql_server_gets_more_than_one_instance() {
        let options = |database: &str| {
            StoreOptions { remote_instances: 5, ..StoreOptions::default() }
                .env("SESSIONS_DATABASE", database)
        };
        for server in ["http://127.0.0.1:8080", "https://db.example", "libsql://db.turso.io"] {
            assert_eq!(options(server).instances(), 5, "{server}");
        }
        for one in ["/data/sessions.db", "/tmp/elsewhere.db", ":memory:", "ftp://host", ""] {
            assert_eq!(options(one).instances(), 1, "{one:?}");
        }
        assert_eq!(StoreOptions::default().instances(), 1, "the default database is a file");
        let zero = StoreOptions { remote_instances: 0, ..options("http://127.0.0.1:8080") };
        assert_eq!(zero.instances(), 1, "0 counts as 1");
    }
}
