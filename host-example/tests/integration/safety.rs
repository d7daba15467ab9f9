//! The store's safety promise, tried the way an ordinary but hostile world treats it: a
//! writer paused far past any lease, a listing over millions of expired rows beside writers,
//! a server in its own PID namespace with cron commands beside it, a full disk in both lock
//! modes. Each ends with `PRAGMA integrity_check` ok and every acknowledged write read back.
//!
//! The PID-namespace and full-disk tests need root (`unshare`, `mount -t tmpfs`); elsewhere
//! they say so and pass without running.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{assert_intact, client, data_dir, run, seed_expired, text, Server, BIN};
use libsqlstore_host::{ComponentStore, StoreError, StoreOptions};
use reqwest::StatusCode;

use common::runtime;

fn signal(child: &Child, signal: &str) {
    let status =
        Command::new("kill").args([signal, &child.id().to_string()]).status().expect("kill");
    assert!(status.success(), "kill {signal}");
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

#[tokio::test]
async fn a_writer_paused_for_any_time_keeps_its_lock_and_nothing_is_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    seed_expired(dir.path(), 200_000).await;
    let lock = dir.path().join("sessions.db-lock");
    // One sweep call over the whole batch: a long transaction under the lock.
    let sweep = Command::new(BIN)
        .args([
            "sweep",
            "--data-dir",
            data_dir(dir.path()),
            "--sweep-batch",
            "1000000",
            "--sweep-budget",
            "0",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn sweep");
    // Pause it while it holds the lock (SIGSTOP: a VM stall, swap, a debugger).
    let started = Instant::now();
    let held = loop {
        assert!(started.elapsed() < Duration::from_secs(60), "the sweep never held the lock");
        if lock.exists() {
            signal(&sweep, "-STOP");
            if let Ok(line) = std::fs::read_to_string(&lock) {
                break line;
            }
            signal(&sweep, "-CONT");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    // However long the pause: the lock looks a day old, and another writer comes along.
    let day_ago = SystemTime::now() - Duration::from_secs(24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&lock)
        .and_then(|f| f.set_modified(day_ago))
        .expect("age");
    let writer = ComponentStore::open(
        runtime(),
        StoreOptions::in_dir(dir.path()).env("SESSIONS_BUSY_TIMEOUT", "300ms"),
    )
    .expect("store");
    match writer.commit("written-later", b"kept".to_vec(), u64::MAX).await {
        Err(StoreError::Unavailable(msg)) => {
            assert!(msg.contains("locked by another instance"), "{msg}")
        }
        other => panic!("the paused writer's lock was not respected: {other:?}"),
    }
    assert_eq!(
        std::fs::read_to_string(&lock).expect("lock"),
        held,
        "the lock is still the paused writer's"
    );
    signal(&sweep, "-CONT");
    let out = sweep.wait_with_output().expect("sweep ends");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed 200000 expired sessions"));
    writer.commit("written-later", b"kept".to_vec(), u64::MAX).await.expect("commit once released");
    writer.close().await;
    assert_intact(&dir.path().join("sessions.db")).await;
    let reader = ComponentStore::open(runtime(), StoreOptions::in_dir(dir.path())).expect("store");
    assert_eq!(reader.find("written-later").await.expect("find"), Some(b"kept".to_vec()));
    assert_eq!(reader.stats().await.expect("stats").expired, 0);
}

#[tokio::test]
async fn a_listing_over_millions_of_expired_rows_lets_writers_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    seed_expired(dir.path(), 2_000_000).await;
    let lister = ComponentStore::open(runtime(), StoreOptions::in_dir(dir.path())).expect("store");
    let writer = ComponentStore::open(
        runtime(),
        StoreOptions::in_dir(dir.path()).env("SESSIONS_BUSY_TIMEOUT", "1s"),
    )
    .expect("store");
    let listing = tokio::spawn(async move { lister.all().await });
    let mut acknowledged = Vec::new();
    let started = Instant::now();
    while !listing.is_finished() && acknowledged.len() < 200 {
        let token = format!("live{:04}", acknowledged.len());
        writer
            .commit(&token, token.as_bytes().to_vec(), u64::MAX)
            .await
            .expect("a writer gets in beside the listing");
        acknowledged.push(token);
    }
    let listed = listing.await.expect("join").expect("all");
    eprintln!(
        "{} commits beside a listing of 2M rows in {:?}",
        acknowledged.len(),
        started.elapsed()
    );
    assert!(!acknowledged.is_empty());
    let live: std::collections::HashSet<String> =
        acknowledged.iter().map(|t| common::id_of(t)).collect();
    assert!(
        listed.iter().all(|(id, _)| live.contains(id)),
        "only active sessions are listed, by id"
    );
    for token in &acknowledged {
        assert_eq!(writer.find(token).await.expect("find"), Some(token.as_bytes().to_vec()));
    }
    writer.close().await;
    assert_intact(&dir.path().join("sessions.db")).await;
}

/// `serve` in a PID namespace of its own (as in a container); killed with its namespace.
struct NamespacedServer {
    child: Child,
    base: String,
}

impl NamespacedServer {
    fn start(dir: &Path) -> Option<NamespacedServer> {
        let mut child = Command::new("unshare")
            .args([
                "--pid",
                "--fork",
                "--mount-proc",
                "--kill-child",
                BIN,
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .ok()?;
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take()?), &mut line)
            .ok()?;
        let base = line.trim().strip_prefix("listening on ")?.to_owned();
        Some(NamespacedServer { child, base })
    }
}

impl Drop for NamespacedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_server_in_its_own_pid_namespace_keeps_its_lock_against_cron_commands_beside_it() {
    if !is_root() {
        eprintln!("skipped: creating a PID namespace needs root");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(server) = NamespacedServer::start(dir.path()) else {
        eprintln!("skipped: unshare --pid is not available here");
        return;
    };
    let mut acknowledged = Vec::new();
    let put = |i: usize| {
        let base = server.base.clone();
        async move {
            let client = client();
            let (status, _) = text(&client, &format!("{base}/put?message=m{i}")).await;
            assert_eq!(status, StatusCode::OK);
            (client, format!("m{i}"))
        }
    };
    for i in 0..10 {
        acknowledged.push(put(i).await);
    }
    let lock =
        std::fs::read_to_string(dir.path().join("sessions.db-lock")).expect("the server's lock");
    for command in ["stats", "sweep"] {
        let (ok, _, stderr) = run(&[command, "--data-dir", data_dir(dir.path())]);
        assert!(ok, "{command} beside the server: {stderr}");
    }
    // A host of another process that opens the file itself checks the holder and waits.
    let other = ComponentStore::open(
        runtime(),
        StoreOptions::in_dir(dir.path()).env("SESSIONS_BUSY_TIMEOUT", "200ms"),
    )
    .expect("store");
    assert!(matches!(other.stats().await, Err(StoreError::Unavailable(_))));
    other.close().await;
    assert_eq!(
        std::fs::read_to_string(dir.path().join("sessions.db-lock")).expect("lock"),
        lock,
        "still the server's"
    );
    for i in 10..20 {
        acknowledged.push(put(i).await);
    }
    drop(server); // SIGKILL of the namespace; its server dies with it, a moment later
    let killed = Instant::now();
    while common::served(dir.path()) {
        assert!(killed.elapsed() < Duration::from_secs(30), "the namespaced server did not die");
        std::thread::sleep(Duration::from_millis(10));
    }
    let restarted = Server::start(dir.path(), &[]);
    for (client, message) in &acknowledged {
        assert_eq!(text(client, &restarted.url("/get")).await, (StatusCode::OK, message.clone()));
    }
    drop(restarted);
    assert_intact(&dir.path().join("sessions.db")).await;
}

/// A tmpfs of `size`, unmounted on drop.
struct SmallDisk {
    _dir: tempfile::TempDir,
    mount: PathBuf,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let mount = dir.path().join("disk");
        std::fs::create_dir(&mount).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&mount)
            .status();
        ok.is_ok_and(|s| s.success()).then_some(SmallDisk { _dir: dir, mount })
    }

    /// Fills the disk with a file until no byte fits.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.mount.join("filler");
        let mut file = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0u8; 4096];
        while file.write_all(&chunk).is_ok() {}
        while file.write_all(&[0]).is_ok() {}
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount).status();
    }
}

