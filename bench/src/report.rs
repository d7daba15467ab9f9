//! The run's results: the headline ratios and targets, the printed table, and
//! `bench-results.json`.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::http::{HttpRow, Route, ServerMemory};
use crate::machine::Machine;
use crate::servers::ServerKind;
use crate::startup::StartupResult;
use crate::store_level::{Op, StoreRow};
use crate::subject::{Kind, Storage};
use crate::sweep::SweepResult;

/// Connections at which the HTTP ratios are taken.
pub const HEADLINE_CONNECTIONS: u32 = 64;
/// Table size at which the store ratios are taken.
pub const HEADLINE_SESSIONS: u64 = 10_000;

#[derive(Debug, Serialize)]
pub struct Results {
    pub mode: &'static str,
    pub machine: Machine,
    pub store: Vec<StoreRow>,
    pub sweep: Vec<SweepResult>,
    pub http: Vec<HttpRow>,
    pub http_memory: Vec<ServerMemory>,
    pub startup: Option<StartupResult>,
}

/// A target of the issue, checked (not asserted).
struct Target {
    key: &'static str,
    goal: &'static str,
    value: Option<f64>,
    met: Option<bool>,
}

impl Results {
    /// Component ops/s ÷ native ops/s for `op` on `storage` with `sessions` stored.
    pub fn store_ratio(&self, storage: Storage, sessions: u64, op: Op) -> Option<f64> {
        let ops = |kind| {
            self.store
                .iter()
                .find(|r| r.storage == storage && r.sessions == sessions && r.op == op && r.kind == kind)
                .map(|r| r.figures.ops_per_s)
        };
        Some(ops(Kind::Component)? / ops(Kind::Native)?)
    }

    fn http_row(&self, server: ServerKind, route: Route, connections: u32) -> Option<&HttpRow> {
        self.http.iter().find(|r| r.server == server && r.route == route && r.connections == connections)
    }

    /// The SQLite-backed peer with the most req/s on `route` at `connections`.
    fn best_sqlite_peer(&self, route: Route, connections: u32) -> Option<&HttpRow> {
        self.http
            .iter()
            .filter(|r| r.server.sqlite_backed() && r.route == route && r.connections == connections)
            .max_by(|a, b| a.req_per_s.total_cmp(&b.req_per_s))
    }

    /// Our req/s ÷ the best SQLite-backed peer's.
    pub fn http_ratio(&self, route: Route, connections: u32) -> Option<f64> {
        let ours = self.http_row(ServerKind::HostExample, route, connections)?;
        Some(ours.req_per_s / self.best_sqlite_peer(route, connections)?.req_per_s)
    }

    fn component_sweep(&self) -> Option<&SweepResult> {
        self.sweep.iter().find(|s| s.kind == Kind::Component)
    }

    fn targets(&self) -> Vec<Target> {
        let at_least = |v: Option<f64>, goal: f64| v.map(|v| v >= goal);
        let below = |v: Option<f64>, goal: f64| v.map(|v| v < goal);
        let find = self.store_ratio(Storage::File, HEADLINE_SESSIONS, Op::Find);
        let commit = self.store_ratio(Storage::File, HEADLINE_SESSIONS, Op::Commit);
        let sweep = self.component_sweep();
        let rows = sweep.map(|s| s.rows_per_s);
        let worst_find = sweep.and_then(|s| s.concurrent_finds).map(|f| f.max_ms);
        let get = self.http_ratio(Route::Get, HEADLINE_CONNECTIONS);
        let put = self.http_ratio(Route::Put, HEADLINE_CONNECTIONS);
        let startup = self.startup.as_ref().map(|s| s.first_find_file.p50_ms);
        vec![
            Target { key: "store.find.ratio_vs_native", goal: ">= 0.7", value: find, met: at_least(find, 0.7) },
            Target { key: "store.commit.ratio_vs_native", goal: ">= 0.7", value: commit, met: at_least(commit, 0.7) },
            Target { key: "sweep.rows_per_s", goal: ">= 200000", value: rows, met: at_least(rows, 200_000.0) },
            Target { key: "sweep.max_find_latency_ms", goal: "<= 20", value: worst_find, met: worst_find.map(|v| v <= 20.0) },
            Target { key: "http.get.ratio_vs_best_peer", goal: ">= 1.2", value: get, met: at_least(get, 1.2) },
            Target { key: "http.put.ratio_vs_best_peer", goal: ">= 1.2", value: put, met: at_least(put, 1.2) },
            Target { key: "startup.instantiate_ms", goal: "< 5", value: startup, met: below(startup, 5.0) },
        ]
    }

