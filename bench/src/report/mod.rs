//! The run's results: the printed tables, every target with its figure and whether it is
//! met, and `bench-results.json`.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::edge::EdgeResult;
use crate::http::{HttpRow, Memory, Route, ServerReport};
use crate::machine::Machine;
use crate::servers::ServerKind;
use crate::startup::StartupResult;
use crate::store_level::{Op, StoreRow};
use crate::subject::{Kind, Storage};
use crate::sweep::SweepResult;
use crate::versions::VersionRow;

/// Connections at which the HTTP targets and ratios are taken.
pub const HEADLINE_CONNECTIONS: u32 = 64;
/// Table size at which the store ratios are taken.
pub const HEADLINE_SESSIONS: u64 = 10_000;

#[derive(Debug, Serialize)]
pub struct Results {
    pub mode: &'static str,
    pub machine: Machine,
    pub store: Vec<StoreRow>,
    /// The 0.3 calls beside the 0.2 calls they replace (section `versions`).
    pub versions: Vec<VersionRow>,
    pub sweep: Vec<SweepResult>,
    pub http: Vec<HttpRow>,
    pub servers: Vec<ServerReport>,
    pub startup: Option<StartupResult>,
    /// The edge section: every host against one sqld beside its floor, and the edge app on
    /// a file.
    pub edge: Option<EdgeResult>,
    /// Nanoseconds to turn one token into its id (`libsqlstore::token::id_of`), natively:
    /// the hashing every call that takes a token pays.
    pub hash_ns_per_call: Option<f64>,
    /// The store rows of the results file this run replaces (the previous run's), shown as
    /// the "before" column; empty without one.
    #[serde(skip)]
    pub previous_store: Vec<Value>,
}

/// A target, checked (reported, not asserted).
struct Target {
    key: &'static str,
    goal: &'static str,
    value: Option<f64>,
    met: Option<bool>,
    /// The figures behind the value, for the reader.
    detail: String,
    /// The load run it is read from, for the targets the edge table prints beside their run.
    run: Option<(ServerKind, Route)>,
}

impl Target {
    fn at_least(
        key: &'static str,
        goal: &'static str,
        bound: f64,
        value: Option<f64>,
        detail: String,
    ) -> Target {
        Target { key, goal, value, met: value.map(|v| v >= bound), detail, run: None }
    }

    fn at_most(
        key: &'static str,
        goal: &'static str,
        bound: f64,
        value: Option<f64>,
        detail: String,
    ) -> Target {
        Target { key, goal, value, met: value.map(|v| v <= bound), detail, run: None }
    }

    /// A latency bound on one load run: missed, with no figure, if the run stalled.
    fn latency(
        key: &'static str,
        goal: &'static str,
        bound: f64,
        row: Option<&HttpRow>,
        latency: fn(&HttpRow) -> f64,
        detail: String,
    ) -> Target {
        match row {
            Some(r) if r.stalled() => Target {
                key,
                goal,
                value: None,
                met: Some(false),
                detail: format!(
                    "{detail}: STALLED, {} requests sent, none answered within the run",
                    r.sent
                ),
                run: None,
            },
            _ => Target::at_most(key, goal, bound, row.map(latency), detail),
        }
    }

    /// The same, read from `server`'s `route` run.
    fn on(self, server: ServerKind, route: Route) -> Target {
        Target { run: Some((server, route)), ..self }
    }

    fn verdict(&self) -> &'static str {
        match self.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "not measured",
        }
    }
}

impl Results {
    /// Component ops/s ÷ native ops/s for `op` on `storage` with `sessions` stored.
    pub fn store_ratio(&self, storage: Storage, sessions: u64, op: Op) -> Option<f64> {
        Some(
            self.store_ops(storage, sessions, op, Kind::Component)?
                / self.store_ops(storage, sessions, op, Kind::Native)?,
        )
    }

