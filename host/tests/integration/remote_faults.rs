//! The remote backend against servers that misbehave: the built `libsqlstore.wasm` in
//! wasmtime (through the host library), talking to a fake libSQL server on loopback — a
//! `TcpListener` whose connection handler plays the fault (trickling, stalling, an
//! oversized answer, an early auth refusal, a garbled reply).
//!
//! Each call must end in the store's typed error within its bounds, never in a guest trap
//! (`StoreError::Guest`), and no message may carry a password or the auth token. A real
//! `sqld` killed under load from a store's several instances plays the last fault.
//!
//! `./dev test` builds the component first.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libsqlstore_host::{ComponentStore, HostClock, StoreError, StoreOptions};

use common::runtime;

/// A store on the server at `url`, with extra `SESSIONS_*` settings.
fn store(url: &str, settings: &[(&str, &str)]) -> ComponentStore {
    let options = settings.iter().fold(
        StoreOptions { data_dir: None, ..StoreOptions::default() }.env("SESSIONS_DATABASE", url),
        |o, (n, v)| o.env(n, *v),
    );
    ComponentStore::open(runtime(), options).expect("store opens")
}

/// A fake server on 127.0.0.1: every connection runs `handle` on a thread of its own.
/// The listener lives as long as the test process.
fn serve(handle: fn(TcpStream)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || handle(stream));
        }
    });
    url
}

/// A request as the fake server read it.
struct Request {
    head: String,
    body: Vec<u8>,
}

/// Reads the request head (status line and headers) only; the body stays unread.
fn read_head(reader: &mut BufReader<TcpStream>) -> String {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return head,
            Ok(_) if line == "\r\n" => return head,
            Ok(_) => head.push_str(&line),
        }
    }
}

/// Reads a whole request (head, then the `content-length` bytes of its body).
fn read_request(reader: &mut BufReader<TcpStream>) -> Request {
    let head = read_head(reader);
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>())
        })
        .and_then(Result::ok)
        .unwrap_or(0);
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    Request { head, body }
}

/// Keeps the connection open, reading and discarding, until the client goes away.
fn hold_until_closed(reader: &mut BufReader<TcpStream>) {
    let mut sink = [0; 4096];
    while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
}

fn expect_unavailable(
    result: Result<impl std::fmt::Debug, StoreError>,
    containing: &str,
) -> String {
    match result {
        Err(StoreError::Unavailable(msg)) => {
            assert!(msg.contains(containing), "{msg}");
            msg
        }
        other => panic!("expected Unavailable containing {containing:?}, got {other:?}"),
    }
}

fn expect_storage(result: Result<impl std::fmt::Debug, StoreError>, containing: &str) -> String {
    match result {
        Err(StoreError::Storage(msg)) => {
            assert!(msg.contains(containing), "{msg}");
            msg
        }
        other => panic!("expected Storage containing {containing:?}, got {other:?}"),
    }
}

/// How long a call bounded by a 1 s `SESSIONS_REMOTE_TIMEOUT` may take on a loaded
/// 2-core machine running the suite's tests in parallel.
const ONE_SECOND_AND_SLACK: Duration = Duration::from_millis(2500);

#[tokio::test]
async fn a_server_trickling_its_answer_is_unavailable_once_the_whole_call_timeout_passes() {
    // One byte every 0.4 s: each wait is short, the whole answer would take 40 s.
    let url = serve(|stream| {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        read_request(&mut reader);
        let mut writer = stream;
        let head =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n";
        if writer.write_all(head).is_err() {
            return;
        }
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(400));
            if writer.write_all(b" ").and_then(|()| writer.flush()).is_err() {
                return;
            }
        }
    });
    let store = store(&url, &[("SESSIONS_REMOTE_TIMEOUT", "1s")]);
    let started = Instant::now();
    let msg = expect_unavailable(store.find("tok").await, "SESSIONS_REMOTE_TIMEOUT");
    let took = started.elapsed();
    eprintln!("a 1s timeout against a trickling server ended the call after {took:?}");
    assert!(msg.contains("within 1s"), "{msg}");
    assert!(took >= Duration::from_millis(900) && took < ONE_SECOND_AND_SLACK, "took {took:?}");
}

