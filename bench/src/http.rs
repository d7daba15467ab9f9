//! Section 3, HTTP end to end: each server under `wrk` on `/get` and `/put` (and, for the
//! edge app, a no-store route), at each number of connections in the plan, its memory
//! sampled while the load runs.
//!
//! Cookies: before the load, the benchmark creates a pool of sessions on the server
//! (one `/put` each, without a cookie, keeping the `session` cookie it sets) and checks
//! that `/get` answers from one. A wrk Lua script then sends every request with a cookie
//! from that pool, each wrk thread cycling through it from its own offset; so `/get` is
//! one session load (a find), `/put` a load plus a save (find + commit) of an existing
//! session, on every server alike. The no-store route (`/none`, any path the app does not
//! serve) answers 404 without touching a session: the cost of a request alone.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Serialize;

use crate::http_client::Client;
use crate::plan::Plan;
use crate::servers::{status_mib, Launch, Server, ServerKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Route {
    Get,
    Put,
    /// A path the server does not serve: a 404 that loads no session.
    NoStore,
}

impl Route {
    pub const ALL: [Route; 3] = [Route::Get, Route::Put, Route::NoStore];

    pub fn path(self) -> &'static str {
        match self {
            Route::Get => "/get",
            Route::Put => "/put",
            Route::NoStore => "/none",
        }
    }

    /// The key used in `bench-results.json`.
    pub fn key(self) -> &'static str {
        match self {
            Route::Get => "get",
            Route::Put => "put",
            Route::NoStore => "no_store",
        }
    }
}

/// One load run.
#[derive(Debug, Clone, Serialize)]
pub struct HttpRow {
    pub server: ServerKind,
    pub route: Route,
    pub connections: u32,
    /// Requests answered within the run.
    pub requests: u64,
    /// Requests sent: the answered ones, those still waiting for an answer when the run
    /// ended (up to one per connection), and those that failed.
    pub sent: u64,
    pub req_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Requests wrk gave up on after its timeout (`Socket errors … timeout`).
    pub timeouts: u64,
    /// Answers other than 2xx or 3xx (`Non-2xx or 3xx responses`); all of them on the
    /// no-store route, a 404.
    pub non_2xx: u64,
    /// Connect, read and write errors.
    pub socket_errors: u64,
}

impl HttpRow {
    /// No request was answered within the run, though some were sent: every one took
    /// longer than the run (its figures are then empty).
    pub fn stalled(&self) -> bool {
        self.requests == 0 && self.sent > 0
    }
}

/// Memory of a process while the load ran: `VmRSS` sampled during every wrk run on the
/// server, and `VmHWM` (the peak since it started) at the end.
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    pub rss_median_mib: Option<f64>,
    pub rss_max_mib: Option<f64>,
    pub peak_rss_mib: Option<f64>,
}

/// What one server was, and used, over all its runs.
#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    pub server: ServerKind,
    /// Journal mode, `synchronous`, locking or pool: how it keeps sessions.
    pub storage: String,
    pub memory: Memory,
    /// redis-server or sqld beside it: its name and memory.
    pub sidecar: Option<(String, Memory)>,
    /// Sessions in its table during the load: counted by the server (`host-example stats`)
    /// where it can tell (`sessions_counted`), else the pool the benchmark created.
    pub sessions: u64,
    pub sessions_counted: bool,
    /// Size of its database file (and WAL), for the file-backed servers.
    pub database_mib: Option<f64>,
}

/// How often memory is sampled while wrk runs.
const RSS_EVERY: Duration = Duration::from_millis(100);

/// wrk's timeout: past the store's default busy timeout (5 s), so that a request the store
/// gave up on shows as a non-2xx answer (503), and a timeout means a request that hung.
const WRK_TIMEOUT: &str = "10s";

