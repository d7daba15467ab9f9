//! End-to-end tests: the real `host-example` binary on a free loopback port with a temp
//! data directory, driven over HTTP by a real client with a cookie jar.

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{client, request, run, session_cookie, text, Server};
use reqwest::StatusCode;

#[tokio::test]
async fn put_then_get_returns_the_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let client = client();
    assert_eq!(text(&client, &server.url("/put")).await, (StatusCode::OK, "stored\n".into()));
    assert_eq!(
        text(&client, &server.url("/get")).await,
        (StatusCode::OK, "Hello from a session!".into())
    );
    let fresh = reqwest::Client::new();
    assert_eq!(text(&fresh, &server.url("/get")).await.1, "", "another client has no session");
}

#[tokio::test]
async fn the_cookie_is_http_only_and_same_site_lax() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--secure"]);
    let response = reqwest::get(server.url("/put")).await.expect("put");
    let cookie =
        response.headers().get("set-cookie").expect("cookie").to_str().expect("ascii").to_owned();
    for part in ["session=", "HttpOnly", "SameSite=Lax", "Secure", "Path=/", "Max-Age=86400"] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
}

#[tokio::test]
async fn a_session_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = client();
    let first = Server::start(dir.path(), &[]);
    text(&client, &first.url("/put?message=still%20here")).await;
    assert!(first.stop().success());
    let second = Server::start(dir.path(), &[]);
    assert_eq!(text(&client, &second.url("/get")).await.1, "still here");
}

#[tokio::test]
async fn malformed_unknown_and_forged_cookies_get_a_fresh_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let plain = reqwest::Client::new();
    let long = format!("session={}", "x".repeat(5000));
    for cookie in [
        "session=has spaces in it",
        "session=",
        "session=unknown-token-abc",
        "session=%00%01",
        long.as_str(),
        "garbage",
    ] {
        let response =
            plain.get(server.url("/put")).header("cookie", cookie).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK, "cookie {cookie:?}");
        let token = session_cookie(&response).expect("a fresh session cookie");
        assert_eq!(token.len(), 43);
        assert_ne!(Some(token.as_str()), cookie.strip_prefix("session="));
    }
}

#[tokio::test]
async fn oversized_session_data_is_refused_with_413_and_nothing_is_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--max-data-bytes", "200"]);
    let client = client();
    text(&client, &server.url("/put?message=small")).await;
    let big = "y".repeat(500);
    let (status, body) = text(&client, &server.url(&format!("/put?message={big}"))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(text(&client, &server.url("/get")).await.1, "small");
}

#[tokio::test]
async fn renew_issues_a_new_token_and_invalidates_the_old_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let plain = reqwest::Client::new();
    let put = plain.get(server.url("/put")).send().await.expect("put");
    let old = session_cookie(&put).expect("cookie");
    let renew = request(&plain, &server.url("/renew"))
        .header("cookie", format!("session={old}"))
        .send()
        .await
        .expect("renew");
    let new = session_cookie(&renew).expect("new cookie");
    assert_ne!(old, new);
    let with = |token: &str| {
        plain.get(server.url("/get")).header("cookie", format!("session={token}")).send()
    };
    assert_eq!(with(&new).await.expect("get").text().await.expect("body"), "Hello from a session!");
    assert_eq!(
        with(&old).await.expect("get").text().await.expect("body"),
        "",
        "the old token is dead"
    );
}

#[tokio::test]
async fn destroy_ends_the_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Shared locking: the `stats` command below reads the file while the server runs.
    let server = Server::start(dir.path(), &["--locking", "shared"]);
    let client = client();
    text(&client, &server.url("/put")).await;
    assert_eq!(text(&client, &server.url("/destroy")).await.0, StatusCode::OK);
    assert_eq!(text(&client, &server.url("/get")).await.1, "");
    let (ok, stdout, _) = run(&["stats", "--data-dir", dir.path().to_str().expect("utf-8")]);
    assert!(ok);
    assert!(stdout.contains("active: 0"), "{stdout}");
}