#[tokio::test]
async fn a_server_trickling_its_status_line_is_unavailable_once_the_whole_call_timeout_passes() {
    let url = serve(|stream| {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        read_request(&mut reader);
        let mut writer = stream;
        for byte in b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}" {
            if writer.write_all(&[*byte]).and_then(|()| writer.flush()).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(400));
        }
    });
    let store = store(&url, &[("SESSIONS_REMOTE_TIMEOUT", "1s")]);
    let started = Instant::now();
    expect_unavailable(store.stats().await, "SESSIONS_REMOTE_TIMEOUT");
    assert!(started.elapsed() < ONE_SECOND_AND_SLACK, "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_server_that_stalls_after_its_headers_is_unavailable_within_the_timeout() {
    let url = serve(|stream| {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        read_request(&mut reader);
        let mut writer = stream;
        let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"baton\":";
        if writer.write_all(head).is_ok() {
            hold_until_closed(&mut reader);
        }
    });
    let store = store(&url, &[("SESSIONS_REMOTE_TIMEOUT", "1s")]);
    let started = Instant::now();
    expect_unavailable(store.all().await, "did not answer within 1s");
    assert!(started.elapsed() < ONE_SECOND_AND_SLACK, "took {:?}", started.elapsed());
}

/// Streams `total` bytes of a JSON-looking answer in 64 KiB writes, stopping as soon as
/// the client goes away: nothing close to `total` is ever allocated.
fn stream_answer(mut writer: TcpStream, head: &str, total: u64) {
    if writer.write_all(head.as_bytes()).is_err() {
        return;
    }
    let chunk = [b' '; 64 << 10];
    let mut sent = 0;
    while sent < total {
        if writer.write_all(&chunk).is_err() {
            return;
        }
        sent += chunk.len() as u64;
    }
}

const SIX_HUNDRED_MIB: u64 = 600 << 20;

#[tokio::test]
async fn an_announced_600_mib_answer_is_refused_before_it_is_read() {
    let url = serve(|stream| {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        read_request(&mut reader);
        let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {SIX_HUNDRED_MIB}\r\n\r\n");
        stream_answer(stream, &head, SIX_HUNDRED_MIB);
    });
    let store = store(&url, &[]);
    let started = Instant::now();
    let msg = expect_storage(store.all().await, "SESSIONS_REMOTE_MAX_RESPONSE=67108864");
    assert!(msg.contains(&SIX_HUNDRED_MIB.to_string()) && msg.contains("page()"), "{msg}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn an_unannounced_600_mib_answer_stops_at_the_default_limit_without_a_trap() {
    // Chunked: the size is only found out by reading.
    let url = serve(|stream| {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        read_request(&mut reader);
        let mut writer = stream;
        let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        if writer.write_all(head).is_err() {
            return;
        }
        let chunk = [b' '; 64 << 10];
        let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
        framed.extend_from_slice(&chunk);
        framed.extend_from_slice(b"\r\n");
        for _ in 0..SIX_HUNDRED_MIB / chunk.len() as u64 {
            if writer.write_all(&framed).is_err() {
                return;
            }
        }
    });
    let store = store(&url, &[("SESSIONS_REMOTE_TIMEOUT", "20s")]);
    let started = Instant::now();
    expect_storage(store.all().await, "SESSIONS_REMOTE_MAX_RESPONSE=67108864");
    let took = started.elapsed();
    // The instance survived the call (no trap): the next one reuses it.
    expect_storage(store.page(None, 10).await, "SESSIONS_REMOTE_MAX_RESPONSE");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    eprintln!("reading 64 MiB and refusing the rest took {took:?}");
}

#[tokio::test]
async fn a_smaller_answer_limit_is_honoured() {
    let url = serve(|stream| {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        read_request(&mut reader);
        stream_answer(stream, "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n", SIX_HUNDRED_MIB);
    });
    let store = store(&url, &[("SESSIONS_REMOTE_MAX_RESPONSE", "2000000")]);
    expect_storage(store.find("tok").await, "SESSIONS_REMOTE_MAX_RESPONSE=2000000");
}

/// Answers `status` as soon as the request head is in, without reading the body, then
/// either closes the connection at once (the unread request bytes make the kernel reset
/// it) or keeps it open a moment without reading.
fn refuse_at_once(stream: TcpStream, status: &str, close_at_once: bool) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    read_head(&mut reader);
    let mut writer = stream;
    let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let _ = writer.write_all(answer.as_bytes());
    if !close_at_once {
        std::thread::sleep(Duration::from_millis(500));
    }
}

const SECRET_TOKEN: &str = "tok3n-hunter2-secret";