    fn store_ops(&self, storage: Storage, sessions: u64, op: Op, kind: Kind) -> Option<f64> {
        self.store
            .iter()
            .find(|r| {
                r.storage == storage && r.sessions == sessions && r.op == op && r.kind == kind
            })
            .map(|r| r.figures.ops_per_s)
    }

    /// The size of the remote store-level table (one remote case per plan).
    fn remote_sessions(&self) -> Option<u64> {
        self.store.iter().find(|r| r.storage == Storage::Remote).map(|r| r.sessions)
    }

    fn http_row(&self, server: ServerKind, route: Route, connections: u32) -> Option<&HttpRow> {
        self.http
            .iter()
            .find(|r| r.server == server && r.route == route && r.connections == connections)
    }

    /// The SQLite-backed peer with the most req/s on `route` at `connections`, among all
    /// of them in this run (defaults and tuned alike).
    fn best_sqlite_peer(&self, route: Route, connections: u32) -> Option<&HttpRow> {
        self.http
            .iter()
            .filter(|r| {
                r.server.sqlite_peer()
                    && r.route == route
                    && r.connections == connections
                    && r.requests > 0
            })
            .max_by(|a, b| a.req_per_s.total_cmp(&b.req_per_s))
    }

    /// host-example's req/s ÷ the best SQLite-backed peer's.
    pub fn http_ratio(&self, route: Route, connections: u32) -> Option<f64> {
        let ours = self.http_row(ServerKind::HostExample, route, connections)?;
        Some(ours.req_per_s / self.best_sqlite_peer(route, connections)?.req_per_s)
    }

    fn server(&self, kind: ServerKind) -> Option<&ServerReport> {
        self.servers.iter().find(|s| s.server == kind)
    }

    fn component_sweep(&self) -> Option<&SweepResult> {
        self.sweep.iter().find(|s| s.kind == Kind::Component)
    }

