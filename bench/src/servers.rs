//! Starting the HTTP servers compared in the HTTP and edge sections as real processes on
//! loopback, each with its data in a fresh directory, and reading their memory from `/proc`.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Serialize;

use crate::paths::repo_root;
use crate::sqld::Sqld;

/// The servers, ours first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerKind {
    /// `host-example serve`: the component in wasmtime, one long-lived instance, file-backed
    /// with its default (exclusive) locking.
    HostExample,
    /// `host-example serve --database http://…`: the same against a local sqld.
    HostExampleSqld,
    /// The edge app composed with the component under `wasmtime serve` (started by
    /// `examples/edge-app/serve.sh`, its defaults: wasmtime reuses a WASI 0.3 instance for up
    /// to 128 requests, 16 at once), file-backed.
    EdgeApp,
    /// The same against a local sqld.
    EdgeAppSqld,
    /// The file-backed edge app started with `serve.sh --reuse-instances 1`: a fresh instance
    /// for every request, as an edge runtime that never reuses them would run it.
    EdgeAppPerRequest,
    /// tower-sessions + tower-sessions-sqlx-store on a SQLite file, sqlx's defaults.
    Sqlx,
    /// The same configured as a knowledgeable user would: WAL, `synchronous=NORMAL`, a
    /// pool of 8.
    SqlxTuned,
    /// tower-sessions + tower-sessions-libsql-store on a local libSQL file.
    Libsql,
    /// tower-sessions + tower-sessions-redis-store against redis-server.
    Redis,
    /// The Node example (`examples/node`, `node src/main.js serve --database …`): the
    /// jco-transpiled component, against a libSQL server.
    NodeSqld,
    /// The Worker under workerd (`examples/workers/serve.sh --database …`).
    WorkerdSqld,
    /// The Deno server (`examples/deno/serve.sh --database …`).
    DenoSqld,
    /// No server: wrk posting a store's find pipeline straight to sqld, the edge section's
    /// floor (`bench/wrk/sqld-find.lua`).
    SqldFloor,
}

impl ServerKind {
    /// The HTTP section's servers.
    pub const ALL: [ServerKind; 9] = [
        ServerKind::HostExample,
        ServerKind::HostExampleSqld,
        ServerKind::EdgeApp,
        ServerKind::EdgeAppPerRequest,
        ServerKind::EdgeAppSqld,
        ServerKind::Sqlx,
        ServerKind::SqlxTuned,
        ServerKind::Libsql,
        ServerKind::Redis,
    ];

    /// The edge section's hosts, all against one sqld: host-example first, the edge app last
    /// (its connection per store call has made sqld stop answering for a while, see
    /// bench/README.md).
    pub const SQLD_HOSTS: [ServerKind; 5] = [
        ServerKind::HostExampleSqld,
        ServerKind::NodeSqld,
        ServerKind::WorkerdSqld,
        ServerKind::DenoSqld,
        ServerKind::EdgeAppSqld,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ServerKind::HostExample => "host-example",
            ServerKind::HostExampleSqld => "host-example+sqld",
            ServerKind::EdgeApp => "edge-app",
            ServerKind::EdgeAppSqld => "edge-app+sqld",
            ServerKind::EdgeAppPerRequest => "edge-app-per-request",
            ServerKind::Sqlx => "sqlx-sqlite",
            ServerKind::SqlxTuned => "sqlx-tuned",
            ServerKind::Libsql => "libsql-store",
            ServerKind::Redis => "redis-store",
            ServerKind::NodeSqld => "node+sqld",
            ServerKind::WorkerdSqld => "workerd+sqld",
            ServerKind::DenoSqld => "deno+sqld",
            ServerKind::SqldFloor => "sqld (floor)",
        }
    }

    /// Whether it keeps sessions in a local SQLite file (the peers our targets are set
    /// against).
    pub fn sqlite_peer(self) -> bool {
        matches!(self, ServerKind::Sqlx | ServerKind::SqlxTuned | ServerKind::Libsql)
    }

    /// Whether it is the edge app under `wasmtime serve` (instances reused, or one per
    /// request), whose no-store route is its floor.
    pub fn edge_app(self) -> bool {
        matches!(
            self,
            ServerKind::EdgeApp | ServerKind::EdgeAppSqld | ServerKind::EdgeAppPerRequest
        )
    }

    /// Whether it is the file-backed edge app (one-connection runs are measured on it).
    pub fn edge_file(self) -> bool {
        matches!(self, ServerKind::EdgeApp | ServerKind::EdgeAppPerRequest)
    }

    fn uses_sqld(self) -> bool {
        matches!(
            self,
            ServerKind::HostExampleSqld
                | ServerKind::EdgeAppSqld
                | ServerKind::NodeSqld
                | ServerKind::WorkerdSqld
                | ServerKind::DenoSqld
        )
    }
}

