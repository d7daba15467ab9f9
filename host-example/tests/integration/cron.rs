//! Cron-style sweeps as users run them: `host-example sweep` from a timer beside a serving
//! host under load, two sweeps at once, and a sweep killed mid-chunk.

use crate::common;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    assert_intact, client, data_dir, native, run, seed_expired, single_value, Server, BIN,
};
use reqwest::StatusCode;

fn expired_left(stdout: &str) -> u64 {
    stdout.lines().find_map(|l| l.strip_prefix("expired: ")?.parse().ok()).expect("a stats answer")
}

fn removed(stdout: &str) -> u64 {
    stdout
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"))
}

#[tokio::test]
async fn sweeps_every_second_beside_a_busy_server_clear_the_backlog_and_no_client_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    seed_expired(dir.path(), 200_000).await;
    let server = Server::start(dir.path(), &["--cleanup-interval", "0"]);
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..32 {
        let (base, stop) = (server.base.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let client = client();
            let (mut failures, mut slowest, mut requests) = (Vec::new(), Duration::ZERO, 0u32);
            while !stop.load(Ordering::SeqCst) && requests < 20_000 {
                let path = if requests % 2 == 0 {
                    format!("/put?message=c{c}-{requests}")
                } else {
                    "/get".into()
                };
                let started = Instant::now();
                match client.get(format!("{base}{path}")).send().await {
                    Ok(r) if r.status() == StatusCode::OK => {}
                    Ok(r) => failures.push(r.status().to_string()),
                    Err(e) => failures.push(e.to_string()),
                }
                slowest = slowest.max(started.elapsed());
                requests += 1;
            }
            (failures, slowest, requests)
        }));
    }
    // The crontab: a sweep every second, for at most a minute, until nothing expired is left.
    let started = Instant::now();
    let mut total = 0;
    let mut runs = 0;
    loop {
        let tick = Instant::now();
        let (ok, stdout, stderr) = run(&["sweep", "--data-dir", data_dir(dir.path())]);
        assert!(ok, "a cron sweep failed beside the server: {stderr}");
        total += removed(&stdout);
        runs += 1;
        let (_, stats, _) = run(&["stats", "--data-dir", data_dir(dir.path())]);
        if expired_left(&stats) == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the backlog was not cleared within a minute"
        );
        tokio::time::sleep(Duration::from_secs(1).saturating_sub(tick.elapsed())).await;
    }
    stop.store(true, Ordering::SeqCst);
    let (mut requests, mut slowest) = (0, Duration::ZERO);
    for handle in clients {
        let (failures, client_slowest, client_requests) = handle.await.expect("client");
        assert!(failures.is_empty(), "a client saw failures while sweeps ran: {failures:?}");
        slowest = slowest.max(client_slowest);
        requests += client_requests;
    }
    eprintln!(
        "200000 expired removed by {runs} cron runs in {:?}; {requests} requests beside, slowest {slowest:?}",
        started.elapsed()
    );
    assert_eq!(total, 200_000, "each expired session removed exactly once");
    drop(server);
    assert_intact(&dir.path().join("sessions.db")).await;
}

#[tokio::test]
async fn two_sweeps_at_once_on_one_file_remove_each_session_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    seed_expired(dir.path(), 30_000).await;
    let sweep = || {
        let data = dir.path().to_owned();
        std::thread::spawn(move || {
            run(&["sweep", "--data-dir", data_dir(&data), "--sweep-batch", "500"])
        })
    };
    let (first, second) = (sweep(), sweep());
    let mut total = 0;
    for (ok, stdout, stderr) in [first.join().expect("sweep 1"), second.join().expect("sweep 2")] {
        assert!(ok, "a sweep failed: {stderr}");
        total += removed(&stdout);
    }
    assert_eq!(total, 30_000);
    let conn = native(&dir.path().join("sessions.db")).await;
    assert_eq!(
        single_value(&conn, "SELECT count(*) FROM sessions").await,
        libsql::Value::Integer(0)
    );
    assert_intact(&dir.path().join("sessions.db")).await;
}

#[tokio::test]
async fn a_sweep_killed_mid_chunk_is_finished_by_the_next_one_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    seed_expired(dir.path(), 200_000).await;
    let lock = dir.path().join("sessions.db-lock");
    let mut sweep = Command::new(BIN)
        .args([
            "sweep",
            "--data-dir",
            data_dir(dir.path()),
            "--sweep-batch",
            "1000000",
            "--sweep-budget",
            "0",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn sweep");
    let started = Instant::now();
    while !lock.exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "the sweep never took the lock");
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(200));
    sweep.kill().expect("SIGKILL");
    sweep.wait().expect("reaped");
    let started = Instant::now();
    let (ok, stdout, stderr) =
        run(&["sweep", "--data-dir", data_dir(dir.path()), "--busy-timeout", "2s"]);
    assert!(ok, "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(60));
    let (_, stats, _) = run(&["stats", "--data-dir", data_dir(dir.path())]);
    assert_eq!(expired_left(&stats), 0, "{stdout}");
    assert!(!lock.exists());
    assert_intact(&dir.path().join("sessions.db")).await;
}