    fn targets(&self) -> Vec<Target> {
        let c = HEADLINE_CONNECTIONS;
        let req = |r: Option<&HttpRow>| {
            r.map(|r| format!("{:.0} req/s", r.req_per_s)).unwrap_or_else(|| "-".into())
        };
        let mut t = Vec::new();

        // The edge app under `wasmtime serve`, file-backed.
        let edge_get = self.http_row(ServerKind::EdgeApp, Route::Get, c);
        let edge_floor = self.http_row(ServerKind::EdgeApp, Route::NoStore, c);
        let edge_put = self.http_row(ServerKind::EdgeApp, Route::Put, c);
        let edge_one = self.http_row(ServerKind::EdgeApp, Route::Get, 1);
        t.push(Target::at_least(
            "edge.get.ratio_vs_no_store",
            ">= 0.7",
            0.7,
            edge_get
                .zip(edge_floor.filter(|f| f.requests > 0))
                .map(|(g, f)| g.req_per_s / f.req_per_s),
            format!("{c} conns: /get {}, no-store route {}", req(edge_get), req(edge_floor)),
        ));
        t.push(Target::latency(
            "edge.get.p99_ms",
            "<= 50",
            50.0,
            edge_get,
            |r| r.p99_ms,
            format!("{c} conns, {}", req(edge_get)),
        ));
        t.push(Target::latency(
            "edge.get.p50_ms_one_connection",
            "<= 0.3",
            0.3,
            edge_one,
            |r| r.p50_ms,
            format!("1 conn, {}", req(edge_one)),
        ));
        t.push(Target::at_least(
            "edge.put.req_per_s",
            ">= 1000",
            1000.0,
            edge_put.map(|r| r.req_per_s),
            format!("{c} conns"),
        ));
        t.push(Target::latency(
            "edge.put.p99_ms",
            "<= 100",
            100.0,
            edge_put,
            |r| r.p99_ms,
            format!("{c} conns, {}", req(edge_put)),
        ));
        let edge_runs: Vec<&HttpRow> = self
            .http
            .iter()
            .filter(|r| {
                r.server == ServerKind::EdgeApp && matches!(r.route, Route::Get | Route::Put)
            })
            .collect();
        let runs = format!("/get and /put, every run ({} runs)", edge_runs.len());
        let sum = |f: fn(&HttpRow) -> u64| {
            (!edge_runs.is_empty()).then(|| edge_runs.iter().map(|r| f(r)).sum::<u64>() as f64)
        };
        // A run in which nothing was answered had every request it sent hang past its end.
        let hung = |r: &HttpRow| r.timeouts + if r.stalled() { r.sent } else { 0 };
        t.push(Target::at_most(
            "edge.timeouts",
            "0",
            0.0,
            sum(hung),
            format!("{runs}; requests of a stalled run included"),
        ));
        t.push(Target::at_most(
            "edge.non_2xx",
            "0",
            0.0,
            sum(|r| r.non_2xx + r.socket_errors),
            format!("{runs}; socket errors included"),
        ));

        // The remote backend against the libsql crate's own client of the same sqld.
        let remote = self.remote_sessions();
        for (key, op) in [
            ("remote.find.ratio_vs_native", Op::Find),
            ("remote.commit.ratio_vs_native", Op::Commit),
        ] {
            let ops = |kind| remote.and_then(|n| self.store_ops(Storage::Remote, n, op, kind));
            let value = remote.and_then(|n| self.store_ratio(Storage::Remote, n, op));
            let detail = format!(
                "component {} vs libsql remote client {} {}s/s",
                ops(Kind::Component).map(|v| format!("{v:.0}")).unwrap_or_else(|| "-".into()),
                ops(Kind::Native).map(|v| format!("{v:.0}")).unwrap_or_else(|| "-".into()),
                op.label()
            );
            t.push(Target::at_least(key, ">= 0.8", 0.8, value, detail));
        }

        // host-example: start-up and memory.
        let serve = self.startup.as_ref().map(|s| &s.serve);
        t.push(Target::at_most(
            "serve.cached_start_ms",
            "<= 100",
            100.0,
            serve.map(|s| s.cached.p50_ms),
            serve
                .map(|s| {
                    format!(
                        "p50 of {} cached starts, max {:.0} ms; first start {:.0} ms",
                        s.cached.ops, s.cached.max_ms, s.first_ms
                    )
                })
                .unwrap_or_default(),
        ));
        let ours = self.server(ServerKind::HostExample);
        t.push(Target::at_most(
            "serve.rss_under_load_mib",
            "<= 40",
            40.0,
            ours.and_then(|s| s.memory.rss_max_mib),
            ours.map(|s| {
                format!(
                    "highest VmRSS sampled under wrk (median {}, VmHWM {}); {} sessions, {} MiB database",
                    mib(s.memory.rss_median_mib),
                    mib(s.memory.peak_rss_mib),
                    s.sessions,
                    mib2(s.database_mib)
                )
            })
            .unwrap_or_default(),
        ));

        // Durable puts against the tuned SQLite peer, and the best SQLite peer.
        let our_put = self.http_row(ServerKind::HostExample, Route::Put, c);
        let tuned_put =
            self.http_row(ServerKind::SqlxTuned, Route::Put, c).filter(|r| r.requests > 0);
        t.push(Target::at_least(
            "http.put.ratio_vs_sqlx_tuned",
            ">= 1.2",
            1.2,
            our_put.zip(tuned_put).map(|(o, p)| o.req_per_s / p.req_per_s),
            format!("{c} conns: host-example {}, sqlx-tuned {}", req(our_put), req(tuned_put)),
        ));
        for (key, route) in [
            ("http.get.ratio_vs_best_peer", Route::Get),
            ("http.put.ratio_vs_best_peer", Route::Put),
        ] {
            let best = self.best_sqlite_peer(route, c);
            t.push(Target::at_least(
                key,
                ">= 1.2",
                1.2,
                self.http_ratio(route, c),
                format!(
                    "{c} conns: host-example {}, best SQLite peer {} {}",
                    req(self.http_row(ServerKind::HostExample, route, c)),
                    best.map(|b| b.server.label()).unwrap_or("-"),
                    req(best)
                ),
            ));
        }

        // Store level, sweep, instance start-up.
        for (key, op) in
            [("store.find.ratio_vs_native", Op::Find), ("store.commit.ratio_vs_native", Op::Commit)]
        {
            let value = self.store_ratio(Storage::File, HEADLINE_SESSIONS, op);
            t.push(Target::at_least(
                key,
                ">= 0.7",
                0.7,
                value,
                format!("file, {HEADLINE_SESSIONS} sessions"),
            ));
        }
        let sweep = self.component_sweep();
        t.push(Target::at_least(
            "sweep.rows_per_s",
            ">= 200000",
            200_000.0,
            sweep.map(|s| s.rows_per_s),
            sweep
                .map(|s| format!("{} expired among {} active", s.expired, s.active))
                .unwrap_or_default(),
        ));
        let finds = sweep.and_then(|s| s.concurrent_finds);
        t.push(Target::at_most(
            "sweep.max_find_latency_ms",
            "<= 20",
            20.0,
            finds.map(|f| f.max_ms),
            finds
                .map(|f| format!("{} finds during the sweep, p99 {:.1} ms", f.ops, f.p99_ms))
                .unwrap_or_default(),
        ));
        let startup = self.startup.as_ref().map(|s| s.first_find_file.p50_ms);
        t.push(Target {
            key: "startup.instantiate_ms",
            goal: "< 5",
            value: startup,
            met: startup.map(|v| v < 5.0),
            detail: "fresh instance + first find, file".into(),
            run: None,
        });
        t.extend(self.edge_targets());
        t
    }