    /// `bench-results.json`: the headline keys (flat, as the issue names them), whether
    /// each target was met, then every measurement.
    pub fn to_json(&self) -> anyhow::Result<Value> {
        let mut top = Map::new();
        for t in self.targets() {
            top.insert(t.key.into(), json!(t.value.map(round3)));
        }
        for op in Op::ALL {
            for storage in [Storage::File, Storage::FileShared, Storage::Memory] {
                for sessions in self.store.iter().map(|r| r.sessions).collect::<std::collections::BTreeSet<_>>() {
                    if let Some(r) = self.store_ratio(storage, sessions, op) {
                        let key = format!("store.{}.{}.{}.ratio_vs_native", op.label(), storage.key(), sessions);
                        top.insert(key, json!(round3(r)));
                    }
                }
            }
        }
        for route in [Route::Get, Route::Put] {
            if let (Some(ours), Some(redis)) = (
                self.http_row(ServerKind::HostExample, route, HEADLINE_CONNECTIONS),
                self.http_row(ServerKind::Redis, route, HEADLINE_CONNECTIONS),
            ) {
                let key = format!("http.{}.ratio_vs_redis", route_key(route));
                top.insert(key, json!(round3(ours.req_per_s / redis.req_per_s)));
            }
        }
        let targets: Map<String, Value> = self
            .targets()
            .into_iter()
            .map(|t| (t.key.to_owned(), json!({ "goal": t.goal, "met": t.met })))
            .collect();
        top.insert("targets".into(), Value::Object(targets));
        let details = serde_json::to_value(self)?;
        if let Value::Object(details) = details {
            top.extend(details);
        }
        Ok(Value::Object(top))
    }

