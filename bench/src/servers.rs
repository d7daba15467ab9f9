//! Starting the HTTP servers compared in section 3 as real processes on loopback, and
//! reading their peak memory.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Serialize;

/// The servers, ours first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerKind {
    /// `host-example serve`: the component in wasmtime, file-backed, default settings.
    HostExample,
    /// tower-sessions + tower-sessions-sqlx-store on a SQLite file.
    Sqlx,
    /// tower-sessions + tower-sessions-libsql-store on a local libSQL file.
    Libsql,
    /// tower-sessions + tower-sessions-redis-store against redis-server.
    Redis,
}

impl ServerKind {
    pub const ALL: [ServerKind; 4] = [ServerKind::HostExample, ServerKind::Sqlx, ServerKind::Libsql, ServerKind::Redis];

    pub fn label(self) -> &'static str {
        match self {
            ServerKind::HostExample => "libsqlstore",
            ServerKind::Sqlx => "sqlx-sqlite",
            ServerKind::Libsql => "libsql-store",
            ServerKind::Redis => "redis-store",
        }
    }

    /// Whether it keeps sessions in SQLite (the peers our targets are set against).
    pub fn sqlite_backed(self) -> bool {
        matches!(self, ServerKind::Sqlx | ServerKind::Libsql)
    }
}

/// A running server (and its redis-server, for the Redis peer); killed when dropped.
pub struct Server {
    pub addr: SocketAddr,
    child: Child,
    redis: Option<Child>,
    _dir: tempfile::TempDir,
}

/// How long a server may take to print its address (ours compiles the component first).
const START_TIMEOUT: Duration = Duration::from_secs(120);

impl Server {
    /// Starts `kind` with its data in a fresh temporary directory. `bin_dir` holds the
    /// release binaries (`host-example`, `peer-*`).
    pub fn start(kind: ServerKind, bin_dir: &Path) -> anyhow::Result<Server> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("sessions.db").to_str().context("non-UTF-8 temp dir")?.to_owned();
        let listen = "127.0.0.1:0";
        let mut redis = None;
        let mut command = match kind {
            ServerKind::HostExample => {
                let mut c = Command::new(bin_dir.join("host-example"));
                c.args(["serve", "--listen", listen, "--data-dir"]).arg(dir.path());
                c
            }
            ServerKind::Sqlx => peer(bin_dir, "peer-sqlx", listen, &db),
            ServerKind::Libsql => peer(bin_dir, "peer-libsql", listen, &db),
            ServerKind::Redis => {
                let port = free_port()?;
                redis = Some(start_redis(port, dir.path())?);
                peer(bin_dir, "peer-redis", listen, &format!("redis://127.0.0.1:{port}"))
            }
        };
        let log = std::fs::File::create(dir.path().join("server.log"))?;
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {:?} (build it with `cargo build --release -p bench --bins`)", command))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        // The server prints one line; reading it on a thread bounds the wait.
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
        let server_log = || std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
        let Some(addr) = line.trim().strip_prefix("listening on http://") else {
            let _ = child.kill();
            bail!("{} did not start: {line:?}\n{}", kind.label(), server_log());
        };
        let addr = addr.parse().with_context(|| format!("address {addr:?}"))?;
        Ok(Server { addr, child, redis, _dir: dir })
    }

    /// Peak resident memory of the server process (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        peak_rss_mib(self.child.id())
    }

    /// Peak resident memory of its redis-server, if it has one.
    pub fn redis_peak_rss_mib(&self) -> Option<f64> {
        self.redis.as_ref().and_then(|r| peak_rss_mib(r.id()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for child in std::iter::once(&mut self.child).chain(self.redis.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn peer(bin_dir: &Path, name: &str, listen: &str, store: &str) -> Command {
    let mut c = Command::new(bin_dir.join(name));
    c.args(["--listen", listen, "--store", store]);
    c
}

/// A port nobody listens on right now (redis-server cannot be told to pick one).
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// redis-server on loopback with its default persistence (periodic RDB snapshots, no
/// append-only file), its files in `dir`; waits until it answers.
fn start_redis(port: u16, dir: &Path) -> anyhow::Result<Child> {
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--daemonize", "no", "--dir"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting redis-server (install it with bench/setup.sh)")?;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(child);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    bail!("redis-server did not listen on port {port} within 10s")
}

fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib / 1024.0)
}

/// The component `./dev build` makes: in the target directory this binary was built into
/// (`target/release/bench` → `target/wasm32-wasip2/release/libsqlstore.wasm`).
pub fn component() -> anyhow::Result<PathBuf> {
    let target = bin_dir()?.parent().context("the benchmark binary is not in a cargo target directory")?.to_owned();
    let path = target.join("wasm32-wasip2/release/libsqlstore.wasm");
    anyhow::ensure!(path.is_file(), "{} is missing: run ./dev build", path.display());
    Ok(path)
}

/// Where the release binaries are: beside this one (`target/release`).
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe.parent().context("the benchmark binary has no directory")?.to_owned())
}