    /// `bench-results.json`: the targets' figures as flat keys, the targets in the order
    /// the table prints them (goal, figure, whether met, what it comes from), then every
    /// measurement.
    pub fn to_json(&self) -> anyhow::Result<Value> {
        let mut top = Map::new();
        let targets = self.targets();
        for t in &targets {
            top.insert(t.key.into(), json!(t.value.map(round3)));
        }
        for op in Op::ALL {
            for storage in [Storage::File, Storage::FileShared, Storage::Memory, Storage::Remote] {
                for sessions in
                    self.store.iter().map(|r| r.sessions).collect::<std::collections::BTreeSet<_>>()
                {
                    if let Some(r) = self.store_ratio(storage, sessions, op) {
                        let key = format!(
                            "store.{}.{}.{}.ratio_vs_native",
                            op.label(),
                            storage.key(),
                            sessions
                        );
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
                let key = format!("http.{}.ratio_vs_redis", route.key());
                top.insert(key, json!(round3(ours.req_per_s / redis.req_per_s)));
            }
        }
        let targets: Vec<Value> = targets
            .into_iter()
            .map(|t| {
                let verdict = t.verdict();
                json!({ "key": t.key, "goal": t.goal, "value": t.value.map(round3), "met": t.met, "verdict": verdict, "detail": t.detail })
            })
            .collect();
        if let Some(floor) = self.edge_row(ServerKind::SqldFloor, Route::Get, HEADLINE_CONNECTIONS)
        {
            top.insert("edge.sqld.floor_req_per_s".into(), json!(round3(floor.req_per_s)));
        }
        top.insert("targets".into(), Value::Array(targets));
        let details = serde_json::to_value(self)?;
        if let Value::Object(details) = details {
            top.extend(details);
        }
        Ok(Value::Object(top))
    }
}

fn rss(m: &Memory) -> String {
    format!("{}/{}", mib(m.rss_median_mib), mib(m.rss_max_mib))
}

fn mib(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into())
}

/// Database sizes: small tables are a fraction of a MiB.
fn mib2(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into())
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

mod edge;
mod tables;

#[cfg(test)]
mod tests;