#[tokio::test]
async fn an_auth_refusal_before_the_body_is_read_names_the_auth_token_every_time() {
    let servers = [
        serve(|stream| refuse_at_once(stream, "401 Unauthorized", true)),
        serve(|stream| refuse_at_once(stream, "403 Forbidden", true)),
        serve(|stream| refuse_at_once(stream, "401 Unauthorized", false)),
    ];
    // 16 MiB of session data (21 MiB of JSON): far more than the socket buffers hold, so
    // the server's answer (and close) come while the body is still being written.
    let data = vec![7; 16 << 20];
    let settings = [("SESSIONS_AUTH_TOKEN", SECRET_TOKEN), ("SESSIONS_MAX_DATA_BYTES", "20000000")];
    for url in &servers {
        for attempt in 0..3 {
            // A fresh instance each time, as per-request hosts have.
            let store = store(url, &settings);
            let msg = expect_unavailable(
                store.commit("tok", data.clone(), u64::MAX).await,
                "refused the auth token",
            );
            assert!(!msg.contains(SECRET_TOKEN), "attempt {attempt}: {msg}");
            assert!(
                !msg.contains("EPIPE") && !msg.contains("cannot reach"),
                "attempt {attempt}: {msg}"
            );
            // The request, and at most one empty pipeline asking again for the status.
            assert!(store.http_requests() <= 2, "{} requests", store.http_requests());
        }
    }
}

/// A Hrana server that answers every pipeline well-formed, except that each `execute`
/// result carries the rows in `ROWS` (set per test through the handler's choice).
fn hrana_answer(request: &Request, rows: &str) -> String {
    let body: serde_json::Value =
        serde_json::from_slice(&request.body).expect("a JSON pipeline request");
    assert!(request.head.starts_with("POST /v2/pipeline "), "{}", request.head);
    let results: Vec<String> = body["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| {
            let ok = r#"{"cols":[],"rows":[],"affected_row_count":0,"last_insert_rowid":null}"#;
            match r["type"].as_str() {
                Some("batch") => format!(
                    r#"{{"type":"ok","response":{{"type":"batch","result":{{"step_results":[{ok},{ok}],"step_errors":[null,null]}}}}}}"#
                ),
                Some("execute") => format!(
                    r#"{{"type":"ok","response":{{"type":"execute","result":{{"cols":[],"rows":{rows},"affected_row_count":0,"last_insert_rowid":null}}}}}}"#
                ),
                _ => r#"{"type":"ok","response":{"type":"close"}}"#.to_owned(),
            }
        })
        .collect();
    let json = format!(r#"{{"baton":null,"base_url":null,"results":[{}]}}"#, results.join(","));
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{json}",
        json.len()
    )
}

fn answer_with_rows(stream: TcpStream, rows: &str) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let request = read_request(&mut reader);
    let mut writer = stream;
    let _ = writer.write_all(hrana_answer(&request, rows).as_bytes());
}

