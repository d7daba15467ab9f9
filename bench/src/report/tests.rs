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
    let r =
        results(vec![stalled, row(ServerKind::EdgeApp, Route::NoStore, 64, 20_000, 5_000.0, 15.0)]);
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
    assert_eq!(r.best_sqlite_peer(Route::Put, 64).map(|b| b.server), Some(ServerKind::SqlxTuned));
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
