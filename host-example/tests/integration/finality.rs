//! Logout and renewal are final, and HTTP answers carry no internals: the real
//! `host-example` binary on a loopback port, real HTTP, the database checked natively
//! (libSQL) once the server has stopped.

use crate::common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{session_cookie, wait_exit, BIN};
use reqwest::StatusCode;
use session_core::{Failure, Record};

/// Concurrent saves of one session racing each logout or renewal.
const RACERS: usize = 80;
/// Races per test: a race that loses rarely must still be caught.
const ROUNDS: usize = 5;

/// A running `host-example serve` on `<dir>/data`, its log (stderr) in `<dir>/serve.log`;
/// killed on drop.
struct Served {
    child: Child,
    base: String,
    data: PathBuf,
    log: PathBuf,
}

impl Served {
    fn start(dir: &Path, extra: &[&str]) -> Served {
        let (data_dir, log) = (dir.join("data"), dir.join("serve.log"));
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn host-example");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the listening line");
        let Some(base) = line.trim().strip_prefix("listening on ").map(str::to_owned) else {
            let _ = child.kill();
            panic!(
                "host-example did not start: {line:?}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        Served { child, base, data: data_dir, log }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).expect("read the server log")
    }

    /// SIGTERM, then the exit status.
    fn stop(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
        wait_exit(&mut self.child, Duration::from_secs(30))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One answer: status, body, the token of a `session=` cookie set (`Some("")` = cleared).
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    body: String,
    cookie: Option<String>,
}

async fn request(client: &reqwest::Client, url: String, token: Option<&str>) -> Reply {
    let mut request = common::request(client, &url);
    if let Some(token) = token {
        request = request.header("cookie", format!("session={token}"));
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let cookie = session_cookie(&response);
    Reply { status, body: response.text().await.expect("body"), cookie }
}

/// What the race of one logout or renewal against `RACERS` saves left behind.
struct Race {
    /// The session everybody raced on.
    old: String,
    /// The logout's or renewal's own answer.
    ender: Reply,
    /// (message, answer) of every save.
    saves: Vec<(String, Reply)>,
}

impl Race {
    /// Creates a session, then sends `RACERS` `/put`s with its cookie and `ender_path` in
    /// the middle of them, all at once.
    async fn run(
        server: &Served,
        client: &reqwest::Client,
        round: usize,
        ender_path: &str,
    ) -> Race {
        let first =
            request(client, server.url(&format!("/put?message=r{round}-initial")), None).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.body);
        let old = first.cookie.expect("a session cookie");
        let mut saves = Vec::new();
        let mut ender = None;
        for i in 0..RACERS {
            if i == RACERS / 2 {
                let (client, url, old) = (client.clone(), server.url(ender_path), old.clone());
                ender = Some(tokio::spawn(async move { request(&client, url, Some(&old)).await }));
            }
            let message = format!("r{round}-{i}");
            let (client, url, old) =
                (client.clone(), server.url(&format!("/put?message={message}")), old.clone());
            saves.push(tokio::spawn(
                async move { (message, request(&client, url, Some(&old)).await) },
            ));
        }
        let ender = ender.expect("the ender was sent").await.expect("ender task");
        let mut done = Vec::new();
        for save in saves {
            done.push(save.await.expect("save task"));
        }
        Race { old, ender, saves: done }
    }

    /// Checks every save's answer; returns the sessions that saves created afresh (their
    /// requests loaded after the session had ended) as (token, message), and counts of
    /// (saved into the old session before it ended, refused with 409).
    fn check_saves(&self) -> (Vec<(String, String)>, usize, usize) {
        let ended = Failure::SessionEnded.answer().body;
        let (mut fresh, mut before, mut refused) = (Vec::new(), 0, 0);
        for (message, reply) in &self.saves {
            match reply.status {
                StatusCode::OK => match reply.cookie.as_deref() {
                    Some(token) if token == self.old => before += 1,
                    Some(token) if token.len() == 43 => {
                        fresh.push((token.to_owned(), message.clone()))
                    }
                    other => panic!("a save answered 200 with cookie {other:?}"),
                },
                StatusCode::CONFLICT => {
                    assert_eq!(reply.body, ended);
                    assert_eq!(reply.cookie.as_deref(), Some(""), "a 409 clears the cookie");
                    refused += 1;
                }
                other => panic!("a save answered {other}: {}", reply.body),
            }
        }
        (fresh, before, refused)
    }
}

/// After the race: the old token finds nothing, each fresh session holds its message.
async fn check_live(
    server: &Served,
    client: &reqwest::Client,
    old: &str,
    fresh: &[(String, String)],
) {
    let after = request(client, server.url("/get"), Some(old)).await;
    assert_eq!(
        (after.status, after.body.as_str()),
        (StatusCode::OK, ""),
        "the old token still works"
    );
    for (token, message) in fresh {
        let got = request(client, server.url("/get"), Some(token)).await;
        assert_eq!((got.status, got.body.as_str()), (StatusCode::OK, message.as_str()), "{token}");
    }
}

/// The database file as the server left it, opened natively.
struct Stored {
    conn: libsql::Connection,
}

impl Stored {
    async fn open(data_dir: &Path) -> Stored {
        let db = libsql::Builder::new_local(data_dir.join("sessions.db"))
            .build()
            .await
            .expect("open the database");
        Stored { conn: db.connect().expect("connect") }
    }

    async fn integrity_check(&self) -> String {
        let mut rows =
            self.conn.query("PRAGMA integrity_check", ()).await.expect("integrity_check");
        rows.next().await.expect("row").expect("a result").get::<String>(0).expect("text")
    }

    /// The message of the active session `token`, if there is one.
    async fn message(&self, token: &str) -> Option<String> {
        let now = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_millis(),
        )
        .expect("ms");
        let mut rows = self
            .conn
            .query(
                "SELECT data FROM sessions WHERE id = ?1 AND expiry > ?2",
                libsql::params![common::id_of(token), now],
            )
            .await
            .expect("select");
        let row = rows.next().await.expect("row")?;
        let record =
            Record::decode(&row.get::<Vec<u8>>(0).expect("blob")).expect("a session record");
        Some(record.values.get("message").and_then(|m| m.as_str()).unwrap_or_default().to_owned())
    }
}

/// Stops the server, then checks the file natively: intact, none of the `dead` tokens
/// active, and every (token, message) of `live` stored.
async fn stop_and_check_stored(server: Served, dead: &[String], live: &[(String, String)]) {
    let data = server.data.clone();
    assert!(server.stop().success());
    let stored = Stored::open(&data).await;
    assert_eq!(stored.integrity_check().await, "ok");
    for old in dead {
        assert_eq!(stored.message(old).await, None, "an ended session {old} is stored as active");
    }
    for (token, message) in live {
        assert_eq!(
            stored.message(token).await.as_deref(),
            Some(message.as_str()),
            "acknowledged session {token} lost"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_logout_racing_80_saves_of_the_same_session_is_final() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Served::start(dir.path(), &[]);
    let client = reqwest::Client::new();
    let started = Instant::now();
    let (mut dead, mut acknowledged, mut before, mut refused) = (Vec::new(), Vec::new(), 0, 0);
    for round in 0..ROUNDS {
        let race = Race::run(&server, &client, round, "/destroy").await;
        assert_eq!(race.ender.status, StatusCode::OK, "{}", race.ender.body);
        assert_eq!(race.ender.cookie.as_deref(), Some(""), "the logout clears the cookie");
        let (fresh, b, r) = race.check_saves();
        check_live(&server, &client, &race.old, &fresh).await;
        (before, refused) = (before + b, refused + r);
        dead.push(race.old);
        acknowledged.extend(fresh);
    }
    eprintln!(
        "{ROUNDS} logouts x {RACERS} saves in {:?}: {before} saved before the logout, {refused} refused (409), {} started afresh",
        started.elapsed(),
        acknowledged.len()
    );
    stop_and_check_stored(server, &dead, &acknowledged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_renewal_racing_80_saves_of_the_same_session_leaves_the_old_token_dead_and_the_new_one_working(
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Served::start(dir.path(), &[]);
    let client = reqwest::Client::new();
    let (mut dead, mut acknowledged, mut renewed) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let race = Race::run(&server, &client, round, "/renew").await;
        assert_eq!(race.ender.status, StatusCode::OK, "{}", race.ender.body);
        let new = race.ender.cookie.clone().expect("the renewal sets a cookie");
        assert!(new.len() == 43 && new != race.old, "renewed to {new:?}");
        let (fresh, _, _) = race.check_saves();
        check_live(&server, &client, &race.old, &fresh).await;
        // The new session carries the data the renewal read: the first message or one a
        // save acknowledged before the old token ended.
        let carried = request(&client, server.url("/get"), Some(&new)).await;
        let possible: HashSet<String> = std::iter::once(format!("r{round}-initial"))
            .chain(
                race.saves
                    .iter()
                    .filter(|(_, r)| r.cookie.as_deref() == Some(race.old.as_str()))
                    .map(|(m, _)| m.clone()),
            )
            .collect();
        assert_eq!(carried.status, StatusCode::OK);
        assert!(possible.contains(&carried.body), "the renewed session holds {:?}", carried.body);
        dead.push(race.old);
        renewed.push((new, carried.body));
        acknowledged.extend(fresh);
    }
    renewed.extend(acknowledged);
    stop_and_check_stored(server, &dead, &renewed).await;
}

#[tokio::test]
async fn a_503_answer_names_no_path_pid_or_lock_holder_and_the_detail_goes_to_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Served::start(dir.path(), &["--locking", "shared", "--busy-timeout", "200ms"]);
    let client = reqwest::Client::new();
    let token =
        request(&client, server.url("/put?message=kept"), None).await.cookie.expect("cookie");
    // Another live process's lock, as the component writes it: this test process holds it.
    let lock = server.data.join("sessions.db-lock");
    let owner = libsqlstore_host::lockrecovery::OwnerFile::create(&server.data.join("sessions.db"))
        .expect("owner file");
    let now_ms = libsqlstore_host::HostClock::default().now_ms();
    let line = libsqlstore::lockfile::LockLine {
        owner: "another-instance".into(),
        host: Some(owner.tag().into()),
        mode: libsqlstore::lockfile::Mode::Operation,
        acquired_ms: now_ms,
    };
    std::fs::write(&lock, line.render()).expect("write the lock");
    let data_path = server.data.to_str().expect("utf-8").to_owned();
    let pid = std::process::id().to_string();
    for path in ["/get", "/put?message=blocked", "/renew", "/destroy"] {
        let response = common::request(&client, &server.url(path))
            .header("cookie", format!("session={token}"))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
        let body = response.text().await.expect("body");
        assert_eq!(body, Failure::Unavailable.answer().body, "{path}");
        for internal in [
            data_path.as_str(),
            "/data",
            "sessions.db",
            pid.as_str(),
            "another-instance",
            "host=",
            "owner",
            "lock",
        ] {
            assert!(!body.contains(internal), "{path}: the body {body:?} holds {internal:?}");
        }
    }
    assert!(
        server.log().contains("another-instance"),
        "the detail reaches the server log: {}",
        server.log()
    );
    std::fs::remove_file(&lock).expect("remove the lock");
    let after = request(&client, server.url("/get"), Some(&token)).await;
    assert_eq!(
        (after.status, after.body.as_str()),
        (StatusCode::OK, "kept"),
        "served again once the lock is gone"
    );
    let data = server.data.clone();
    assert!(server.stop().success());
    let stored = Stored::open(&data).await;
    assert_eq!(stored.integrity_check().await, "ok");
    assert_eq!(stored.message(&token).await.as_deref(), Some("kept"));
}

/// A database URL with a password in it, for a server that is not there.
const SECRET_URL: &str = "http://user:s3cret@127.0.0.1:1";

/// Every route, with and without a cookie: (path, status, everything the client got).
async fn answers(base: &str) -> Vec<(String, StatusCode, String)> {
    let client = reqwest::Client::new();
    let mut seen = Vec::new();
    for path in ["/put?message=x", "/get", "/renew", "/destroy"] {
        for cookie in [None, Some("session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")] {
            let mut request = common::request(&client, &format!("{base}{path}"));
            if let Some(cookie) = cookie {
                request = request.header("cookie", cookie);
            }
            let response = request.send().await.expect("request");
            let status = response.status();
            let headers = format!("{:?}", response.headers());
            seen.push((
                path.to_owned(),
                status,
                format!("{headers}\n{}", response.text().await.expect("body")),
            ));
        }
    }
    seen
}

#[tokio::test]
async fn a_password_in_the_database_url_never_reaches_an_http_client() {
    // The binary checks its database before it listens: it refuses to start.
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8");
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", data, "--database", SECRET_URL])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("stdout");
    if let Some(base) = line.trim().strip_prefix("listening on ") {
        for (path, status, seen) in answers(base).await {
            assert!(!seen.contains("s3cret"), "{path} ({status}) shows the password: {seen}");
        }
        let _ = child.kill();
    }
    let _ = wait_exit(&mut child, Duration::from_secs(30));

    // The library's routes serve whatever store they are given: every answer is generic.
    let runtime = common::runtime();
    let store = libsqlstore_host::ComponentStore::open(
        runtime,
        libsqlstore_host::StoreOptions::in_dir(dir.path()).env("SESSIONS_DATABASE", SECRET_URL),
    )
    .expect("open");
    let manager = libsqlstore_host::SessionManager::new(
        store,
        libsqlstore_host::SessionConfig::default(),
        libsqlstore_host::HostClock::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(libsqlstore_host::server::serve(
        listener,
        libsqlstore_host::server::router(manager),
        libsqlstore_host::connections::Limits::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let seen = answers(&base).await;
    assert!(
        seen.iter().any(|(_, status, _)| *status == StatusCode::INTERNAL_SERVER_ERROR),
        "{seen:?}"
    );
    for (path, status, seen) in seen {
        assert!(
            matches!(status, StatusCode::OK | StatusCode::INTERNAL_SERVER_ERROR),
            "{path} ({status}): {seen}"
        );
        for secret in ["s3cret", "user:", "127.0.0.1:1", "SESSIONS_DATABASE"] {
            assert!(!seen.contains(secret), "{path} ({status}) shows {secret:?}: {seen}");
        }
    }
    let _ = stop.send(());
    served.await.expect("server task").expect("served");
}
