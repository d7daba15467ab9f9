//! HTTP/1 connections that slow or idle clients cannot pile up: [`serve`] under [`Limits`].
//!
//! | bound | what it stops |
//! |---|---|
//! | [`Limits::header_read`] | a client that sends a request head slowly, or holds a kept-alive connection idle: closed once the bound passes without a whole head |
//! | [`Limits::max_connections`] | more open connections than the process can hold files: the one that has waited longest without a request in progress is closed to make room |
//!
//! A request in progress is never cut by either bound; shutdown lets such requests finish.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tower_service::Service;

/// Default [`Limits::header_read`].
pub const DEFAULT_HEADER_READ: Duration = Duration::from_secs(10);

/// Files the server keeps for other uses than client connections (the database, its journal
/// and lock files, the compiled-component cache, logs) when it derives its connection cap
/// from the open-file limit.
const RESERVED_FILES: u64 = 128;

/// Pause after an accept error other than running out of files (e.g. a connection reset
/// before it was accepted), so that a persistent error does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(5);

/// Bounds on one server's client connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a client has to send a whole request head, counted from its connection or
    /// from the end of its previous response (so it also bounds an idle kept-alive connection).
    pub header_read: Duration,
    /// Most connections open at once; a new one beyond it closes the connection that has
    /// waited longest without a request in progress.
    pub max_connections: usize,
}

impl Default for Limits {
    /// [`DEFAULT_HEADER_READ`], and as many connections as the process's open-file limit
    /// leaves after [`RESERVED_FILES`] (at least 16, at most 16,384).
    fn default() -> Limits {
        Limits { header_read: DEFAULT_HEADER_READ, max_connections: connections_for_file_limit() }
    }
}

/// The open-file soft limit less [`RESERVED_FILES`], within 16..=16,384.
fn connections_for_file_limit() -> usize {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit only writes the struct it is given.
    let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur
    } else {
        1024
    };
    usize::try_from(soft.saturating_sub(RESERVED_FILES).clamp(16, 16_384)).unwrap_or(16)
}

/// One open connection, as the accept loop sees it.
#[derive(Default)]
struct Connection {
    /// A request is being answered.
    busy: AtomicBool,
    /// Told to close (to make room for a newer connection).
    shed: Notify,
}

/// The open connections, oldest first.
#[derive(Default)]
struct Table(Mutex<BTreeMap<u64, Arc<Connection>>>);

impl Table {
    fn open(&self, id: u64) -> Arc<Connection> {
        let connection = Arc::new(Connection::default());
        if let Ok(mut open) = self.0.lock() {
            open.insert(id, connection.clone());
        }
        connection
    }

    fn close(&self, id: u64) {
        if let Ok(mut open) = self.0.lock() {
            open.remove(&id);
        }
    }

    /// While more than `max` are open, closes the oldest with no request in progress; true
    /// if any was closed.
    fn shed_beyond(&self, max: usize) -> bool {
        let Ok(mut open) = self.0.lock() else { return false };
        let mut shed = false;
        while open.len() > max {
            let Some(id) =
                open.iter().find(|(_, c)| !c.busy.load(Ordering::Acquire)).map(|(id, _)| *id)
            else {
                break;
            };
            if let Some(connection) = open.remove(&id) {
                connection.shed.notify_one();
                shed = true;
            }
        }
        shed
    }
}

/// Serves `router` on `listener` under `limits` until `shutdown` resolves; then stops
/// accepting, closes idle connections and lets requests in progress finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let table = Arc::new(Table::default());
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut next_id = 0u64;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        while tasks.try_join_next().is_some() {}
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) if is_out_of_files(&e) => {
                // Room comes from closing the longest-waiting idle connection, else from
                // a request finishing.
                if !table.shed_beyond(table_len(&table).saturating_sub(1)) {
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
                continue;
            }
            Err(_) => {
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        next_id += 1;
        let id = next_id;
        let connection = table.open(id);
        table.shed_beyond(limits.max_connections);
        tasks.spawn(run(stream, router.clone(), limits, connection, stopped.clone(), {
            let table = table.clone();
            move || table.close(id)
        }));
    }
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

fn table_len(table: &Table) -> usize {
    table.0.lock().map(|open| open.len()).unwrap_or(0)
}

/// EMFILE or ENFILE: the process or the system has no file descriptor left.
fn is_out_of_files(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// Serves one connection until it ends, is shed, or the server stops (then gracefully).
async fn run(
    stream: tokio::net::TcpStream,
    router: Router,
    limits: Limits,
    connection: Arc<Connection>,
    mut stopped: watch::Receiver<bool>,
    closed: impl FnOnce(),
) {
    let service = {
        let connection = connection.clone();
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let mut router = router.clone();
            let connection = connection.clone();
            async move {
                connection.busy.store(true, Ordering::Release);
                let response = router.call(request).await;
                connection.busy.store(false, Ordering::Release);
                response
            }
        })
    };
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(served);
    let stopping = tokio::select! {
        _ = served.as_mut() => false,
        () = connection.shed.notified() => false,
        stop = stopped.wait_for(|stop| *stop) => stop.is_ok(),
    };
    if stopping {
        served.as_mut().graceful_shutdown();
        let _ = served.await;
    }
    closed();
}
