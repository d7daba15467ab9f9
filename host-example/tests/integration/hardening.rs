//! What an attacker on the network or on the same machine tries: state changes by GET,
//! slow clients that hold connections, session files others can read, planted symlinks.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{client, request, session_cookie, text, Server, BIN};
use reqwest::StatusCode;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[tokio::test]
async fn state_changing_routes_refuse_get_with_405_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &[]);
    let jar = client();
    assert_eq!(text(&jar, &server.url("/put?message=kept")).await.0, StatusCode::OK);
    assert_eq!(text(&jar, &server.url("/login?user=alice")).await.0, StatusCode::OK);
    for (method, path, allow) in [
        ("GET", "/renew", "POST"),
        ("GET", "/destroy", "POST"),
        ("GET", "/login?user=mallory", "POST"),
        ("GET", "/logout-everywhere", "POST"),
        ("HEAD", "/destroy", "POST"),
        ("DELETE", "/destroy", "POST"),
        ("POST", "/get", "GET, HEAD"),
        ("POST", "/devices", "GET, HEAD"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let response = jar.request(method.clone(), server.url(path)).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        let allowed = response.headers().get("allow").and_then(|v| v.to_str().ok());
        assert_eq!(allowed, Some(allow), "{method} {path}");
        assert_eq!(session_cookie(&response), None, "{method} {path} sets no cookie");
    }
    assert_eq!(text(&jar, &server.url("/get")).await, (StatusCode::OK, "kept".into()));
    let devices = text(&jar, &server.url("/devices")).await;
    assert_eq!(devices.0, StatusCode::OK, "still logged in as alice: {devices:?}");
    let unknown = request(&jar, &server.url("/nowhere")).send().await.expect("request");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_fresh_data_directory_and_its_files_are_readable_by_the_server_user_only() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let server = Server::start(&data, &[]);
    assert_eq!(text(&client(), &server.url("/put")).await.0, StatusCode::OK);
    drop(server);
    assert_eq!(mode(&data), 0o700);
    let names: Vec<_> =
        std::fs::read_dir(&data).expect("list").map(|e| e.expect("entry").path()).collect();
    assert!(names.iter().any(|p| p.ends_with("sessions.db")), "{names:?}");
    for path in names {
        assert_eq!(mode(&path) & 0o077, 0, "{} is mode {:o}", path.display(), mode(&path));
    }
}

#[test]
fn an_existing_data_directory_open_to_others_is_served_with_a_warning() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let (ok, _, stderr) = common::run(&["stats", "--data-dir", common::data_dir(tmp.path())]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("accessible to other users (mode 755)"), "{stderr}");
    assert_eq!(mode(tmp.path()), 0o755, "the operator's mode is kept");
}

#[test]
fn planted_symlinks_are_never_followed_to_create_files_outside_the_data_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (data, outside) = (tmp.path().join("data"), tmp.path().join("outside"));
    std::fs::create_dir_all(&data).expect("data");
    std::fs::create_dir_all(&outside).expect("outside");
    symlink(outside.join("host-lock-target"), data.join("host.lock")).expect("symlink");
    symlink(outside.join("break-target"), data.join("sessions.db-lock-break")).expect("symlink");
    // A lock of a process that has exited, so that the next start tries to remove it.
    std::fs::write(
        data.join("sessions.db-lock"),
        "owner=dead host=flock:sessions.db-owner-gone mode=operation acquired_ms=1\n",
    )
    .expect("lock");
    let started = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run host-example");
    assert!(!started.status.success(), "a planted host.lock stops the server");
    let stderr = String::from_utf8_lossy(&started.stderr);
    assert!(stderr.contains("host.lock"), "{stderr}");
    let (_, _, stderr) = common::run(&["stats", "--data-dir", common::data_dir(&data)]);
    let created: Vec<_> = std::fs::read_dir(&outside).expect("list").collect();
    assert!(created.is_empty(), "created outside the data directory: {created:?}; {stderr}");
}

/// Raises this process's open-file limit to at least `want` (within its hard limit).
fn raise_own_file_limit(want: u64) {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct they are given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < want {
            limit.rlim_cur = want.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[test]
fn at_the_file_limit_slow_clients_cannot_keep_others_from_being_served() {
    raise_own_file_limit(4096);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--header-read-timeout", "30s", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: setrlimit is async-signal-safe; the closure touches nothing else.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: 1024, rlim_max: 1024 };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let mut child = command.spawn().expect("spawn host-example");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("line");
    let addr = line.trim().strip_prefix("listening on http://").expect("address").to_owned();
    // 1,100 clients each send half a request head and then nothing.
    let slow: Vec<TcpStream> = (0..1_100)
        .filter_map(|_| {
            let mut stream = TcpStream::connect(&addr).ok()?;
            stream.write_all(b"GET /get HTTP/1.1\r\nHost: x\r\n").ok()?;
            Some(stream)
        })
        .collect();
    assert!(slow.len() >= 1_000, "only {} slow clients connected", slow.len());
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let mut normal = TcpStream::connect(&addr).expect("connect");
    normal.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    normal.write_all(b"GET /get HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
    let mut answer = String::new();
    let _ = normal.read_to_string(&mut answer);
    let waited = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    assert!(answer.starts_with("HTTP/1.1 200"), "answer after {waited:?}: {answer:?}");
    assert!(waited < Duration::from_secs(1), "served after {waited:?}");
    drop(slow);
}

#[test]
fn a_slow_client_is_closed_once_the_header_read_timeout_passes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--header-read-timeout", "300ms"]);
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut slow = TcpStream::connect(&addr).expect("connect");
    slow.write_all(b"GET /get HTTP/1.1\r\n").expect("half a head");
    slow.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(3), "closed after {waited:?}");
}
