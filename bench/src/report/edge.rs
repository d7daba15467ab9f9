//! The edge section's targets and table: every host against one sqld, as ratios to the
//! floor measured in the same run; the file-backed edge app against its no-store route.

use super::*;

/// The connection count that must not serve faster than the headline one.
pub const EDGE_LOW_CONNECTIONS: u32 = 4;

/// A host against sqld, and the share of the floor its `/get` must reach at
/// [`HEADLINE_CONNECTIONS`].
struct SqldGoal {
    server: ServerKind,
    get_key: &'static str,
    get_goal: &'static str,
    get_bound: f64,
    put_key: &'static str,
}

/// Hosts that keep a long-lived instance (host-example) or compile ahead (the edge app
/// under `wasmtime serve`) are held to 0.7 of the floor, the JavaScript hosts to 0.4.
const SQLD_GOALS: [SqldGoal; 5] = [
    SqldGoal {
        server: ServerKind::HostExampleSqld,
        get_key: "edge.sqld.host-example.get.ratio_vs_floor",
        get_goal: ">= 0.7",
        get_bound: 0.7,
        put_key: "edge.sqld.host-example.put.ratio_vs_floor",
    },
    SqldGoal {
        server: ServerKind::EdgeAppSqld,
        get_key: "edge.sqld.edge-app.get.ratio_vs_floor",
        get_goal: ">= 0.7",
        get_bound: 0.7,
        put_key: "edge.sqld.edge-app.put.ratio_vs_floor",
    },
    SqldGoal {
        server: ServerKind::NodeSqld,
        get_key: "edge.sqld.node.get.ratio_vs_floor",
        get_goal: ">= 0.4",
        get_bound: 0.4,
        put_key: "edge.sqld.node.put.ratio_vs_floor",
    },
    SqldGoal {
        server: ServerKind::WorkerdSqld,
        get_key: "edge.sqld.workerd.get.ratio_vs_floor",
        get_goal: ">= 0.4",
        get_bound: 0.4,
        put_key: "edge.sqld.workerd.put.ratio_vs_floor",
    },
    SqldGoal {
        server: ServerKind::DenoSqld,
        get_key: "edge.sqld.deno.get.ratio_vs_floor",
        get_goal: ">= 0.4",
        get_bound: 0.4,
        put_key: "edge.sqld.deno.put.ratio_vs_floor",
    },
];

/// Every host's `/put` against the floor.
const PUT_GOAL: (&str, f64) = (">= 0.35", 0.35);

impl Results {
    pub(super) fn edge_row(
        &self,
        server: ServerKind,
        route: Route,
        connections: u32,
    ) -> Option<&HttpRow> {
        self.edge
            .as_ref()?
            .rows
            .iter()
            .find(|r| r.server == server && r.route == route && r.connections == connections)
    }

    /// The edge section's `/get` and `/put` runs of the hosts against sqld.
    fn sqld_host_runs(&self) -> Vec<&HttpRow> {
        let Some(edge) = &self.edge else { return Vec::new() };
        edge.rows
            .iter()
            .filter(|r| {
                ServerKind::SQLD_HOSTS.contains(&r.server)
                    && matches!(r.route, Route::Get | Route::Put)
            })
            .collect()
    }

    /// `t`, missed if `server` did not run in the edge section.
    fn unless_failed(&self, server: ServerKind, t: Target) -> Target {
        match self.edge.as_ref().and_then(|e| e.failure(server)) {
            Some(error) => Target {
                value: None,
                met: Some(false),
                detail: format!("{} did not run: {error}", server.label()),
                ..t
            },
            None => t,
        }
    }