#[tokio::test]
async fn sweep_and_stats_beside_a_running_server_go_through_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().to_str().expect("utf-8");
    let server = Server::start(dir.path(), &[]);
    let client = client();
    text(&client, &server.url("/put")).await;
    let lock_before =
        std::fs::read_to_string(dir.path().join("sessions.db-lock")).expect("the server's lock");
    let (ok, stdout, stderr) = run(&["stats", "--data-dir", data_dir]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("active: 1"), "{stdout}");
    let (ok, stdout, stderr) = run(&["sweep", "--data-dir", data_dir]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("removed 0 expired sessions") && stdout.contains("by the running server"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("sessions.db-lock")).expect("lock"),
        lock_before
    );
    assert_eq!(
        text(&client, &server.url("/get")).await.1,
        "Hello from a session!",
        "the server is unharmed"
    );
    drop(server);
    let (ok, stdout, stderr) = run(&["stats", "--data-dir", data_dir]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("active: 1"), "{stdout}");
}

#[tokio::test]
async fn an_expired_session_is_not_served_and_the_timer_removes_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        dir.path(),
        &["--lifetime", "1s", "--cleanup-cron", "* * * * * *", "--locking", "shared"],
    );
    let client = client();
    text(&client, &server.url("/put")).await;
    let data_dir = dir.path().to_str().expect("utf-8");
    let started = Instant::now();
    loop {
        let served = text(&client, &server.url("/get")).await.1;
        let (_, stats, _) = run(&["stats", "--data-dir", data_dir]);
        if served.is_empty() && stats.contains("active: 0\nexpired: 0") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "still served {served:?} / stored {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn sweep_and_stats_subcommands_print_the_right_numbers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().to_str().expect("utf-8");
    {
        // Written an hour in the past: sessions that lived for a minute are expired now.
        let options = libsqlstore_host::StoreOptions::in_dir(dir.path());
        options.clock.rewind(Duration::from_secs(3600));
        let then = options.clock.now_ms();
        let runtime = common::runtime();
        let store = libsqlstore_host::ComponentStore::open(runtime, options).expect("open");
        for i in 0..1100 {
            store.commit(&format!("old{i}"), b"{}".to_vec(), then + 60_000).await.expect("commit");
        }
        for i in 0..3 {
            store
                .commit(&format!("live{i}"), b"{}".to_vec(), then + 2 * 3_600_000)
                .await
                .expect("commit");
        }
        store.close().await;
    }
    let (ok, stdout, stderr) = run(&["stats", "--data-dir", data_dir]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout, "active: 3\nexpired: 1100\n");
    // No time budget: every call deletes a full batch of 500 (a budgeted first call
    // deletes 100 to measure its rate).
    let (ok, stdout, stderr) =
        run(&["sweep", "--data-dir", data_dir, "--sweep-batch", "500", "--sweep-budget", "0"]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("removed 1100 expired sessions in 3 batches"), "{stdout}");
    let (_, stdout, _) = run(&["stats", "--data-dir", data_dir]);
    assert_eq!(stdout, "active: 3\nexpired: 0\n");
}

#[tokio::test]
async fn shutdown_under_load_is_clean() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let url = server.url("/put");
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..16 {
        let (url, stop, client) = (url.clone(), stop.clone(), client());
        workers.push(tokio::spawn(async move {
            let (mut ok, mut refused) = (0u32, 0u32);
            while !stop.load(Ordering::SeqCst) && ok + refused < 2000 {
                match client.get(&url).send().await {
                    Ok(r) => {
                        assert_eq!(r.status(), StatusCode::OK, "a request in flight failed");
                        r.text().await.expect("complete body");
                        ok += 1;
                    }
                    Err(_) => refused += 1, // the listener is closed: expected after SIGTERM
                }
            }
            ok
        }));
    }
    // Let the load build up (a real-time wait: the server runs in another process).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = server.stop();
    stop.store(true, Ordering::SeqCst);
    // Each worker's cookie jar holds one session, created by its first acknowledged put.
    let mut sessions = 0;
    for w in workers {
        sessions += u32::from(w.await.expect("worker") > 0);
    }
    assert!(status.success(), "exit status {status:?}");
    assert!(sessions > 0);
    assert!(!dir.path().join("sessions.db-lock").exists(), "the store lock was released");
    let (_, stdout, _) = run(&["stats", "--data-dir", dir.path().to_str().expect("utf-8")]);
    assert!(stdout.contains(&format!("active: {sessions}\n")), "{stdout} vs {sessions} sessions");
}