pub async fn run(
    plan: &Plan,
    launch: &Launch,
) -> anyhow::Result<(Vec<HttpRow>, Vec<ServerReport>)> {
    let work = tempfile::tempdir()?;
    let mut rows = Vec::new();
    let mut reports = Vec::new();
    for kind in ServerKind::ALL {
        let server = Server::start(kind, launch)?;
        let cookies = make_sessions(&server, plan.http_sessions)
            .with_context(|| format!("preparing sessions on {}", kind.label()))?;
        let mut samples = (Vec::new(), Vec::new());
        for route in routes(kind) {
            let script = work.path().join(format!("{}-{}.lua", kind.label(), route.key()));
            std::fs::write(&script, lua_script(&cookies, route))?;
            for connections in connection_counts(plan, kind, route) {
                let sampler = RssSampler::start(server.pid(), server.sidecar().map(|(_, pid)| pid));
                let url = format!("http://{}{}", server.addr, route.path());
                let row = run_wrk(kind, route, &url, connections, plan.http_duration, &script, &[]);
                let (own, sidecar) = sampler.finish();
                samples.0.extend(own);
                samples.1.extend(sidecar);
                let row = row?;
                if row.stalled() {
                    eprintln!("  {:<17} {:<5} c={:<3} STALLED: {} requests sent, none answered within the run", kind.label(), route.path(), connections, row.sent);
                }
                eprintln!(
                    "  {:<17} {:<5} c={:<3} {:>8.0} req/s  p50 {:.2} ms  p99 {:.2} ms  timeouts {}  non-2xx {}  socket errors {}",
                    kind.label(),
                    route.path(),
                    connections,
                    row.req_per_s,
                    row.p50_ms,
                    row.p99_ms,
                    row.timeouts,
                    row.non_2xx,
                    row.socket_errors
                );
                rows.push(row);
            }
        }
        let counted = sessions_held(&server, launch);
        let report = ServerReport {
            server: kind,
            storage: server.storage(),
            memory: memory(&mut samples.0, server.pid()),
            sidecar: server
                .sidecar()
                .map(|(name, pid)| (name.to_owned(), memory(&mut samples.1, pid))),
            sessions: counted.unwrap_or(u64::from(plan.http_sessions)),
            sessions_counted: counted.is_some(),
            database_mib: server.database_file().map(|f| database_mib(&f)),
        };
        eprintln!(
            "  {:<17} {}; RSS under load {} MiB (max {}), peak {} MiB; {} sessions",
            kind.label(),
            report.storage,
            mib(report.memory.rss_median_mib),
            mib(report.memory.rss_max_mib),
            mib(report.memory.peak_rss_mib),
            report.sessions
        );
        reports.push(report);
    }
    Ok((rows, reports))
}

/// The routes loaded on `kind`: the no-store route on the edge app only, where it is the
/// per-request floor its `/get` is measured against.
fn routes(kind: ServerKind) -> Vec<Route> {
    Route::ALL.into_iter().filter(|&r| r != Route::NoStore || kind.edge_app()).collect()
}

/// The plan's connection counts, plus one connection for the file-backed edge app's
/// `/get` and no-store route (a target is set on its one-connection latency).
fn connection_counts(plan: &Plan, kind: ServerKind, route: Route) -> Vec<u32> {
    let mut counts = plan.http_connections.clone();
    if kind.edge_file() && route != Route::Put {
        counts.push(1);
    }
    counts.sort_unstable();
    counts.dedup();
    counts
}

fn mib(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into())
}

fn memory(samples: &mut [f64], pid: u32) -> Memory {
    samples.sort_by(f64::total_cmp);
    Memory {
        rss_median_mib: samples.get(samples.len() / 2).copied(),
        rss_max_mib: samples.last().copied(),
        peak_rss_mib: status_mib(pid, "VmHWM"),
    }
}

/// `VmRSS` of a server (and of its sidecar) every `RSS_EVERY`, on a thread, until finished.
struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(Vec<f64>, Vec<f64>)>,
}

impl RssSampler {
    fn start(pid: u32, sidecar: Option<u32>) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut own, mut beside) = (Vec::new(), Vec::new());
            while !flag.load(Ordering::Relaxed) {
                own.extend(status_mib(pid, "VmRSS"));
                beside.extend(sidecar.and_then(|p| status_mib(p, "VmRSS")));
                std::thread::sleep(RSS_EVERY);
            }
            (own, beside)
        });
        RssSampler { stop, thread }
    }

    fn finish(self) -> (Vec<f64>, Vec<f64>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// Sessions in host-example's file-backed table, as `host-example stats` reports them
/// (through the running server's control socket); `None` for the other servers.
fn sessions_held(server: &Server, launch: &Launch) -> Option<u64> {
    if server.kind != ServerKind::HostExample {
        return None;
    }
    let output = Command::new(launch.bin_dir.join("host-example"))
        .args(["stats", "--data-dir"])
        .arg(server.data_dir())
        .arg("--component")
        .arg(&launch.component)
        .arg("--compile-cache")
        .arg(&launch.compile_cache)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let field =
        |name: &str| text.lines().find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok());
    Some(field("active:")? + field("expired:")?)
}

