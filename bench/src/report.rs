//! The run's results: the printed tables, every target with its figure and whether it is
//! met, and `bench-results.json`.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::http::{HttpRow, Memory, Route, ServerReport};
use crate::machine::Machine;
use crate::servers::ServerKind;
use crate::startup::StartupResult;
use crate::store_level::{Op, StoreRow};
use crate::subject::{Kind, Storage};
use crate::sweep::SweepResult;

/// Connections at which the HTTP targets and ratios are taken.
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
    pub servers: Vec<ServerReport>,
    pub startup: Option<StartupResult>,
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
}

impl Target {
    fn at_least(
        key: &'static str,
        goal: &'static str,
        bound: f64,
        value: Option<f64>,
        detail: String,
    ) -> Target {
        Target { key, goal, value, met: value.map(|v| v >= bound), detail }
    }

    fn at_most(
        key: &'static str,
        goal: &'static str,
        bound: f64,
        value: Option<f64>,
        detail: String,
    ) -> Target {
        Target { key, goal, value, met: value.map(|v| v <= bound), detail }
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
            },
            _ => Target::at_most(key, goal, bound, row.map(latency), detail),
        }
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
        });
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
        top.insert("targets".into(), Value::Array(targets));
        let details = serde_json::to_value(self)?;
        if let Value::Object(details) = details {
            top.extend(details);
        }
        Ok(Value::Object(top))
    }

    /// The tables printed at the end of a run, the targets last.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "\n== libsqlstore benchmark ({} run) ==", self.mode);
        let _ = writeln!(out, "machine: {}", self.machine.describe());
        self.store_table(&mut out);
        self.sweep_table(&mut out);
        self.http_table(&mut out);
        self.servers_table(&mut out);
        self.startup_table(&mut out);
        let _ = writeln!(out, "\n-- targets (reported, not asserted) --");
        let _ = writeln!(
            out,
            "{:<32} {:>10}  {:<9} {:<12} from",
            "target", "figure", "goal", "verdict"
        );
        for t in self.targets() {
            let value = t.value.map(|v| format!("{v:.3}")).unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "{:<32} {:>10}  {:<9} {:<12} {}",
                t.key,
                value,
                t.goal,
                t.verdict(),
                t.detail
            );
        }
        out
    }

    /// The component's ops/s for this row in the previous run's results.
    fn previous_component_ops(&self, row: &StoreRow) -> Option<f64> {
        let same = |r: &&Value| {
            r["kind"] == "component"
                && r["sessions"] == row.sessions
                && serde_json::to_value(row.storage).is_ok_and(|s| r["storage"] == s)
                && serde_json::to_value(row.op).is_ok_and(|o| r["op"] == o)
        };
        self.previous_store.iter().find(same).and_then(|r| r["ops_per_s"].as_f64())
    }

    fn store_table(&self, out: &mut String) {
        if self.store.is_empty() {
            return;
        }
        let _ = writeln!(out, "\n-- store level (one call at a time; ratio = component ops/s / native ops/s; for sqld, native = the libsql crate's remote client; before/s = the component in the results file this run replaced) --");
        if let Some(ns) = self.hash_ns_per_call {
            let _ = writeln!(out, "every call that takes a token hashes it into its id (SHA-256, base64url): {ns:.0} ns natively");
        }
        let _ = writeln!(
            out,
            "{:<11} {:>9} {:<7} | {:>10} {:>8} {:>8} | {:>10} {:>8} {:>8} | {:>6} | {:>9}",
            "storage",
            "sessions",
            "op",
            "native/s",
            "p50 ms",
            "p99 ms",
            "comp/s",
            "p50 ms",
            "p99 ms",
            "ratio",
            "before/s"
        );
        for native in self.store.iter().filter(|r| r.kind == Kind::Native) {
            let Some(comp) = self.store.iter().find(|r| {
                r.kind == Kind::Component
                    && r.storage == native.storage
                    && r.sessions == native.sessions
                    && r.op == native.op
            }) else {
                continue;
            };
            let (n, c) = (native.figures, comp.figures);
            let before = self
                .previous_component_ops(comp)
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"));
            let _ = writeln!(
                out,
                "{:<11} {:>9} {:<7} | {:>10.0} {:>8.3} {:>8.3} | {:>10.0} {:>8.3} {:>8.3} | {:>6.2} | {:>9}",
                native.storage.label(),
                native.sessions,
                native.op.label(),
                n.ops_per_s,
                n.p50_ms,
                n.p99_ms,
                c.ops_per_s,
                c.p50_ms,
                c.p99_ms,
                c.ops_per_s / n.ops_per_s,
                before
            );
        }
    }

    fn sweep_table(&self, out: &mut String) {
        if self.sweep.is_empty() {
            return;
        }
        let _ =
            writeln!(out, "\n-- sweep (default batch; finds issued concurrently, 1 ms apart) --");
        let _ = writeln!(
            out,
            "{:<9} {:>9} {:>9} {:>8} {:>8} {:>10} {:>10} | {:>6} {:>9} {:>9}",
            "kind",
            "active",
            "expired",
            "batches",
            "total s",
            "rows/s",
            "batch max",
            "finds",
            "p99 ms",
            "max ms"
        );
        for s in &self.sweep {
            let (n, p99, max) = s
                .concurrent_finds
                .map(|f| {
                    (f.ops.to_string(), format!("{:.2}", f.p99_ms), format!("{:.2}", f.max_ms))
                })
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
            "\n-- HTTP end to end (wrk, at most 2 threads; latency in ms; the no-store route is a 404, so all its answers are non-2xx) --"
        );
        let _ = writeln!(
            out,
            "{:<17} {:<5} {:>5} | {:>9} {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8}",
            "server",
            "route",
            "conns",
            "req/s",
            "p50",
            "p99",
            "max",
            "timeouts",
            "non-2xx",
            "sock err"
        );
        for kind in ServerKind::ALL {
            for route in Route::ALL {
                for r in self.http.iter().filter(|r| r.server == kind && r.route == route) {
                    if r.stalled() {
                        let _ = writeln!(
                            out,
                            "{:<17} {:<5} {:>5} | STALLED: {} requests sent, none answered within the run",
                            kind.label(),
                            route.path(),
                            r.connections,
                            r.sent
                        );
                        continue;
                    }
                    let _ = writeln!(
                        out,
                        "{:<17} {:<5} {:>5} | {:>9.0} {:>8.2} {:>8.2} {:>8.1} | {:>8} {:>8} {:>8}",
                        kind.label(),
                        route.path(),
                        r.connections,
                        r.req_per_s,
                        r.p50_ms,
                        r.p99_ms,
                        r.max_ms,
                        r.timeouts,
                        r.non_2xx,
                        r.socket_errors
                    );
                }
            }
        }
        let c = HEADLINE_CONNECTIONS;
        let _ = writeln!(out, "ratios at {c} connections:");
        for route in [Route::Get, Route::Put] {
            if let (Some(ratio), Some(best)) =
                (self.http_ratio(route, c), self.best_sqlite_peer(route, c))
            {
                let _ = writeln!(
                    out,
                    "  {} host-example / best SQLite peer ({}): {ratio:.2}",
                    route.path(),
                    best.server.label()
                );
            }
        }
        if let (Some(ours), Some(tuned)) = (
            self.http_row(ServerKind::HostExample, Route::Put, c),
            self.http_row(ServerKind::SqlxTuned, Route::Put, c),
        ) {
            let _ = writeln!(
                out,
                "  /put host-example / sqlx-tuned: {:.2}",
                ours.req_per_s / tuned.req_per_s
            );
        }
        for kind in [ServerKind::EdgeApp, ServerKind::EdgeAppReused, ServerKind::EdgeAppSqld] {
            if let (Some(get), Some(floor)) =
                (self.http_row(kind, Route::Get, c), self.http_row(kind, Route::NoStore, c))
            {
                let _ = writeln!(
                    out,
                    "  /get {} / its no-store route: {:.2}",
                    kind.label(),
                    get.req_per_s / floor.req_per_s
                );
            }
        }
    }

    fn servers_table(&self, out: &mut String) {
        if self.servers.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\n-- servers: how each keeps sessions; memory in MiB (VmRSS sampled under load: median/max; VmHWM: peak since start) --"
        );
        let _ = writeln!(
            out,
            "{:<17} | {:<15} {:>6} | {:>8} {:>7} | storage",
            "server", "RSS med/max", "peak", "sessions", "db+WAL"
        );
        for s in &self.servers {
            let sessions = format!("{}{}", s.sessions, if s.sessions_counted { "" } else { "*" });
            let _ = writeln!(
                out,
                "{:<17} | {:<15} {:>6} | {:>8} {:>7} | {}",
                s.server.label(),
                rss(&s.memory),
                mib(s.memory.peak_rss_mib),
                sessions,
                mib2(s.database_mib),
                s.storage
            );
            if let Some((name, m)) = &s.sidecar {
                let _ = writeln!(
                    out,
                    "{:<17} | {:<15} {:>6} |",
                    format!("  + {name}"),
                    rss(m),
                    mib(m.peak_rss_mib)
                );
            }
        }
        let _ = writeln!(
            out,
            "sessions: counted by the server (host-example stats), or * the pool the benchmark created. libsqlstore's page cache: \
             up to 32 MiB per instance, taken as pages are read, so at most the database's size here."
        );
    }

    fn startup_table(&self, out: &mut String) {
        let Some(s) = &self.startup else { return };
        let _ = writeln!(out, "\n-- start-up (fresh instance from the pre-instantiated component, up to its first find) --");
        let _ = writeln!(
            out,
            "component compile + link (Runtime::load, once per process): {:.0} ms",
            s.load_ms
        );
        for (label, f) in [
            ("first find, file (10k sessions)", s.first_find_file),
            ("first find, :memory:", s.first_find_memory),
            ("find on a warm instance", s.warm_find),
        ] {
            let _ = writeln!(
                out,
                "{label:<34} p50 {:>7.3} ms  p99 {:>7.3} ms  max {:>7.3} ms",
                f.p50_ms, f.p99_ms, f.max_ms
            );
        }
        let v = &s.serve;
        let _ = writeln!(out, "host-example serve, spawn to listening:");
        let _ = writeln!(
            out,
            "  first start (empty compile cache)  {:>7.0} ms  RSS {} MiB, peak {} MiB",
            v.first_ms,
            mib(v.first_rss_mib),
            mib(v.first_peak_rss_mib)
        );
        let _ = writeln!(
            out,
            "  cached start ({} starts)           p50 {:>5.0} ms  max {:.0} ms  RSS {} MiB",
            v.cached.ops,
            v.cached.p50_ms,
            v.cached.max_ms,
            mib(v.cached_rss_mib)
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        server: ServerKind,
        route: Route,
        connections: u32,
        requests: u64,
        req_per_s: f64,
        p99_ms: f64,
    ) -> HttpRow {
        HttpRow {
            server,
            route,
            connections,
            requests,
            sent: requests + u64::from(connections),
            req_per_s,
            p50_ms: p99_ms / 2.0,
            p99_ms,
            max_ms: p99_ms,
            timeouts: 0,
            non_2xx: 0,
            socket_errors: 0,
        }
    }

    fn results(http: Vec<HttpRow>) -> Results {
        Results {
            mode: "test",
            machine: Machine::probe(),
            store: Vec::new(),
            sweep: Vec::new(),
            http,
            servers: Vec::new(),
            startup: None,
            hash_ns_per_call: None,
            previous_store: Vec::new(),
        }
    }

    fn target<'a>(targets: &'a [Target], key: &str) -> &'a Target {
        targets.iter().find(|t| t.key == key).expect("the target is listed")
    }

    #[test]
    fn a_stalled_run_misses_its_latency_targets_and_counts_as_timed_out() {
        let mut stalled = row(ServerKind::EdgeApp, Route::Get, 64, 0, 0.0, 0.0);
        stalled.sent = 64;
        let r = results(vec![
            stalled,
            row(ServerKind::EdgeApp, Route::NoStore, 64, 20_000, 5_000.0, 15.0),
        ]);
        let targets = r.targets();
        let p99 = target(&targets, "edge.get.p99_ms");
        assert_eq!(
            (p99.value, p99.met),
            (None, Some(false)),
            "a p99 of 0 from no answers must not pass"
        );
        assert!(p99.detail.contains("STALLED"), "{}", p99.detail);
        assert_eq!(target(&targets, "edge.timeouts").value, Some(64.0));
        assert_eq!(target(&targets, "edge.get.ratio_vs_no_store").met, Some(false));
        assert!(r.table().contains("STALLED: 64 requests sent"));
    }

    #[test]
    fn the_best_sqlite_peer_is_the_fastest_that_answered_and_never_redis() {
        let r = results(vec![
            row(ServerKind::HostExample, Route::Put, 64, 20_000, 5_000.0, 14.0),
            row(ServerKind::Sqlx, Route::Put, 64, 4_000, 1_000.0, 800.0),
            row(ServerKind::SqlxTuned, Route::Put, 64, 40_000, 10_000.0, 10.0),
            row(ServerKind::Redis, Route::Put, 64, 160_000, 40_000.0, 3.0),
        ]);
        assert_eq!(
            r.best_sqlite_peer(Route::Put, 64).map(|b| b.server),
            Some(ServerKind::SqlxTuned)
        );
        assert_eq!(r.http_ratio(Route::Put, 64), Some(0.5));
        let targets = r.targets();
        let tuned = target(&targets, "http.put.ratio_vs_sqlx_tuned");
        assert_eq!((tuned.value, tuned.met), (Some(0.5), Some(false)));
        assert_eq!(
            target(&targets, "edge.put.req_per_s").met,
            None,
            "a server that did not run is not measured"
        );
    }
}
