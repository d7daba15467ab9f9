//! A real libSQL server (`sqld`) on a free loopback port, for the remote rows: the store
//! level (the component's remote backend against the `libsql` crate's remote client) and
//! the HTTP servers that keep their sessions in it. The server is the tests' own fixture
//! (`host/tests/integration/common/sqld.rs`: `SQLD_BIN`, else `tools/install-sqld.sh`'s
//! copy in `target/tools/sqld`), here with a data directory of its own.

use std::process::Command;

use anyhow::Context;

use crate::paths::repo_root;

#[path = "../../host/tests/integration/common/sqld.rs"]
#[allow(dead_code)] // the tests use more of the fixture than the benchmark
mod fixture;

/// A running sqld with a fresh database in a directory of its own; killed when dropped.
pub struct Sqld {
    // Dropped first: the server stops before its directory goes.
    server: fixture::Sqld,
    _dir: tempfile::TempDir,
}

impl Sqld {
    /// Installs the pinned sqld unless `SQLD_BIN` names one (a no-op when installed).
    pub fn install() -> anyhow::Result<()> {
        if std::env::var_os("SQLD_BIN").is_some() {
            return Ok(());
        }
        let script = repo_root().join("tools/install-sqld.sh");
        let status = Command::new(&script)
            .status()
            .with_context(|| format!("running {}", script.display()))?;
        anyhow::ensure!(status.success(), "{} failed", script.display());
        Ok(())
    }

    /// Starts sqld on a free loopback port with a fresh, empty database.
    pub fn start() -> anyhow::Result<Sqld> {
        let dir = tempfile::tempdir()?;
        let server = fixture::Sqld::start(dir.path(), None).map_err(anyhow::Error::msg)?;
        Ok(Sqld { server, _dir: dir })
    }

    /// `http://127.0.0.1:PORT`, for `SESSIONS_DATABASE` and the native client.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The server's process id, for its memory figures; none once it has stopped.
    pub fn pid(&self) -> Option<u32> {
        self.server.pid()
    }
}
