//! The binary against a real libSQL server (`sqld`) on loopback: two hosts sharing one
//! store, concurrent sweeps, and a server that goes away and comes back.

use crate::common;

use std::time::{Duration, Instant};

use common::sqld::Sqld;
use common::{client, run, text, Server};
use libsqlstore_host::{ComponentStore, StoreOptions};
use reqwest::StatusCode;

fn start_sqld(dir: &std::path::Path) -> Sqld {
    Sqld::start(dir, None).expect("sqld starts (./dev setup installs it)")
}

#[tokio::test]
async fn a_session_created_on_one_host_is_read_and_destroyed_on_another() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqld = start_sqld(dir.path());
    let url = sqld.url();
    let shared = ["--database", url.as_str(), "--idle-timeout", "1h"];
    let a = Server::start(&dir.path().join("a"), &shared);
    let b = Server::start(&dir.path().join("b"), &shared);
    // Both hosts are 127.0.0.1: the jar sends A's cookie to B, as behind a load balancer.
    let client = client();
    assert_eq!(text(&client, &a.url("/put?message=shared")).await.0, StatusCode::OK);
    let read = client.get(b.url("/get")).send().await.expect("get on B");
    assert!(
        read.headers().get("set-cookie").is_none(),
        "a read stores nothing: the store slides the idle timeout itself"
    );
    assert_eq!(read.text().await.expect("body"), "shared");
    assert_eq!(text(&client, &b.url("/destroy")).await.0, StatusCode::OK);
    assert_eq!(text(&client, &a.url("/get")).await.1, "", "destroyed through B, gone on A");
}

#[tokio::test]
async fn two_hosts_sweeping_at_once_remove_each_expired_session_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqld = start_sqld(dir.path());
    let url = sqld.url();
    const EXPIRED: u64 = 1200;
    {
        // Written as if an hour ago, for a minute: expired now.
        let options = StoreOptions::in_dir(dir.path()).env("SESSIONS_DATABASE", url.clone());
        options.clock.rewind(Duration::from_secs(3600));
        let then = options.clock.now_ms();
        let runtime = common::runtime();
        let store = ComponentStore::open(runtime, options).expect("open");
        for i in 0..EXPIRED {
            store.commit(&format!("old{i}"), b"{}".to_vec(), then + 60_000).await.expect("commit");
        }
        store.commit("live", b"{}".to_vec(), then + 2 * 3_600_000).await.expect("commit");
        store.close().await;
    }
    let sweep = |data: std::path::PathBuf| {
        let url = url.clone();
        std::thread::spawn(move || {
            run(&[
                "sweep",
                "--database",
                &url,
                "--sweep-batch",
                "50",
                "--data-dir",
                data.to_str().expect("utf-8"),
            ])
        })
    };
    let (first, second) = (sweep(dir.path().join("x")), sweep(dir.path().join("y")));
    let mut removed = 0;
    for (ok, stdout, stderr) in [first.join().expect("sweep 1"), second.join().expect("sweep 2")] {
        assert!(ok, "a sweep failed: {stderr}");
        let n: u64 = stdout
            .strip_prefix("removed ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected output {stdout:?}"));
        removed += n;
    }
    assert_eq!(removed, EXPIRED, "each expired session removed exactly once in total");
    let (_, stats, _) = run(&[
        "stats",
        "--database",
        &url,
        "--data-dir",
        dir.path().join("x").to_str().expect("utf-8"),
    ]);
    assert_eq!(stats, "active: 1\nexpired: 0\n");
}

#[tokio::test]
async fn a_stopped_server_means_503s_then_recovery_with_nothing_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sqld = start_sqld(dir.path());
    let url = sqld.url();
    let host = Server::start(&dir.path().join("host"), &["--database", &url]);
    let client = client();
    text(&client, &host.url("/put?message=durable")).await;
    sqld.stop();
    let started = Instant::now();
    let (status, body) = text(&client, &host.url("/get")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        body,
        session_core::Failure::Unavailable.answer().body,
        "the reason goes to the log, not the client"
    );
    assert!(started.elapsed() < Duration::from_secs(6), "503 took {:?}", started.elapsed());
    assert_eq!(
        text(&client, &host.url("/put?message=lost")).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    sqld.restart().expect("sqld restarts");
    assert_eq!(text(&client, &host.url("/get")).await, (StatusCode::OK, "durable".into()));
}
