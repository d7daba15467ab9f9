use super::*;
use crate::edge::{EdgeResult, HostFailure};

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
        versions: Vec::new(),
        sweep: Vec::new(),
        http,
        servers: Vec::new(),
        startup: None,
        edge: None,
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

/// Results of an edge section: the floor at 4 and 64 connections, each of `hosts` at both
/// on `/get` and `/put` (req/s at 64 given, at 4 half that), and the hosts that failed.
fn edge_results(floor: f64, hosts: &[(ServerKind, f64, f64)], failed: &[ServerKind]) -> Results {
    let mut rows = vec![
        row(ServerKind::SqldFloor, Route::Get, 4, 1_000, floor / 2.0, 5.0),
        row(ServerKind::SqldFloor, Route::Get, 64, 1_000, floor, 5.0),
    ];
    for &(server, get, put) in hosts {
        for (route, rate) in [(Route::Get, get), (Route::Put, put)] {
            rows.push(row(server, route, 4, 1_000, rate / 2.0, 10.0));
            rows.push(row(server, route, 64, 1_000, rate, 10.0));
        }
    }
    let failed = failed
        .iter()
        .map(|&server| HostFailure { server, error: "did not listen".into() })
        .collect();
    let mut r = results(Vec::new());
    r.edge = Some(EdgeResult { rows, failed });
    r
}

#[test]
fn each_host_against_sqld_is_held_to_its_share_of_the_same_runs_floor() {
    let r = edge_results(
        1_000.0,
        &[
            (ServerKind::HostExampleSqld, 800.0, 400.0),
            (ServerKind::NodeSqld, 300.0, 300.0),
            (ServerKind::DenoSqld, 450.0, 340.0),
        ],
        &[],
    );
    let targets = r.targets();
    let verdict = |key| {
        let t = target(&targets, key);
        (t.value, t.met)
    };
    assert_eq!(verdict("edge.sqld.host-example.get.ratio_vs_floor"), (Some(0.8), Some(true)));
    assert_eq!(verdict("edge.sqld.host-example.put.ratio_vs_floor"), (Some(0.4), Some(true)));
    assert_eq!(
        verdict("edge.sqld.node.get.ratio_vs_floor"),
        (Some(0.3), Some(false)),
        "the JavaScript hosts need 0.4 of the floor"
    );
    assert_eq!(verdict("edge.sqld.deno.get.ratio_vs_floor"), (Some(0.45), Some(true)));
    assert_eq!(verdict("edge.sqld.deno.put.ratio_vs_floor"), (Some(0.34), Some(false)));
    assert_eq!(
        verdict("edge.sqld.workerd.get.ratio_vs_floor"),
        (None, None),
        "a host absent from the rows, without a failure, is not measured"
    );
    assert_eq!(verdict("edge.sqld.scaling_vs_4_connections"), (Some(2.0), Some(true)));
    assert_eq!(verdict("edge.sqld.timeouts"), (Some(0.0), Some(true)));
    let json = r.to_json().expect("json");
    assert_eq!(json["edge.sqld.host-example.get.ratio_vs_floor"], 0.8);
    assert_eq!(json["edge.sqld.floor_req_per_s"], 1_000.0);
}

#[test]
fn a_host_that_did_not_run_misses_its_targets_instead_of_going_unmeasured() {
    let r = edge_results(
        1_000.0,
        &[(ServerKind::HostExampleSqld, 800.0, 400.0)],
        &[ServerKind::WorkerdSqld],
    );
    let targets = r.targets();
    let get = target(&targets, "edge.sqld.workerd.get.ratio_vs_floor");
    assert_eq!((get.value, get.met), (None, Some(false)));
    assert!(get.detail.contains("did not run: did not listen"), "{}", get.detail);
    assert_eq!(target(&targets, "edge.sqld.scaling_vs_4_connections").met, Some(false));
    assert!(r.table().contains("workerd+sqld      FAILED: did not listen"));
}

#[test]
fn a_host_slower_at_64_connections_than_at_4_misses_the_scaling_target() {
    let mut r = edge_results(1_000.0, &[(ServerKind::DenoSqld, 450.0, 400.0)], &[]);
    let edge = r.edge.as_mut().expect("edge");
    let put_at_4 = edge
        .rows
        .iter_mut()
        .find(|x| x.server == ServerKind::DenoSqld && x.route == Route::Put && x.connections == 4)
        .expect("the run");
    put_at_4.req_per_s = 500.0;
    let targets = r.targets();
    let scaling = target(&targets, "edge.sqld.scaling_vs_4_connections");
    assert_eq!((scaling.value, scaling.met), (Some(0.8), Some(false)));
    assert!(scaling.detail.contains("deno+sqld /put 400 vs 500"), "{}", scaling.detail);
}

#[test]
fn the_edge_app_on_a_file_is_held_to_its_no_store_route_a_20_ms_p99_and_2000_puts() {
    let mut r = results(Vec::new());
    r.edge = Some(EdgeResult {
        rows: vec![
            row(ServerKind::EdgeApp, Route::Get, 64, 10_000, 8_000.0, 25.0),
            row(ServerKind::EdgeApp, Route::NoStore, 64, 10_000, 10_000.0, 5.0),
            row(ServerKind::EdgeApp, Route::Put, 64, 10_000, 2_500.0, 40.0),
        ],
        failed: Vec::new(),
    });
    let targets = r.targets();
    let ratio = target(&targets, "edge.file.get.ratio_vs_no_store");
    assert_eq!((ratio.value, ratio.met), (Some(0.8), Some(true)));
    let p99 = target(&targets, "edge.file.get.p99_ms");
    assert_eq!((p99.value, p99.met), (Some(25.0), Some(false)));
    assert_eq!(target(&targets, "edge.file.put.req_per_s").met, Some(true));
    let table = r.table();
    let get_line = table
        .lines()
        .find(|l| l.starts_with("edge-app          /get     64"))
        .expect("the /get row");
    assert!(get_line.contains(" 0.80 |"), "{get_line}");
    assert!(get_line.contains("edge.file.get.p99_ms 25.00 <= 20 MISSED"), "{get_line}");
}