#[tokio::test]
async fn every_acknowledged_put_survives_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let base = server.base.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..8 {
        let (base, stop) = (base.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) && i < 5000 {
                let client = client();
                let message = format!("w{w}-{i}");
                if let Ok(r) = client.get(format!("{base}/put?message={message}")).send().await {
                    if r.status() == StatusCode::OK && r.text().await.is_ok() {
                        acknowledged.push((client, message));
                    }
                }
                i += 1;
            }
            acknowledged
        }));
    }
    // Let the burst run (real time: the server is another process).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill9();
    stop.store(true, Ordering::SeqCst);
    let mut acknowledged = Vec::new();
    for w in workers {
        acknowledged.extend(w.await.expect("worker"));
    }
    assert!(acknowledged.len() > 10, "the burst acknowledged too little: {}", acknowledged.len());
    let restarted = Server::start(dir.path(), &[]);
    let started = Instant::now();
    for (client, message) in &acknowledged {
        let (status, body) = text(client, &restarted.url("/get")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, message.as_str()));
    }
    eprintln!(
        "{} acknowledged puts verified in {:?} after restart",
        acknowledged.len(),
        started.elapsed()
    );
}

/// Saves of existing sessions from many clients at once go to the store as group
/// commits (many saves, one transaction and fsync): none acknowledged may be lost.
#[tokio::test]
async fn every_acknowledged_save_of_concurrent_sessions_survives_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let base = server.base.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..32 {
        let (base, stop) = (base.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let client = client();
            assert_eq!(
                text(&client, &format!("{base}/put?message=w{w}-0")).await.0,
                StatusCode::OK,
                "session created"
            );
            // (last acknowledged save, last one sent): the stored message lies between.
            let (mut acknowledged, mut sent) = (0, 0);
            while !stop.load(Ordering::SeqCst) && sent < 20_000 {
                sent += 1;
                let saved = match client.get(format!("{base}/put?message=w{w}-{sent}")).send().await
                {
                    Ok(r) => r.status() == StatusCode::OK && r.text().await.is_ok(),
                    Err(_) => false,
                };
                if !saved {
                    break;
                }
                acknowledged = sent;
            }
            (w, client, acknowledged, sent)
        }));
    }
    // Let the saves run (real time: the server is another process).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill9();
    stop.store(true, Ordering::SeqCst);
    let restarted = Server::start(dir.path(), &[]);
    let mut saves = 0;
    for worker in workers {
        let (w, client, acknowledged, sent) = worker.await.expect("worker");
        saves += acknowledged;
        let (status, body) = text(&client, &restarted.url("/get")).await;
        assert_eq!(status, StatusCode::OK);
        let stored: u32 = body
            .strip_prefix(&format!("w{w}-"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("client {w} finds {body:?}"));
        assert!(
            (acknowledged..=sent).contains(&stored),
            "client {w}: save {acknowledged} was acknowledged, {sent} sent, {stored} stored"
        );
    }
    assert!(saves > 100, "the burst acknowledged too little: {saves} saves");
    eprintln!("{saves} acknowledged saves of 32 sessions, each one's last found after SIGKILL");
}

#[test]
fn a_second_host_on_the_same_data_dir_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = Server::start(dir.path(), &[]);
    let (ok, _, stderr) = run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        dir.path().to_str().expect("utf-8"),
    ]);
    assert!(!ok);
    assert!(stderr.contains("locked by another running host"), "{stderr}");
}

#[test]
fn an_unusable_data_dir_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").expect("write");
    let under_file = file.join("data");
    let (ok, _, stderr) = run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        under_file.to_str().expect("utf-8"),
    ]);
    assert!(!ok);
    assert!(stderr.contains("cannot create the data directory"), "{stderr}");
}