#[tokio::test]
async fn garbled_stats_answers_are_storage_errors_never_zero_counts() {
    let servers = [
        serve(|s| {
            answer_with_rows(
                s,
                r#"[[{"type":"text","value":"many"},{"type":"text","value":"few"}]]"#,
            )
        }),
        serve(|s| answer_with_rows(s, "[]")),
        serve(|s| answer_with_rows(s, r#"[[{"type":"integer","value":"5"}]]"#)),
        serve(|s| {
            answer_with_rows(
                s,
                r#"[[{"type":"integer","value":"-5"},{"type":"integer","value":"0"}]]"#,
            )
        }),
        serve(|s| answer_with_rows(s, r#"[[{"type":"null"},{"type":"float","value":2.5}]]"#)),
    ];
    for url in &servers {
        expect_storage(store(url, &[]).stats().await, "unexpected answer from the libSQL server");
    }
    let well_formed = serve(|s| {
        answer_with_rows(s, r#"[[{"type":"integer","value":"5"},{"type":"integer","value":"2"}]]"#)
    });
    let counts =
        store(&well_formed, &[]).stats().await.expect("the fake server itself speaks Hrana");
    assert_eq!((counts.active, counts.expired), (5, 2));
}

#[tokio::test]
async fn a_garbled_find_answer_is_a_storage_error() {
    let url = serve(|s| answer_with_rows(s, r#"[[{"type":"integer","value":"1"}]]"#));
    expect_storage(store(&url, &[]).find("tok").await, "unexpected answer from the libSQL server");
}

#[tokio::test]
async fn a_password_in_the_database_url_never_reaches_an_error_message() {
    let secret = "hunter2";
    for (url, token) in [
        ("http://admin:hunter2@127.0.0.1:9", None),
        ("libsql://db.example?authToken=hunter2", None),
        ("https://db.example/?key=hunter2#hunter2", None),
        ("postgres://admin:hunter2@db.example", None),
        ("http://db.example:8080", Some(secret)),
    ] {
        let settings: Vec<(&str, &str)> =
            token.map(|t| ("SESSIONS_AUTH_TOKEN", t)).into_iter().collect();
        let store = store(url, &settings);
        for result in [
            store.find("tok").await.map(drop),
            store.stats().await.map(drop),
            store.sweep().await.map(drop),
        ] {
            match result {
                Err(StoreError::InvalidConfig(msg)) => {
                    assert!(
                        msg.contains("SESSIONS_DATABASE") && !msg.contains(secret),
                        "{url}: {msg}"
                    )
                }
                other => panic!("{url}: expected InvalidConfig, got {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn the_auth_token_is_absent_from_every_server_error_message() {
    // A server that quotes the request's headers (token included) in its error body.
    let echoing = serve(|stream| {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let request = read_request(&mut reader);
        let body = format!("bad gateway; you sent: {}", request.head.replace("\r\n", " "));
        let mut writer = stream;
        let _ = writer.write_all(
            format!("HTTP/1.1 502 Bad Gateway\r\ncontent-length: {}\r\n\r\n{body}", body.len())
                .as_bytes(),
        );
    });
    let teapot = serve(|stream| {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let request = read_request(&mut reader);
        let mut writer = stream;
        let body = request.head;
        let _ = writer.write_all(
            format!("HTTP/1.1 418 I'm a teapot\r\ncontent-length: {}\r\n\r\n{body}", body.len())
                .as_bytes(),
        );
    });
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        drop(listener);
        url
    };
    let settings = [("SESSIONS_AUTH_TOKEN", SECRET_TOKEN), ("SESSIONS_REMOTE_TIMEOUT", "1s")];
    let msg = expect_unavailable(store(&echoing, &settings).find("tok").await, "HTTP 502");
    assert!(msg.contains("bad gateway") && !msg.contains(SECRET_TOKEN), "{msg}");
    let msg = expect_storage(store(&teapot, &settings).find("tok").await, "HTTP 418");
    assert!(!msg.contains(SECRET_TOKEN), "{msg}");
    let msg = expect_unavailable(
        store(&closed, &settings).find("tok").await,
        "cannot reach the libSQL server",
    );
    assert!(!msg.contains(SECRET_TOKEN), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_under_load_fails_the_calls_of_every_instance_with_typed_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sqld = common::sqld::Sqld::start(dir.path(), None).expect("sqld starts");
    let url = sqld.url();
    let store = store(&url, &[("SESSIONS_REMOTE_TIMEOUT", "1s")]);
    let expiry = HostClock::default().now_ms() + 3_600_000;
    let (answered, killed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
    let mut callers = tokio::task::JoinSet::new();
    for i in 0..16 {
        let (store, answered, killed) = (store.clone(), answered.clone(), killed.clone());
        callers.spawn(async move {
            let mut acknowledged = Vec::new();
            let mut round = 0;
            // Until the kill, then five calls more: each ends, answered or refused as
            // unavailable, within its bound.
            let mut after_kill = 0;
            while after_kill < 5 {
                let dead = killed.load(Ordering::SeqCst);
                let token = format!("caller{i}-{round}");
                let started = Instant::now();
                let outcome = match round % 2 {
                    0 => store.commit(&token, vec![1; 16], expiry).await.map(|()| true),
                    _ => store.find(&format!("caller{i}-{}", round - 1)).await.map(|f| f.is_some()),
                };
                // No call hangs: each is bounded by the 1 s timeout, twice at most for a
                // write that waited for the write-all before its own.
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "a call took {:?}",
                    started.elapsed()
                );
                match outcome {
                    Ok(_) if dead => panic!("a call made after the kill was answered"),
                    Ok(_) => {
                        answered.fetch_add(1, Ordering::SeqCst);
                        if round % 2 == 0 {
                            acknowledged.push(token);
                        }
                    }
                    Err(StoreError::Unavailable(_)) => {}
                    Err(other) => panic!("expected Unavailable, got {other:?}"),
                }
                after_kill += usize::from(dead);
                round += 1;
            }
            acknowledged
        });
    }
    let loading = Instant::now();
    while answered.load(Ordering::SeqCst) < 200 && loading.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sqld.stop();
    killed.store(true, Ordering::SeqCst);
    let mut acknowledged = Vec::new();
    while let Some(done) = callers.join_next().await {
        acknowledged.extend(done.expect("a caller panicked"));
    }
    sqld.restart().expect("sqld restarts");
    eprintln!("{} commits acknowledged before the kill", acknowledged.len());
    assert!(answered.load(Ordering::SeqCst) >= 200, "the load ran before the kill");
    for token in &acknowledged {
        assert!(store.find(token).await.expect("find").is_some(), "{token} was acknowledged");
    }
}