    /// `server`'s `route` req/s ÷ the floor's, at the headline connections.
    fn vs_floor(
        &self,
        server: ServerKind,
        route: Route,
        key: &'static str,
        goal: &'static str,
        bound: f64,
    ) -> Target {
        let c = HEADLINE_CONNECTIONS;
        let row = self.edge_row(server, route, c);
        let floor = self.edge_row(ServerKind::SqldFloor, Route::Get, c).filter(|f| f.requests > 0);
        let t = Target::at_least(
            key,
            goal,
            bound,
            row.zip(floor).map(|(r, f)| r.req_per_s / f.req_per_s),
            format!(
                "{c} conns: {} {} {}, floor {}",
                server.label(),
                route.path(),
                req(row),
                req(floor)
            ),
        );
        self.unless_failed(server, t).on(server, route)
    }

    pub(super) fn edge_targets(&self) -> Vec<Target> {
        let c = HEADLINE_CONNECTIONS;
        let mut t = Vec::new();
        for g in &SQLD_GOALS {
            t.push(self.vs_floor(g.server, Route::Get, g.get_key, g.get_goal, g.get_bound));
        }
        for g in &SQLD_GOALS {
            t.push(self.vs_floor(g.server, Route::Put, g.put_key, PUT_GOAL.0, PUT_GOAL.1));
        }

        let runs = self.sqld_host_runs();
        let what = format!("every host's /get and /put against sqld ({} runs)", runs.len());
        let sum = |f: fn(&HttpRow) -> u64| {
            self.edge.as_ref().map(|_| runs.iter().map(|r| f(r)).sum::<u64>() as f64)
        };
        let hung = |r: &HttpRow| r.timeouts + if r.stalled() { r.sent } else { 0 };
        t.push(Target::at_most(
            "edge.sqld.timeouts",
            "0",
            0.0,
            sum(hung),
            format!("{what}; requests of a stalled run included"),
        ));
        t.push(Target::at_most(
            "edge.sqld.non_2xx",
            "0",
            0.0,
            sum(|r| r.non_2xx + r.socket_errors),
            format!("{what}; socket errors included"),
        ));
        t.push(self.scaling());

        // The edge app under `wasmtime serve` on a file.
        let app = ServerKind::EdgeApp;
        let get = self.edge_row(app, Route::Get, c);
        let floor = self.edge_row(app, Route::NoStore, c).filter(|f| f.requests > 0);
        let put = self.edge_row(app, Route::Put, c);
        let ratio = Target::at_least(
            "edge.file.get.ratio_vs_no_store",
            ">= 0.7",
            0.7,
            get.zip(floor).map(|(g, f)| g.req_per_s / f.req_per_s),
            format!("{c} conns: /get {}, no-store route {}", req(get), req(floor)),
        );
        t.push(self.unless_failed(app, ratio).on(app, Route::Get));
        let p99 = Target::latency(
            "edge.file.get.p99_ms",
            "<= 20",
            20.0,
            get,
            |r| r.p99_ms,
            format!("{c} conns, {}", req(get)),
        );
        t.push(self.unless_failed(app, p99).on(app, Route::Get));
        let put = Target::at_least(
            "edge.file.put.req_per_s",
            ">= 2000",
            2000.0,
            put.map(|r| r.req_per_s),
            format!("{c} conns, p99 {}", put.map_or("-".into(), |r| format!("{:.1} ms", r.p99_ms))),
        );
        t.push(self.unless_failed(app, put).on(app, Route::Put));
        t
    }