#[test]
fn a_missing_or_invalid_component_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8");
    let (ok, _, stderr) =
        run(&["stats", "--data-dir", data, "--component", "/nonexistent/libsqlstore.wasm"]);
    assert!(!ok);
    assert!(stderr.contains("not found"), "{stderr}");
    let bogus = dir.path().join("bogus.wasm");
    std::fs::write(&bogus, "this is text").expect("write");
    let (ok, _, stderr) =
        run(&["stats", "--data-dir", data, "--component", bogus.to_str().expect("utf-8")]);
    assert!(!ok);
    assert!(stderr.contains("not a usable WebAssembly component"), "{stderr}");
}

#[test]
fn a_malformed_setting_refuses_to_start_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8");
    let (ok, _, stderr) = run(&["stats", "--data-dir", data, "--table", "x; DROP TABLE y"]);
    assert!(!ok);
    assert!(stderr.contains("SESSIONS_TABLE"), "{stderr}");
    let (ok, _, stderr) = run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data,
        "--cleanup-cron",
        "whenever",
    ]);
    assert!(!ok);
    assert!(stderr.contains("invalid cron expression"), "{stderr}");
}

/// GET `path` with `client`; (status, new session token if one was set, body).
async fn call(client: &reqwest::Client, url: &str) -> (StatusCode, Option<String>, String) {
    let response = request(client, url).send().await.expect("request");
    let (status, token) = (response.status(), session_cookie(&response));
    (status, token, response.text().await.expect("body"))
}

/// GET `path` as the holder of `token`, without a cookie jar.
async fn call_as(token: &str, url: &str) -> (StatusCode, Option<String>, String) {
    let response = request(&reqwest::Client::new(), url)
        .header("cookie", format!("session={token}"))
        .send()
        .await
        .expect("request");
    let (status, token) = (response.status(), session_cookie(&response));
    (status, token, response.text().await.expect("body"))
}

#[tokio::test]
async fn login_rotates_the_token_the_old_one_dies_and_the_values_stay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let client = client();
    let (_, old, _) = call(&client, &server.url("/put?message=kept")).await;
    let old = old.expect("a session cookie");
    let (status, new, body) = call(&client, &server.url("/login?user=alice")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "logged in\n"));
    let new = new.expect("the login sets a new cookie");
    assert_ne!(new, old);
    assert_eq!(
        text(&client, &server.url("/get")).await,
        (StatusCode::OK, "kept".into()),
        "/get still sees the values"
    );
    assert_eq!(call_as(&old, &server.url("/get")).await.2, "", "the pre-login token is dead");
    assert_eq!(call_as(&old, &server.url("/devices")).await.0, StatusCode::UNAUTHORIZED);
    let fresh = common::client();
    let (status, token, _) = call(&fresh, &server.url("/login?user=bob")).await;
    assert_eq!(
        (status, token.map(|t| t.len())),
        (StatusCode::OK, Some(43)),
        "a login without a session creates one"
    );
}

#[tokio::test]
async fn devices_lists_every_login_of_the_user_by_id_as_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let (laptop, phone, other) = (client(), client(), client());
    let a = call(&laptop, &server.url("/login?user=alice")).await.1.expect("cookie");
    let b = call(&phone, &server.url("/login?user=alice")).await.1.expect("cookie");
    call(&other, &server.url("/login?user=bob")).await;
    let response = laptop.get(server.url("/devices")).send().await.expect("devices");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let listed: serde_json::Value =
        serde_json::from_str(&response.text().await.expect("body")).expect("json");
    let sessions = listed["sessions"].as_array().expect("a sessions array");
    let mut ids: Vec<&str> = sessions.iter().map(|s| s["id"].as_str().expect("an id")).collect();
    ids.sort();
    let mut expected = vec![common::id_of(&a), common::id_of(&b)];
    expected.sort();
    assert_eq!(ids, expected, "both devices, by id, never by token");
    assert!(sessions.iter().all(|s| s["expiry"].as_u64().is_some()));
}