/// Size of a database file and its WAL, in MiB.
fn database_mib(file: &Path) -> f64 {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = file.as_os_str().to_owned();
    wal.push("-wal");
    (size(file) + size(Path::new(&wal))) as f64 / (1024.0 * 1024.0)
}

/// Creates `n` sessions through `/put` and checks one through `/get`.
pub fn make_sessions(server: &Server, n: u32) -> anyhow::Result<Vec<String>> {
    let mut client = Client::connect(server.addr)?;
    let mut cookies = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let reply = client.get("/put", None)?;
        anyhow::ensure!(reply.status == 200, "/put answered {}: {}", reply.status, reply.body);
        cookies.push(reply.session.context("/put set no session cookie")?);
    }
    let check = client.get("/get", cookies.first().map(String::as_str))?;
    anyhow::ensure!(
        check.status == 200 && check.body.contains("Hello from a session!"),
        "/get with the session's cookie answered {} {:?}",
        check.status,
        check.body
    );
    Ok(cookies)
}

/// What every wrk script shares (`bench/wrk/figures.lua`): the requests sent, and the
/// figures on the `BENCH` line [`run_wrk`] reads.
const FIGURES_LUA: &str = include_str!("../wrk/figures.lua");

/// A wrk script: the shared part, then the route's own (its `request()`).
pub fn wrk_script(route_part: &str) -> String {
    format!("{FIGURES_LUA}\n{route_part}")
}

/// The wrk script: a cookie from the pool on every request, each thread cycling through the
/// pool from its own offset.
/// `/put` sends a new message each time: tower-sessions saves a session only when a value
/// changed, so a constant message would make the peers' `/put` a read.
pub fn lua_script(cookies: &[String], route: Route) -> String {
    let path = match route {
        Route::Get => "\"/get\"",
        Route::Put => "\"/put?message=m\" .. i",
        Route::NoStore => "\"/none\"",
    };
    let mut list = String::new();
    for c in cookies {
        let _ = write!(list, "\"{c}\",");
    }
    wrk_script(&format!(
        r#"local cookies = {{ {list} }}
function request()
  i = i + 1
  sent = sent + 1
  return wrk.format(nil, {path}, {{ ["Cookie"] = "session=" .. cookies[(i % #cookies) + 1] }})
end
"#
    ))
}

/// One wrk run of `connections` (at most two threads: the machine has two cores, shared by
/// wrk and the server) against `url` for `duration`, with `script` and the `args` it takes
/// after `--`; its figures as a row of `server` and `route`.
pub fn run_wrk(
    server: ServerKind,
    route: Route,
    url: &str,
    connections: u32,
    duration: Duration,
    script: &Path,
    args: &[String],
) -> anyhow::Result<HttpRow> {
    let threads = connections.min(2);
    let output = Command::new("wrk")
        .args(["-t", &threads.to_string(), "-c", &connections.to_string()])
        .args(["-d", &format!("{}s", duration.as_secs().max(1)), "--timeout", WRK_TIMEOUT, "-s"])
        .arg(script)
        .arg(url)
        .arg("--")
        .args(args)
        .output()
        .context("running wrk (install it with bench/setup.sh)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(line) = stdout.lines().find_map(|l| l.strip_prefix("BENCH ")) else {
        bail!("wrk gave no figures: {}{}", stdout, String::from_utf8_lossy(&output.stderr));
    };
    let field = |name: &str| -> anyhow::Result<f64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .with_context(|| format!("no {name} in {line:?}"))?
            .parse::<f64>()
            .with_context(|| format!("{name} in {line:?}"))
    };
    let requests = field("requests")?;
    Ok(HttpRow {
        server,
        route,
        connections,
        requests: requests as u64,
        sent: field("sent")? as u64,
        req_per_s: requests / (field("duration_us")? / 1e6).max(f64::MIN_POSITIVE),
        p50_ms: field("p50_us")? / 1e3,
        p99_ms: field("p99_us")? / 1e3,
        max_ms: field("max_us")? / 1e3,
        timeouts: field("timeouts")? as u64,
        non_2xx: field("non_2xx")? as u64,
        socket_errors: field("socket_errors")? as u64,
    })
}