async fn put(client: &reqwest::Client, base: &str, message: &str) -> StatusCode {
    client
        .get(format!("{base}/put?message={message}"))
        .send()
        .await
        .map(|r| r.status())
        .unwrap_or(StatusCode::BAD_GATEWAY)
}

#[tokio::test]
async fn a_full_disk_fails_calls_cleanly_in_both_lock_modes_and_loses_nothing() {
    if !is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    for locking in ["shared", "exclusive"] {
        let Some(disk) = SmallDisk::mount("4m") else {
            eprintln!("skipped: cannot mount a tmpfs here");
            return;
        };
        let server = Server::start(&disk.mount, &["--locking", locking]);
        let mut acknowledged = Vec::new();
        for i in 0..5 {
            let c = client();
            assert_eq!(put(&c, &server.base, &format!("before{i}")).await, StatusCode::OK);
            acknowledged.push((c, format!("before{i}")));
        }
        let filler = disk.fill();
        for i in 0..5 {
            let c = client();
            let status = put(&c, &server.base, &format!("full{i}")).await;
            if status == StatusCode::OK {
                acknowledged.push((c, format!("full{i}")));
            } else {
                assert!(status.is_server_error(), "{locking}: {status}");
            }
        }
        if locking == "shared" {
            assert!(
                !disk.mount.join("sessions.db-lock").exists(),
                "a failed call leaves no lock behind"
            );
        }
        let staged: Vec<_> = std::fs::read_dir(&disk.mount)
            .expect("list")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("sessions.db-lock."))
            .collect();
        assert!(staged.is_empty(), "no half-written lock is left: {staged:?}");
        std::fs::remove_file(&filler).expect("free the disk");
        let started = Instant::now();
        let c = client();
        assert_eq!(
            put(&c, &server.base, "after").await,
            StatusCode::OK,
            "{locking}: works once space is freed"
        );
        assert!(started.elapsed() < Duration::from_secs(2), "{locking}: no wait for a stale lock");
        acknowledged.push((c, "after".into()));
        // A restart on a full disk either works (exclusive: removing the killed server's lock
        // frees the page the new one needs, and a read needs no more) or refuses, naming the
        // problem; once freed, all is there.
        server.kill9();
        let filler = disk.fill();
        let (ok, _, stderr) =
            run(&["stats", "--data-dir", data_dir(&disk.mount), "--locking", locking]);
        assert!(ok || stderr.contains("space"), "{locking}: {stderr}");
        assert!(locking == "exclusive" || !ok, "shared: a lock cannot be written on a full disk");
        std::fs::remove_file(&filler).expect("free the disk");
        let restarted = Server::start(&disk.mount, &["--locking", locking]);
        for (client, message) in &acknowledged {
            assert_eq!(
                text(client, &restarted.url("/get")).await,
                (StatusCode::OK, message.clone()),
                "{locking}"
            );
        }
        drop(restarted);
        assert_intact(&disk.mount.join("sessions.db")).await;
    }
}
