//! Shared helpers for the demo binary's tests: the real binary, a real HTTP client; and the
//! library tests' helpers (the built component, a real `sqld`, the database read natively).
#![allow(dead_code)] // each test module uses its own subset

#[path = "../../../../host/tests/integration/common/mod.rs"]
mod library;

pub use library::*;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

pub const BIN: &str = env!("CARGO_BIN_EXE_host-example");

/// True while a running `serve` holds `data_dir`: it keeps an OS lock on `host.lock` there.
pub fn served(data_dir: &Path) -> bool {
    std::fs::File::open(data_dir.join("host.lock"))
        .is_ok_and(|file| matches!(file.try_lock_shared(), Err(std::fs::TryLockError::WouldBlock)))
}

/// A running `host-example serve`; killed on drop.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn host-example");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read the listening line");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Server { child, base }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// SIGTERM, then the exit status (bounded wait).
    pub fn stop(mut self) -> ExitStatus {
        self.signal("-TERM");
        wait_exit(&mut self.child, Duration::from_secs(30))
    }

    pub fn kill9(mut self) {
        self.signal("-KILL");
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(started.elapsed() < limit, "the server did not exit within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).build().expect("client")
}

/// A request to `url` with the method its route takes, as a client following the contract
/// sends it: GET where the route answers GET, else POST (`session_core::Route`).
pub fn request(client: &reqwest::Client, url: &str) -> reqwest::RequestBuilder {
    let path = reqwest::Url::parse(url).map(|u| u.path().to_owned()).unwrap_or_default();
    match session_core::Route::of(&path) {
        Some(route) if !route.allows("GET") => client.post(url),
        _ => client.get(url),
    }
}

pub async fn text(client: &reqwest::Client, url: &str) -> (StatusCode, String) {
    let response = request(client, url).send().await.expect("request");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

/// Runs the binary to completion; (success, stdout, stderr).
pub fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run host-example");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response.headers().get_all("set-cookie").iter().find_map(|v| {
        let v = v.to_str().ok()?;
        v.strip_prefix("session=")?.split(';').next().map(str::to_owned)
    })
}

pub fn data_dir(dir: &Path) -> &str {
    dir.to_str().expect("utf-8 path")
}

/// `count` sessions that expired in 1970, written natively in one transaction (the table is
/// the component's: created by a first `stats`).
pub async fn seed_expired(dir: &Path, count: usize) {
    let (ok, _, stderr) = run(&["stats", "--data-dir", data_dir(dir)]);
    assert!(ok, "{stderr}");
    let conn = native(&dir.join("sessions.db")).await;
    conn.execute("BEGIN", ()).await.expect("begin");
    let insert = conn
        .prepare("INSERT INTO sessions (id, data, expiry) VALUES (?1, x'00', 1)")
        .await
        .expect("prepare");
    for i in 0..count {
        insert.execute([format!("expired{i:08}")]).await.expect("insert");
        insert.reset();
    }
    conn.execute("COMMIT", ()).await.expect("commit");
}
