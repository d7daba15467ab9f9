//! Section 5, edge: every host against ONE local sqld, beside the floor measured in the same
//! run (wrk posting a store's find pipeline straight to that sqld: one round trip, all a
//! `/get` needs), and the file-backed edge app under `wasmtime serve` against its no-store
//! route; `/get` and `/put` (and the no-store route) at each of the plan's edge connection
//! counts, with cookies from a pool of sessions made on each host first (see `http.rs`).
//!
//! The floor's sessions are seeded into sqld through the `libsql` crate's client in the
//! store's own schema; its requests carry their ids (`libsqlstore::token::id_of` of the
//! token, as the store keys rows). A host that does not start, or whose sessions cannot be
//! made, is recorded as failed and the section goes on with the next.

use std::path::Path;

use anyhow::Context;
use libsqlstore::schema::{Sql, TableName};
use serde::Serialize;
use serde_json::json;

use crate::http::{lua_script, make_sessions, run_wrk, wrk_script, HttpRow, Route};
use crate::http_client::Client;
use crate::plan::Plan;
use crate::remote_client::RemoteClient;
use crate::servers::{prepare_node, Launch, Server, ServerKind};
use crate::sqld::Sqld;
use crate::tokens::{now_ms, token, Family};

/// The floor's request part (`bench/wrk/sqld-find.lua`).
const SQLD_FIND_LUA: &str = include_str!("../wrk/sqld-find.lua");

/// The path of sqld's Hrana pipeline endpoint (the remote backend's `PIPELINE_PATH`).
const PIPELINE_PATH: &str = "/v2/pipeline";

#[derive(Debug, Default, Clone, Serialize)]
pub struct EdgeResult {
    /// The floor's runs (`SqldFloor`, `/get`), every host's, then the file-backed edge app's.
    pub rows: Vec<HttpRow>,
    /// Hosts that did not run, and why.
    pub failed: Vec<HostFailure>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostFailure {
    pub server: ServerKind,
    pub error: String,
}

impl EdgeResult {
    /// Why `server` did not run, if it did not.
    pub fn failure(&self, server: ServerKind) -> Option<&str> {
        self.failed.iter().find(|f| f.server == server).map(|f| f.error.as_str())
    }
}

pub async fn run(plan: &Plan, launch: &Launch) -> anyhow::Result<EdgeResult> {
    let work = tempfile::tempdir()?;
    let mut result = EdgeResult::default();
    let sqld = Sqld::start()?;
    let url = sqld.url();

    let bodies = seed_floor(&url, u64::from(plan.http_sessions)).await?;
    let floor_script = work.path().join("sqld-find.lua");
    std::fs::write(&floor_script, wrk_script(SQLD_FIND_LUA))?;
    let endpoint = format!("{url}{PIPELINE_PATH}");
    for &connections in &plan.edge_connections {
        let row = run_wrk(
            ServerKind::SqldFloor,
            Route::Get,
            &endpoint,
            connections,
            plan.edge_duration,
            &floor_script,
            &bodies,
        )?;
        report(&row);
        result.rows.push(row);
    }

    let node_ready = prepare_node(launch);
    for kind in ServerKind::SQLD_HOSTS {
        let measured = match (kind, &node_ready) {
            (ServerKind::NodeSqld, Err(e)) => Err(anyhow::anyhow!("preparing it: {e:#}")),
            _ => measure(
                kind,
                launch,
                Some(url.as_str()),
                &[Route::Get, Route::Put],
                plan,
                work.path(),
            ),
        };
        record(&mut result, kind, measured);
    }
    let measured = measure(ServerKind::EdgeApp, launch, None, &Route::ALL, plan, work.path());
    record(&mut result, ServerKind::EdgeApp, measured);
    Ok(result)
}

fn record(result: &mut EdgeResult, kind: ServerKind, measured: anyhow::Result<Vec<HttpRow>>) {
    match measured {
        Ok(rows) => result.rows.extend(rows),
        Err(e) => {
            eprintln!("  {:<17} FAILED: {e:#}", kind.label());
            result.failed.push(HostFailure { server: kind, error: format!("{e:#}") });
        }
    }
}

/// Seeds `n` sessions into the server at `url` in the store's schema and returns the floor's
/// request bodies, one find pipeline per session; checks that sqld answers one with its row.
async fn seed_floor(url: &str, n: u64) -> anyhow::Result<Vec<String>> {
    let now = now_ms();
    RemoteClient::connect(url).await?.seed(n, now).await.context("seeding the floor's sessions")?;
    let sql = Sql::new(&TableName::default());
    let bodies: Vec<String> = (0..n)
        .map(|i| {
            find_pipeline(&sql.find, &libsqlstore::token::id_of(&token(Family::Active, i)), now)
        })
        .collect();
    let addr: std::net::SocketAddr =
        url.trim_start_matches("http://").parse().context("sqld's address")?;
    let first = bodies.first().context("the floor needs at least one session")?;
    let reply = Client::connect(addr)?.post_json(PIPELINE_PATH, first)?;
    anyhow::ensure!(
        reply.status == 200 && reply.body.contains(r#""rows":[["#),
        "sqld answered the floor's pipeline with {} {}",
        reply.status,
        reply.body
    );
    Ok(bodies)
}

/// The Hrana pipeline a store's `find` sends (the remote backend's `hrana::pipeline`): the
/// find statement on `id` at `now`, then `close`, so no stream outlives the request.
pub fn find_pipeline(find_sql: &str, id: &str, now: u64) -> String {
    json!({
        "baton": null,
        "requests": [
            { "type": "execute", "stmt": {
                "sql": find_sql,
                "args": [ { "type": "text", "value": id }, { "type": "integer", "value": now.to_string() } ],
                "want_rows": true
            } },
            { "type": "close" }
        ]
    })
    .to_string()
}

/// Starts `kind` (against the libSQL server at `database`, if given), makes its sessions,
/// warms it up, and runs each of `routes` at each of the plan's edge connection counts.
fn measure(
    kind: ServerKind,
    launch: &Launch,
    database: Option<&str>,
    routes: &[Route],
    plan: &Plan,
    work: &Path,
) -> anyhow::Result<Vec<HttpRow>> {
    let server = Server::start_on(kind, launch, database)?;
    let cookies = make_sessions(&server, plan.http_sessions).context("making its sessions")?;
    let most = plan.edge_connections.iter().copied().max().unwrap_or(1);
    let mut rows = Vec::new();
    for (i, &route) in routes.iter().enumerate() {
        let script = work.join(format!("edge-{}-{}.lua", kind.label(), route.key()));
        std::fs::write(&script, lua_script(&cookies, route))?;
        let url = format!("http://{}{}", server.addr, route.path());
        if i == 0 {
            run_wrk(kind, route, &url, most, plan.edge_warm_up, &script, &[])?;
        }
        for &connections in &plan.edge_connections {
            let row = run_wrk(kind, route, &url, connections, plan.edge_duration, &script, &[])?;
            report(&row);
            rows.push(row);
        }
    }
    Ok(rows)
}

fn report(row: &HttpRow) {
    eprintln!(
        "  {:<17} {:<5} c={:<3} {:>8.0} req/s  p50 {:.2} ms  p99 {:.2} ms  timeouts {}  non-2xx {}  socket errors {}",
        row.server.label(),
        row.route.path(),
        row.connections,
        row.req_per_s,
        row.p50_ms,
        row.p99_ms,
        row.timeouts,
        row.non_2xx,
        row.socket_errors
    );
}
