//! The serving host's control socket: how `host-example sweep` and `stats` reach a
//! database that a running `serve` keeps to itself.
//!
//! `serve` keeps its database file exclusively (one instance, WAL, no lock file per call),
//! so no other process may open it while it runs. Instead, `serve` listens on the Unix
//! socket `<data-dir>/control.sock` (mode 0600: only its user) and runs the few commands a
//! cron job needs through its own store, between requests. The commands and answers are
//! one line each:
//!
//! | request | answer |
//! |---|---|
//! | `sweep` | `ok removed=<n> batches=<n> ms=<n>` (swept until nothing expired remains) |
//! | `stats` | `ok active=<n> expired=<n>` |
//! | anything else, or a failure | `err <message>` |
//!
//! A client that sends no request line within [`REQUEST_TIMEOUT`] is closed.
//!
//! A client ([`ask`]) is used only when a server holds the data directory (see
//! [`crate::hostlock::HostLock::is_held`]); the socket is removed when the server stops,
//! and a stale one (a server killed by SIGKILL) is replaced by the next server.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use libsqlstore_host::scheduler::sweep_until_done;
use libsqlstore_host::ComponentStore;

/// The socket's file name in the data directory.
pub const SOCKET_NAME: &str = "control.sock";

/// Longest request line read.
const MAX_REQUEST: u64 = 64;

/// How long a client has to send its request line; a silent one is closed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// What [`ask`] got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Sweep { removed: u64, batches: u64, ms: u64 },
    Stats { active: u64, expired: u64 },
}

/// A listening control socket; dropping it stops accepting and removes the socket file.
pub struct ControlSocket {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl ControlSocket {
    /// Listens on `<data_dir>/control.sock`, answering through `store`. The caller must
    /// hold the data directory's host lock (a stale socket file is replaced).
    pub fn spawn(data_dir: &Path, store: ComponentStore) -> io::Result<ControlSocket> {
        let path = data_dir.join(SOCKET_NAME);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let listener = UnixListener::bind(&path)?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        let task = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let store = store.clone();
                        tokio::spawn(async move {
                            if let Err(e) = answer(stream, &store).await {
                                tracing::warn!("control socket: {e}");
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!("control socket stopped accepting: {e}");
                        return;
                    }
                }
            }
        });
        Ok(ControlSocket { path, task })
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn answer(stream: UnixStream, store: &ComponentStore) -> io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut request = String::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST));
    tokio::time::timeout(REQUEST_TIMEOUT, reader.read_line(&mut request)).await.map_err(
        |_| io::Error::new(io::ErrorKind::TimedOut, "no request line within the timeout"),
    )??;
    let reply = match request.trim() {
        "sweep" => match sweep_until_done(store).await {
            Ok(run) => format!(
                "ok removed={} batches={} ms={}",
                run.removed,
                run.batches,
                run.elapsed.as_millis()
            ),
            Err(e) => format!("err {e}"),
        },
        "stats" => match store.stats().await {
            Ok(c) => format!("ok active={} expired={}", c.active, c.expired),
            Err(e) => format!("err {e}"),
        },
        other => format!("err unknown command {other:?} (sweep, stats)"),
    };
    write.write_all(format!("{}\n", reply.replace('\n', " ")).as_bytes()).await?;
    write.shutdown().await
}

/// Sends `command` (`sweep` or `stats`) to the server of `data_dir` and parses its answer.
/// Errors: the socket cannot be reached, the server answered `err …`, or an answer that
/// is not one of the lines above.
pub async fn ask(data_dir: &Path, command: &str) -> Result<Answer, String> {
    let path = data_dir.join(SOCKET_NAME);
    let stream = UnixStream::connect(&path).await.map_err(|e| {
        format!(
            "a server holds {} but its control socket {} does not answer: {e}",
            data_dir.display(),
            path.display()
        )
    })?;
    let (read, mut write) = stream.into_split();
    write.write_all(format!("{command}\n").as_bytes()).await.map_err(|e| e.to_string())?;
    write.shutdown().await.map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(read).read_line(&mut line).await.map_err(|e| e.to_string())?;
    parse_answer(line.trim_end())
}

fn parse_answer(line: &str) -> Result<Answer, String> {
    if let Some(message) = line.strip_prefix("err ") {
        return Err(format!("the server answered: {message}"));
    }
    let fields = line.strip_prefix("ok ").ok_or_else(|| format!("unexpected answer {line:?}"))?;
    let value = |name: &str| {
        fields
            .split(' ')
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('=')?.parse::<u64>().ok())
            .ok_or_else(|| format!("unexpected answer {line:?}"))
    };
    if fields.starts_with("removed=") {
        Ok(Answer::Sweep {
            removed: value("removed")?,
            batches: value("batches")?,
            ms: value("ms")?,
        })
    } else {
        Ok(Answer::Stats { active: value("active")?, expired: value("expired")? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_and_errors_carry_the_servers_message() {
        assert_eq!(
            parse_answer("ok removed=5 batches=2 ms=7"),
            Ok(Answer::Sweep { removed: 5, batches: 2, ms: 7 })
        );
        assert_eq!(
            parse_answer("ok active=3 expired=0"),
            Ok(Answer::Stats { active: 3, expired: 0 })
        );
        assert_eq!(
            parse_answer("err database unavailable"),
            Err("the server answered: database unavailable".into())
        );
        assert!(parse_answer("ok active=x").is_err());
        assert!(parse_answer("").is_err());
    }
}