/// What starting our servers needs from the run.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The release binaries (`host-example`, `peer-*`).
    pub bin_dir: PathBuf,
    /// The session-store component (`libsqlstore.wasm`).
    pub component: PathBuf,
    /// host-example's compiled-component cache for this run.
    pub compile_cache: PathBuf,
}

/// A process a server needs beside it.
enum Sidecar {
    Redis { child: Child, port: u16 },
    Sqld(Sqld),
}

impl Sidecar {
    /// The URL a server reaches it at.
    fn url(&self) -> String {
        match self {
            Sidecar::Redis { port, .. } => format!("redis://127.0.0.1:{port}"),
            Sidecar::Sqld(s) => s.url(),
        }
    }
}

/// A running server (and its redis-server or sqld); killed when dropped.
pub struct Server {
    pub kind: ServerKind,
    pub addr: SocketAddr,
    child: Child,
    sidecar: Option<Sidecar>,
    /// What the server reported about its store (`store: …` on stdout), for the peers.
    reported_store: Option<String>,
    dir: tempfile::TempDir,
}

/// How long a server may take to print its address (wasmtime serve compiles the composed
/// component first; host-example without a cached compilation too).
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// The database file of the file-backed servers, in their data directory.
pub const DB_FILE: &str = "sessions.db";

impl Server {
    /// Starts `kind` with its data in a fresh temporary directory (and a sqld of its own,
    /// if it keeps its sessions in one).
    pub fn start(kind: ServerKind, launch: &Launch) -> anyhow::Result<Server> {
        Server::start_on(kind, launch, None)
    }