#[tokio::test]
async fn logout_everywhere_ends_the_other_devices_and_keeps_this_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let (laptop, phone, other) = (client(), client(), client());
    call(&laptop, &server.url("/put?message=here")).await;
    call(&laptop, &server.url("/login?user=alice")).await;
    call(&phone, &server.url("/login?user=alice")).await;
    call(&other, &server.url("/login?user=bob")).await;
    let response = request(&laptop, &server.url("/logout-everywhere"))
        .send()
        .await
        .expect("logout everywhere");
    assert_eq!(
        response.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    assert_eq!(
        (response.status(), response.text().await.expect("body")),
        (StatusCode::OK, r#"{"revoked":1}"#.to_owned())
    );
    assert_eq!(
        text(&phone, &server.url("/devices")).await.0,
        StatusCode::UNAUTHORIZED,
        "the other device is logged out"
    );
    assert_eq!(text(&laptop, &server.url("/get")).await.1, "here", "this device is not");
    let (_, body) = text(&laptop, &server.url("/devices")).await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).expect("json")["sessions"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        text(&other, &server.url("/devices")).await.0,
        StatusCode::OK,
        "another user is untouched"
    );
}

#[tokio::test]
async fn a_renewed_login_stays_the_users_device_and_logout_everywhere_ends_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let (laptop, phone) = (client(), client());
    call(&laptop, &server.url("/put?message=mine")).await;
    call(&laptop, &server.url("/login?user=alice")).await;
    let (status, renewed, _) = call(&laptop, &server.url("/renew")).await;
    let renewed = renewed.expect("the renewal sets a new cookie");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text(&laptop, &server.url("/get")).await.1, "mine", "the values moved");
    let (_, body) = text(&laptop, &server.url("/devices")).await;
    let listed: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        listed["sessions"][0]["id"].as_str(),
        Some(common::id_of(&renewed).as_str()),
        "still alice's: {body}"
    );
    call(&phone, &server.url("/login?user=alice")).await;
    let (status, _, body) = call(&phone, &server.url("/logout-everywhere")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, r#"{"revoked":1}"#));
    assert_eq!(
        call_as(&renewed, &server.url("/get")).await.2,
        "",
        "the renewed session ended with the others"
    );
}

#[tokio::test]
async fn a_name_the_store_refuses_is_400_and_the_session_is_still_rotated_anonymous() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let refused = session_core::Failure::InvalidInput.answer().body;
    let long = "n".repeat(257);
    for name in ["", "ali%0Ace", "ali%00ce", long.as_str()] {
        let jar = client();
        let old = call(&jar, &server.url("/put?message=mine")).await.1.expect("cookie");
        let (status, new, body) = call(&jar, &server.url(&format!("/login?user={name}"))).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::BAD_REQUEST, refused.as_str()),
            "{name:?}"
        );
        let new = new.expect("the cookie carries the rotated token");
        assert_ne!(new, old);
        assert_eq!(call_as(&old, &server.url("/get")).await.2, "", "the old token is dead");
        assert_eq!(
            text(&jar, &server.url("/get")).await.1,
            "mine",
            "nothing in the session was lost"
        );
        assert_eq!(
            text(&jar, &server.url("/devices")).await.0,
            StatusCode::UNAUTHORIZED,
            "still anonymous"
        );
    }
    let (status, token, body) = call(&client(), &server.url("/login")).await;
    assert_eq!(
        (status, token, body),
        (StatusCode::BAD_REQUEST, None, session_core::Failure::MissingUser.answer().body)
    );
}

#[tokio::test]
async fn devices_and_logout_everywhere_need_a_login() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let client = client();
    for path in ["/devices", "/logout-everywhere"] {
        assert_eq!(
            text(&client, &server.url(path)).await,
            (StatusCode::UNAUTHORIZED, "not logged in\n".into()),
            "{path} fresh"
        );
    }
    call(&client, &server.url("/put?message=anonymous")).await;
    for path in ["/devices", "/logout-everywhere"] {
        assert_eq!(
            text(&client, &server.url(path)).await,
            (StatusCode::UNAUTHORIZED, "not logged in\n".into()),
            "{path}"
        );
    }
}
