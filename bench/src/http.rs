//! Section 3, HTTP end to end: each server under `wrk` on `/get` and `/put`, at each
//! number of connections in the plan.
//!
//! Cookies: before the load, the benchmark creates a pool of sessions on the server
//! (one `/put` each, without a cookie, keeping the `session` cookie it sets) and checks
//! that `/get` answers from one. A wrk Lua script then sends every request with a cookie
//! from that pool, each wrk thread cycling through it from its own offset; so `/get` is
//! one session load (a find), `/put` a load plus a save (find + commit) of an existing
//! session, on every server alike.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Serialize;

use crate::http_client::Client;
use crate::plan::Plan;
use crate::servers::{Server, ServerKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    Get,
    Put,
}

impl Route {
    pub fn path(self) -> &'static str {
        match self {
            Route::Get => "/get",
            Route::Put => "/put",
        }
    }
}

/// One load run.
#[derive(Debug, Clone, Serialize)]
pub struct HttpRow {
    pub server: ServerKind,
    pub route: Route,
    pub connections: u32,
    pub requests: u64,
    pub req_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Non-2xx answers plus socket errors and timeouts, as wrk counts them.
    pub errors: u64,
}

/// Peak memory of one server over all its runs.
#[derive(Debug, Clone, Serialize)]
pub struct ServerMemory {
    pub server: ServerKind,
    pub peak_rss_mib: Option<f64>,
    /// redis-server's own peak, for the Redis peer.
    pub redis_peak_rss_mib: Option<f64>,
}

pub async fn run(plan: &Plan, bin_dir: &Path) -> anyhow::Result<(Vec<HttpRow>, Vec<ServerMemory>)> {
    let work = tempfile::tempdir()?;
    let mut rows = Vec::new();
    let mut memory = Vec::new();
    for kind in ServerKind::ALL {
        let server = Server::start(kind, bin_dir)?;
        let cookies = make_sessions(&server, plan.http_sessions)
            .with_context(|| format!("preparing sessions on {}", kind.label()))?;
        for route in [Route::Get, Route::Put] {
            let script = work.path().join(format!("{}-{}.lua", kind.label(), route.path().trim_start_matches('/')));
            std::fs::write(&script, lua_script(&cookies, route))?;
            for &connections in &plan.http_connections {
                let row = run_wrk(kind, &server, route, connections, plan.http_duration, &script)?;
                eprintln!(
                    "  {:<13} {} c={:<3} {:>8.0} req/s  p50 {:.2} ms  p99 {:.2} ms  errors {}",
                    kind.label(),
                    route.path(),
                    connections,
                    row.req_per_s,
                    row.p50_ms,
                    row.p99_ms,
                    row.errors
                );
                rows.push(row);
            }
        }
        memory.push(ServerMemory {
            server: kind,
            peak_rss_mib: server.peak_rss_mib(),
            redis_peak_rss_mib: server.redis_peak_rss_mib(),
        });
    }
    Ok((rows, memory))
}

/// Creates `n` sessions through `/put` and checks one through `/get`.
fn make_sessions(server: &Server, n: u32) -> anyhow::Result<Vec<String>> {
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

/// The wrk script: a cookie from the pool on every request, figures on one line at the end.
/// `/put` sends a new message each time: tower-sessions saves a session only when a value
/// changed, so a constant message would make the peers' `/put` a read.
fn lua_script(cookies: &[String], route: Route) -> String {
    let path = match route {
        Route::Get => "\"/get\"",
        Route::Put => "\"/put?message=m\" .. i",
    };
    let mut list = String::new();
    for c in cookies {
        let _ = write!(list, "\"{c}\",");
    }
    format!(
        r#"local cookies = {{ {list} }}
local threads = 0
function setup(thread)
  thread:set("offset", threads * 7919)
  threads = threads + 1
end
local i = 0
function init(args)
  i = offset or 0
end
function request()
  i = i + 1
  return wrk.format(nil, {path}, {{ ["Cookie"] = "session=" .. cookies[(i % #cookies) + 1] }})
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%d duration_us=%d errors=%d p50_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"#
    )
}

fn run_wrk(
    kind: ServerKind,
    server: &Server,
    route: Route,
    connections: u32,
    duration: Duration,
    script: &Path,
) -> anyhow::Result<HttpRow> {
    // Two cores: the load generator gets at most two threads (and competes with the server).
    let threads = connections.min(2);
    let output = Command::new("wrk")
        .args(["-t", &threads.to_string(), "-c", &connections.to_string()])
        .args(["-d", &format!("{}s", duration.as_secs().max(1)), "--timeout", "5s", "-s"])
        .arg(script)
        .arg(format!("http://{}{}", server.addr, route.path()))
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
        server: kind,
        route,
        connections,
        requests: requests as u64,
        req_per_s: requests / (field("duration_us")? / 1e6).max(f64::MIN_POSITIVE),
        p50_ms: field("p50_us")? / 1e3,
        p99_ms: field("p99_us")? / 1e3,
        max_ms: field("max_us")? / 1e3,
        errors: field("errors")? as u64,
    })
}