    /// Starts `kind`; one that keeps its sessions in a libSQL server uses the one at
    /// `database` (a URL) when given, else a sqld of its own.
    pub fn start_on(
        kind: ServerKind,
        launch: &Launch,
        database: Option<&str>,
    ) -> anyhow::Result<Server> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join(DB_FILE).to_str().context("non-UTF-8 temp dir")?.to_owned();
        let listen = "127.0.0.1:0";
        let sidecar = match kind {
            ServerKind::Redis => {
                let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
                Some(Sidecar::Redis { child: start_redis(port, dir.path())?, port })
            }
            k if k.uses_sqld() && database.is_none() => Some(Sidecar::Sqld(Sqld::start()?)),
            _ => None,
        };
        let sidecar_url = sidecar.as_ref().map(Sidecar::url);
        let sqld_url = database.or(sidecar_url.as_deref()).filter(|_| kind.uses_sqld());
        let log = dir.path().join("server.log");
        let started = match kind {
            ServerKind::HostExample | ServerKind::HostExampleSqld => {
                spawn_printing(host_example(launch, dir.path(), sqld_url), &log)
            }
            ServerKind::EdgeApp | ServerKind::EdgeAppSqld | ServerKind::EdgeAppPerRequest => {
                spawn_edge_app(
                    launch,
                    dir.path(),
                    sqld_url,
                    kind == ServerKind::EdgeAppPerRequest,
                    &log,
                )
            }
            ServerKind::Sqlx => {
                spawn_printing(peer(&launch.bin_dir, "peer-sqlx", listen, &db), &log)
            }
            ServerKind::SqlxTuned => {
                spawn_printing(peer(&launch.bin_dir, "peer-sqlx-tuned", listen, &db), &log)
            }
            ServerKind::Libsql => {
                spawn_printing(peer(&launch.bin_dir, "peer-libsql", listen, &db), &log)
            }
            ServerKind::Redis => {
                let url = sidecar_url.as_deref().context("the Redis peer has no redis-server")?;
                spawn_printing(peer(&launch.bin_dir, "peer-redis", listen, url), &log)
            }
            ServerKind::NodeSqld | ServerKind::WorkerdSqld | ServerKind::DenoSqld => {
                let url = sqld_url.context("a JavaScript host needs a libSQL server")?;
                spawn_printing(js_host(kind, launch, dir.path(), url), &log)
            }
            ServerKind::SqldFloor => bail!("the sqld floor is a wrk script, not a server"),
        };
        let started = started.with_context(|| format!("starting {}", kind.label()))?;
        Ok(Server {
            kind,
            addr: started.addr,
            child: started.child,
            sidecar,
            reported_store: started.store,
            dir,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process beside the server (redis-server, sqld): its name and pid.
    pub fn sidecar(&self) -> Option<(&'static str, u32)> {
        match self.sidecar.as_ref()? {
            Sidecar::Redis { child, .. } => Some(("redis-server", child.id())),
            Sidecar::Sqld(s) => Some(("sqld", s.pid()?)),
        }
    }

    /// The database file, for the servers that keep one in their data directory.
    pub fn database_file(&self) -> Option<PathBuf> {
        match self.kind {
            ServerKind::HostExample
            | ServerKind::EdgeApp
            | ServerKind::EdgeAppPerRequest
            | ServerKind::Sqlx
            | ServerKind::SqlxTuned
            | ServerKind::Libsql => Some(self.dir.path().join(DB_FILE)),
            _ => None,
        }
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// How the server keeps its sessions: journal mode, `synchronous`, locking or pool.
    /// The peers report their own connection's settings; ours are libsqlstore's settings
    /// (src/backend/local.rs), with the journal mode read back from the database file's
    /// header, which records whether the file is in WAL mode.
    pub fn storage(&self) -> String {
        let journal = || match self.database_file().and_then(|f| journal_from_header(&f)) {
            Some(j) => j,
            None => "unknown".into(),
        };
        match self.kind {
            ServerKind::HostExample => {
                format!(
                    "journal={} synchronous=full locking=exclusive, group commit (host-example serve default)",
                    journal()
                )
            }
            ServerKind::EdgeApp => {
                format!("journal={} synchronous=full (SESSIONS_LOCKING default)", journal())
            }
            ServerKind::EdgeAppPerRequest => {
                format!(
                    "journal={} synchronous=full (SESSIONS_LOCKING default); an instance per request",
                    journal()
                )
            }
            ServerKind::HostExampleSqld => "sqld on loopback, its defaults; group commit".into(),
            ServerKind::EdgeAppSqld => "sqld on loopback, its defaults".into(),
            ServerKind::NodeSqld => "sqld on loopback; one long-lived instance".into(),
            ServerKind::WorkerdSqld | ServerKind::DenoSqld => {
                "sqld on loopback; the package's instance pool".into()
            }
            _ => self.reported_store.clone().unwrap_or_else(|| "not reported".into()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(Sidecar::Redis { child, .. }) = &mut self.sidecar {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The journal mode a SQLite file is in, from its header: bytes 18 and 19 are 2 in WAL
/// mode, 1 with a rollback journal. `None` if the file cannot be read.
pub fn journal_from_header(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut header = [0u8; 20];
    std::fs::File::open(path).ok()?.read_exact(&mut header).ok()?;
    Some(match (header[18], header[19]) {
        (2, 2) => "wal".into(),
        (1, 1) => "rollback".into(),
        (w, r) => format!("header {w}/{r}"),
    })
}

/// `host-example serve` on a free port with its data in `data_dir`, the run's component
/// and compiled-component cache, file-backed or against `sqld_url`.
pub fn host_example(launch: &Launch, data_dir: &Path, sqld_url: Option<&str>) -> Command {
    let mut c = Command::new(launch.bin_dir.join("host-example"));
    c.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .arg("--component")
        .arg(&launch.component)
        .arg("--compile-cache")
        .arg(&launch.compile_cache);
    if let Some(url) = sqld_url {
        c.args(["--database", url]);
    }
    clean_env(&mut c);
    c
}

/// A JavaScript host against the libSQL server at `url`, on a free port, as its example
/// starts it: Node's `src/main.js serve` (after [`prepare_node`]), the Worker's and Deno's
/// `serve.sh` (which install and build what they miss), with the run's component and no
/// other setting. Each prints `listening on http://ADDR` on stdout.
fn js_host(kind: ServerKind, launch: &Launch, data_dir: &Path, url: &str) -> Command {
    let examples = repo_root().join("examples");
    let mut c = match kind {
        ServerKind::NodeSqld => {
            let mut c = Command::new(node_of_example());
            c.current_dir(examples.join("node"))
                .args(["src/main.js", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
                .arg(data_dir);
            c
        }
        ServerKind::WorkerdSqld => script(examples.join("workers/serve.sh")),
        _ => script(examples.join("deno/serve.sh")),
    };
    c.args(["--database", url]);
    clean_env(&mut c);
    c.env("LIBSQLSTORE_COMPONENT", &launch.component);
    c
}

/// The Node the example's `npm start` runs: its own pinned one (with JSPI) where npm installed
/// it into `node_modules/.bin`, else the `node` on PATH.
fn node_of_example() -> PathBuf {
    let own = repo_root().join("examples/node/node_modules/.bin/node");
    if own.exists() {
        own
    } else {
        PathBuf::from("node")
    }
}

fn script(path: PathBuf) -> Command {
    let mut c = Command::new(path);
    c.args(["--listen", "127.0.0.1:0"]);
    c
}

/// The Node example's packages and build (`npm install` when missing, then its
/// `scripts/build.js`), which its `npm start` does before every start.
pub fn prepare_node(launch: &Launch) -> anyhow::Result<()> {
    let dir = repo_root().join("examples/node");
    if !dir.join("node_modules/libsqlstore").exists() {
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .status()
            .context("running npm install in examples/node")?;
        anyhow::ensure!(status.success(), "npm install in examples/node failed");
    }
    let mut c = Command::new(node_of_example());
    c.arg("scripts/build.js").current_dir(&dir).stdout(Stdio::null());
    clean_env(&mut c);
    let status = c
        .env("LIBSQLSTORE_COMPONENT", &launch.component)
        .status()
        .context("building examples/node")?;
    anyhow::ensure!(status.success(), "examples/node/scripts/build.js failed");
    Ok(())
}

/// Starts and stops `host-example serve` once, so that `launch`'s compiled-component
/// cache holds the component.
pub fn fill_compile_cache(launch: &Launch) -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let log = data.path().join("server.log");
    let mut started = spawn_printing(host_example(launch, data.path(), None), &log)
        .context("filling the compile cache")?;
    terminate(&mut started.child);
    Ok(())
}

/// A server started and listening.
pub struct Started {
    pub child: Child,
    pub addr: SocketAddr,
    /// The `store: …` line it printed before listening, if any.
    pub store: Option<String>,
}

/// Spawns a server that prints `listening on http://ADDR` on stdout (after an optional
/// `store: …` line), its stderr going to `log`; waits for that line.
pub fn spawn_printing(mut command: Command, log: &Path) -> anyhow::Result<Started> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log)?)
        .spawn()
        .with_context(|| {
            format!(
                "starting {:?} (build it with `cargo build --release -p bench --bins`)",
                command
            )
        })?;
    let stdout = child.stdout.take().context("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    // Read on a thread to bound the wait; it keeps draining stdout until the server exits.
    std::thread::spawn(move || {
        let mut store = None;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(s) = line.strip_prefix("store: ") {
                store = Some(s.to_owned());
            } else if let Some(addr) = line.trim().strip_prefix("listening on http://") {
                let _ = tx.send((addr.to_owned(), store.take()));
            }
        }
    });
    let Ok((addr, store)) = rx.recv_timeout(START_TIMEOUT) else {
        let _ = child.kill();
        let _ = child.wait();
        bail!("did not start:\n{}", std::fs::read_to_string(log).unwrap_or_default());
    };
    let addr = addr.parse().with_context(|| format!("address {addr:?}"))?;
    Ok(Started { child, addr, store })
}

/// `examples/edge-app/serve.sh --listen 127.0.0.1:0 --data-dir DIR [--database URL]
/// [--reuse-instances 1]`, with the run's component and no `SESSIONS_*` setting (every
/// default); waits for wasmtime's "Serving HTTP on http://ADDR/" on stderr. serve.sh execs
/// wasmtime, so the child is the server itself.
fn spawn_edge_app(
    launch: &Launch,
    data_dir: &Path,
    sqld_url: Option<&str>,
    per_request: bool,
    log: &Path,
) -> anyhow::Result<Started> {
    let mut c = Command::new(edge_serve_script());
    c.args(["--listen", "127.0.0.1:0", "--data-dir"]).arg(data_dir);
    if let Some(url) = sqld_url {
        c.args(["--database", url]);
    }
    if per_request {
        c.args(["--reuse-instances", "1"]);
    }
    clean_env(&mut c);
    c.env("LIBSQLSTORE_COMPONENT", &launch.component).env_remove("CARGO_TARGET_DIR");
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .spawn()
        .with_context(|| format!("starting {c:?}"))?;
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let addr = text
            .lines()
            .find_map(|l| l.split("Serving HTTP on http://").nth(1))
            .map(|a| a.trim_end_matches('/'));
        if let Some(addr) = addr {
            let addr = addr.parse().with_context(|| format!("address {addr:?}"))?;
            return Ok(Started { child, addr, store: None });
        }
        if child.try_wait()?.is_some() || started.elapsed() > START_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            bail!("wasmtime serve did not start:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Builds the edge app and composes it with the run's component (`serve.sh --compose-only`).
pub fn compose_edge_app(component: &Path) -> anyhow::Result<()> {
    let mut c = Command::new(edge_serve_script());
    c.arg("--compose-only").env("LIBSQLSTORE_COMPONENT", component).stdout(Stdio::null());
    clean_env(&mut c);
    // serve.sh reads the app it builds from examples/edge-app/target, where cargo puts it
    // unless told otherwise.
    c.env_remove("CARGO_TARGET_DIR");
    let status = c.status().context("running examples/edge-app/serve.sh --compose-only")?;
    anyhow::ensure!(status.success(), "examples/edge-app/serve.sh --compose-only failed");
    Ok(())
}

fn edge_serve_script() -> PathBuf {
    repo_root().join("examples/edge-app/serve.sh")
}

/// Every setting at its default: no `SESSIONS_*` (nor the edge app's lifetime) from the
/// benchmark's own environment reaches a server. Nor does `RUST_BACKTRACE`: with it, wasmtime
/// captures a native backtrace for every failed WASI call (SQLite's existence checks fail by
/// design), which made the edge app's `/get` half as slow again.
fn clean_env(c: &mut Command) {
    for (name, _) in std::env::vars_os() {
        let n = name.to_string_lossy();
        if n.starts_with("SESSIONS_")
            || n.starts_with("LIBSQLSTORE_")
            || ["EDGE_SESSION_LIFETIME", "EDGE_APP", "RUST_BACKTRACE", "RUST_LIB_BACKTRACE"]
                .contains(&n.as_ref())
        {
            c.env_remove(&name);
        }
    }
}

fn peer(bin_dir: &Path, name: &str, listen: &str, store: &str) -> Command {
    let mut c = Command::new(bin_dir.join(name));
    c.args(["--listen", listen, "--store", store]);
    c
}

/// SIGTERM, then wait up to 10 s for the exit; SIGKILL after that.
pub fn terminate(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
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
    let _ = child.wait();
    bail!("redis-server did not listen on port {port} within 10s")
}

/// A field of `/proc/PID/status` in MiB (`VmRSS`: resident now; `VmHWM`: the peak).
pub fn status_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// The component `./dev build` makes: in the target directory this binary was built into
/// (`target/release/bench` → `target/wasm32-wasip2/release/libsqlstore.wasm`).
pub fn component() -> anyhow::Result<PathBuf> {
    let target = bin_dir()?
        .parent()
        .context("the benchmark binary is not in a cargo target directory")?
        .to_owned();
    let path = target.join("wasm32-wasip2/release/libsqlstore.wasm");
    anyhow::ensure!(path.is_file(), "{} is missing: run ./dev build", path.display());
    Ok(path)
}

/// Where the release binaries are: beside this one (`target/release`).
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe.parent().context("the benchmark binary has no directory")?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database file left in `mode` by a connection that then closed.
    fn database_in(dir: &Path, mode: &str) -> PathBuf {
        let path = dir.join(format!("{mode}.db"));
        futures::executor::block_on(async {
            let db = libsql::Builder::new_local(path.to_str().expect("UTF-8 temp dir"))
                .build()
                .await
                .expect("open");
            let conn = db.connect().expect("connect");
            conn.query(&format!("PRAGMA journal_mode={mode}"), ())
                .await
                .expect("pragma")
                .next()
                .await
                .expect("row");
            conn.execute("CREATE TABLE t (x)", ()).await.expect("create");
        });
        path
    }

    #[test]
    fn the_journal_mode_is_read_back_from_the_file_header() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(journal_from_header(&database_in(dir.path(), "wal")).as_deref(), Some("wal"));
        assert_eq!(
            journal_from_header(&database_in(dir.path(), "delete")).as_deref(),
            Some("rollback")
        );
        assert_eq!(journal_from_header(&dir.path().join("missing.db")), None);
    }
}