    /// The table printed at the end of a run.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "\n== libsqlstore benchmark ({} run) ==", self.mode);
        let _ = writeln!(out, "machine: {}", self.machine.describe());
        self.store_table(&mut out);
        self.sweep_table(&mut out);
        self.http_table(&mut out);
        self.startup_table(&mut out);
        let _ = writeln!(out, "\n-- targets (reported, not asserted) --");
        for t in self.targets() {
            let verdict = match t.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "not measured",
            };
            let value = t.value.map(|v| format!("{v:.3}")).unwrap_or_else(|| "-".into());
            let _ = writeln!(out, "{:<30} {:>12}  goal {:<9} {}", t.key, value, t.goal, verdict);
        }
        out
    }

    fn store_table(&self, out: &mut String) {
        if self.store.is_empty() {
            return;
        }
        let _ = writeln!(out, "\n-- store level (one call at a time; ratio = component ops/s / native ops/s) --");
        let _ = writeln!(
            out,
            "{:<8} {:>9} {:<7} | {:>10} {:>8} {:>8} | {:>10} {:>8} {:>8} | {:>6}",
            "storage", "sessions", "op", "native/s", "p50 ms", "p99 ms", "comp/s", "p50 ms", "p99 ms", "ratio"
        );
        for native in self.store.iter().filter(|r| r.kind == Kind::Native) {
            let Some(comp) = self.store.iter().find(|r| {
                r.kind == Kind::Component && r.storage == native.storage && r.sessions == native.sessions && r.op == native.op
            }) else {
                continue;
            };
            let (n, c) = (native.figures, comp.figures);
            let _ = writeln!(
                out,
                "{:<8} {:>9} {:<7} | {:>10.0} {:>8.3} {:>8.3} | {:>10.0} {:>8.3} {:>8.3} | {:>6.2}",
                native.storage.label(),
                native.sessions,
                native.op.label(),
                n.ops_per_s,
                n.p50_ms,
                n.p99_ms,
                c.ops_per_s,
                c.p50_ms,
                c.p99_ms,
                c.ops_per_s / n.ops_per_s
            );
        }
    }

    fn sweep_table(&self, out: &mut String) {
        if self.sweep.is_empty() {
            return;
        }
        let _ = writeln!(out, "\n-- sweep (default batch; finds issued concurrently, 1 ms apart) --");
        let _ = writeln!(
            out,
            "{:<9} {:>9} {:>9} {:>8} {:>8} {:>10} {:>10} | {:>6} {:>9} {:>9}",
            "kind", "active", "expired", "batches", "total s", "rows/s", "batch max", "finds", "p99 ms", "max ms"
        );
        for s in &self.sweep {
            let (n, p99, max) = s
                .concurrent_finds
                .map(|f| (f.ops.to_string(), format!("{:.2}", f.p99_ms), format!("{:.2}", f.max_ms)))
                .unwrap_or(("-".into(), "-".into(), "-".into()));
            let _ = writeln!(
                out,
                "{:<9} {:>9} {:>9} {:>8} {:>8.2} {:>10.0} {:>10.1} | {:>6} {:>9} {:>9}",
                s.kind.label(),
                s.active,
                s.expired,
                s.batches,
                s.total_s,
                s.rows_per_s,
                s.max_batch_ms,
                n,
                p99,
                max
            );
        }
    }

    fn http_table(&self, out: &mut String) {
        if self.http.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\n-- HTTP end to end (wrk; req/s, p50/p99 ms; ratio = libsqlstore / best SQLite-backed peer) --"
        );
        let mut header = format!("{:<5} {:>5}", "route", "conns");
        for kind in ServerKind::ALL {
            let _ = write!(header, " | {:>26}", kind.label());
        }
        let _ = writeln!(out, "{header} | {:>6}", "ratio");
        let mut connections: Vec<u32> = self.http.iter().map(|r| r.connections).collect();
        connections.sort_unstable();
        connections.dedup();
        for route in [Route::Get, Route::Put] {
            for &c in &connections {
                let mut line = format!("{:<5} {:>5}", route.path(), c);
                for kind in ServerKind::ALL {
                    let cell = self
                        .http_row(kind, route, c)
                        .map(|r| {
                            let errors = if r.errors > 0 { format!(" E{}", r.errors) } else { String::new() };
                            format!("{:.0} {:.2}/{:.2}{errors}", r.req_per_s, r.p50_ms, r.p99_ms)
                        })
                        .unwrap_or_else(|| "-".into());
                    let _ = write!(line, " | {cell:>26}");
                }
                let ratio = self.http_ratio(route, c).map(|r| format!("{r:.2}")).unwrap_or_else(|| "-".into());
                let _ = writeln!(out, "{line} | {ratio:>6}");
            }
        }
        let mut line = format!("{:<11}", "peak RSS");
        for kind in ServerKind::ALL {
            let cell = self
                .http_memory
                .iter()
                .find(|m| m.server == kind)
                .map(|m| {
                    let redis = m.redis_peak_rss_mib.map(|r| format!(" (+redis {r:.0})")).unwrap_or_default();
                    m.peak_rss_mib.map(|v| format!("{v:.0} MiB{redis}")).unwrap_or_else(|| "-".into())
                })
                .unwrap_or_else(|| "-".into());
            let _ = write!(line, " | {cell:>26}");
        }
        let _ = writeln!(out, "{line}");
    }

    fn startup_table(&self, out: &mut String) {
        let Some(s) = &self.startup else { return };
        let _ = writeln!(out, "\n-- start-up (fresh instance from the pre-instantiated component, up to its first find) --");
        let _ = writeln!(out, "component compile + link (Runtime::load, once per process): {:.0} ms", s.load_ms);
        for (label, f) in [
            ("first find, file (10k sessions)", s.first_find_file),
            ("first find, :memory:", s.first_find_memory),
            ("find on a warm instance", s.warm_find),
        ] {
            let _ = writeln!(out, "{label:<34} p50 {:>7.3} ms  p99 {:>7.3} ms  max {:>7.3} ms", f.p50_ms, f.p99_ms, f.max_ms);
        }
    }
}

fn route_key(route: Route) -> &'static str {
    match route {
        Route::Get => "get",
        Route::Put => "put",
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
