//! The run's results as the printed tables.

use super::*;

impl Results {
    /// The tables printed at the end of a run, the targets last.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "\n== libsqlstore benchmark ({} run) ==", self.mode);
        let _ = writeln!(out, "machine: {}", self.machine.describe());
        self.store_table(&mut out);
        self.versions_table(&mut out);
        self.sweep_table(&mut out);
        self.http_table(&mut out);
        self.servers_table(&mut out);
        self.startup_table(&mut out);
        self.edge_table(&mut out);
        let _ = writeln!(out, "\n-- targets (reported, not asserted) --");
        let _ = writeln!(
            out,
            "{:<44} {:>10}  {:<9} {:<12} from",
            "target", "figure", "goal", "verdict"
        );
        for t in self.targets() {
            let value = t.value.map(|v| format!("{v:.3}")).unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "{:<44} {:>10}  {:<9} {:<12} {}",
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

    fn versions_table(&self, out: &mut String) {
        let Some(first) = self.versions.first() else { return };
        let _ = writeln!(out, "\n-- versions: the 0.3 calls beside the 0.2 calls they replace (native, a file of {} sessions, one call at a time; ratio = 0.3 ops/s / the pair's 0.2 ops/s) --", first.sessions);
        let _ = writeln!(
            out,
            "{:<7} {:<4} {:<38} {:>10} {:>8} {:>8} {:>6}",
            "pair", "ver", "call", "ops/s", "p50 ms", "p99 ms", "ratio"
        );
        for row in &self.versions {
            let floor = self
                .versions
                .iter()
                .find(|r| r.pair == row.pair && r.version == "0.2")
                .map(|r| r.figures.ops_per_s);
            let ratio = floor
                .filter(|_| row.version != "0.2")
                .map(|f| format!("{:.2}", row.figures.ops_per_s / f))
                .unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "{:<7} {:<4} {:<38} {:>10.0} {:>8.3} {:>8.3} {:>6}",
                row.pair,
                row.version,
                row.call,
                row.figures.ops_per_s,
                row.figures.p50_ms,
                row.figures.p99_ms,
                ratio
            );
        }
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
        for kind in [ServerKind::EdgeApp, ServerKind::EdgeAppPerRequest, ServerKind::EdgeAppSqld] {
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