    /// No host serves fewer req/s at the headline connections than at
    /// [`EDGE_LOW_CONNECTIONS`]: the lowest ratio of the two, over every host and route.
    fn scaling(&self) -> Target {
        let (hi, lo) = (HEADLINE_CONNECTIONS, EDGE_LOW_CONNECTIONS);
        let mut lowest: Option<(f64, &HttpRow, &HttpRow)> = None;
        for server in ServerKind::SQLD_HOSTS {
            for route in [Route::Get, Route::Put] {
                let (Some(h), Some(l)) =
                    (self.edge_row(server, route, hi), self.edge_row(server, route, lo))
                else {
                    continue;
                };
                let ratio = if l.req_per_s > 0.0 { h.req_per_s / l.req_per_s } else { 1.0 };
                if lowest.is_none_or(|(v, _, _)| ratio < v) {
                    lowest = Some((ratio, h, l));
                }
            }
        }
        let failed: Vec<&str> = self
            .edge
            .iter()
            .flat_map(|e| &e.failed)
            .filter(|f| ServerKind::SQLD_HOSTS.contains(&f.server))
            .map(|f| f.server.label())
            .collect();
        let detail = match lowest {
            Some((_, h, l)) => format!(
                "req/s at {hi} ÷ at {lo} conns, lowest: {} {} {:.0} vs {:.0}",
                h.server.label(),
                h.route.path(),
                h.req_per_s,
                l.req_per_s
            ),
            None => String::new(),
        };
        let mut t = Target::at_least(
            "edge.sqld.scaling_vs_4_connections",
            ">= 1.0",
            1.0,
            lowest.map(|(v, _, _)| v),
            detail,
        );
        if !failed.is_empty() {
            t.met = Some(false);
            t.detail = format!("{}; did not run: {}", t.detail, failed.join(", "));
        }
        t
    }

    pub(super) fn edge_table(&self, out: &mut String) {
        let Some(edge) = &self.edge else { return };
        let _ = writeln!(
            out,
            "\n-- edge: every host against one sqld beside the floor (wrk POSTing a store's find pipeline straight to sqld), and the edge app on a file; ratio = req/s ÷ the floor's (the edge app on a file: ÷ its no-store route's) at the same connections; targets at {HEADLINE_CONNECTIONS} --"
        );
        let _ = writeln!(
            out,
            "{:<17} {:<5} {:>5} | {:>9} {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8} | {:>6} | targets",
            "server",
            "route",
            "conns",
            "req/s",
            "p50",
            "p99",
            "max",
            "timeouts",
            "non-2xx",
            "sock err",
            "ratio"
        );
        let targets = self.edge_targets();
        for r in &edge.rows {
            let base = match r.server {
                ServerKind::SqldFloor => None,
                ServerKind::EdgeApp if r.route != Route::NoStore => {
                    self.edge_row(r.server, Route::NoStore, r.connections)
                }
                ServerKind::EdgeApp => None,
                _ => self.edge_row(ServerKind::SqldFloor, Route::Get, r.connections),
            };
            let ratio = base
                .filter(|b| b.req_per_s > 0.0)
                .map_or("-".into(), |b| format!("{:.2}", r.req_per_s / b.req_per_s));
            let goals: Vec<String> = if r.connections == HEADLINE_CONNECTIONS {
                targets
                    .iter()
                    .filter(|t| t.run == Some((r.server, r.route)))
                    .map(|t| {
                        let v = t.value.map_or("-".into(), |v| format!("{v:.2}"));
                        format!("{} {v} {} {}", t.key, t.goal, t.verdict())
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let route = if r.server == ServerKind::SqldFloor { "find" } else { r.route.path() };
            if r.stalled() {
                let _ = writeln!(
                    out,
                    "{:<17} {:<5} {:>5} | STALLED: {} requests sent, none answered within the run | {}",
                    r.server.label(),
                    route,
                    r.connections,
                    r.sent,
                    goals.join("; ")
                );
                continue;
            }
            let _ = writeln!(
                out,
                "{:<17} {:<5} {:>5} | {:>9.0} {:>8.2} {:>8.2} {:>8.1} | {:>8} {:>8} {:>8} | {:>6} | {}",
                r.server.label(),
                route,
                r.connections,
                r.req_per_s,
                r.p50_ms,
                r.p99_ms,
                r.max_ms,
                r.timeouts,
                r.non_2xx,
                r.socket_errors,
                ratio,
                goals.join("; ")
            );
        }
        for f in &edge.failed {
            let _ = writeln!(out, "{:<17} FAILED: {}", f.server.label(), f.error);
        }
    }
}

/// `N req/s` of a run, or `-`.
fn req(r: Option<&HttpRow>) -> String {
    r.map(|r| format!("{:.0} req/s", r.req_per_s)).unwrap_or_else(|| "-".into())
}
