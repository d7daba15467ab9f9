//! [`SessionStore`]: a typed, thread-safe handle on one database, served by one
//! long-lived component instance on a dedicated thread behind a queue.
//!
//! Why one instance and a queue rather than a pool: every operation on a database file
//! is one transaction under the component's file lock, so instances of one database never
//! run in parallel anyway. A pool would only add instances that contend for that lock
//! (each with its own page cache and prepared statements, re-validated on every
//! transaction), while a single instance keeps its cache warm and never waits on a lock
//! held by a sibling. The queue also gives every caller FIFO fairness.
//!
//! Every call is bounded: the instance's linear memory is capped and each call gets an
//! epoch deadline. A guest that traps or runs past its deadline yields
//! `StoreError::Guest`; that instance is discarded and the next call instantiates a fresh
//! one from the pre-instantiated component, so a runaway guest never wedges the host.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime::{Store, StoreLimitsBuilder};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};
use wasmtime_wasi_http::WasiHttpCtx;

use crate::bindings::exports::edge::sessions::{store as wit_store, sweeper as wit_sweeper};
use crate::bindings::edge::sessions::types::Error as WitError;
use crate::bindings::SessionStore as Bindings;
use crate::error::{LoadError, StoreError};
use crate::lockrecovery;
use crate::options::{StoreOptions, GUEST_DATA_DIR};
use crate::runtime::{CountingHooks, HostState, Runtime, EPOCH_TICK};

/// Counts of active and expired-but-stored sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionCounts {
    pub active: u64,
    pub expired: u64,
}

/// What one sweep call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SweepReport {
    pub removed: u64,
    /// True when expired sessions remain because the batch limit was reached.
    pub more: bool,
}

type Job = Box<dyn FnOnce(&mut Worker) + Send>;

/// A handle on one session database. Clones share the same instance and queue.
#[derive(Clone)]
pub struct SessionStore {
    inner: Arc<Inner>,
}

struct Inner {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    http_requests: Arc<AtomicU64>,
}

impl SessionStore {
    /// Opens a store: creates the data directory if missing and starts the worker. The
    /// database itself is opened by the first call (see [`SessionStore::stats`] for a
    /// cheap check that it works).
    pub fn open(runtime: &Runtime, options: StoreOptions) -> Result<SessionStore, LoadError> {
        if let Some(dir) = &options.data_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| LoadError::DataDir { path: dir.clone(), reason: e.to_string() })?;
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let http_requests = Arc::new(AtomicU64::new(0));
        let mut worker = Worker { runtime: runtime.clone(), options, live: None, http_requests: http_requests.clone() };
        let thread = std::thread::Builder::new()
            .name("session-store".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job(&mut worker);
                }
            })
            .map_err(|e| LoadError::Engine(format!("cannot start the store thread: {e}")))?;
        Ok(SessionStore {
            inner: Arc::new(Inner {
                jobs: Mutex::new(Some(tx)),
                worker: Mutex::new(Some(thread)),
                http_requests,
            }),
        })
    }

    /// The data of an active session; `None` if unknown or expired.
    pub async fn find(&self, token: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let token = token.to_owned();
        self.submit(move |w| w.call(|s, b| b.edge_sessions_store().call_find(s, &token))).await
    }

    /// Inserts or replaces a session; `expiry` is milliseconds since the Unix epoch.
    pub async fn commit(&self, token: &str, data: Vec<u8>, expiry: u64) -> Result<(), StoreError> {
        let token = token.to_owned();
        self.submit(move |w| w.call(|s, b| b.edge_sessions_store().call_commit(s, &token, &data, expiry)))
            .await
    }

    /// Removes a session; an unknown token is not an error.
    pub async fn delete(&self, token: &str) -> Result<(), StoreError> {
        let token = token.to_owned();
        self.submit(move |w| w.call(|s, b| b.edge_sessions_store().call_delete(s, &token))).await
    }

    /// Every active session as (token, data).
    pub async fn all(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.submit(|w| w.call(|s, b| b.edge_sessions_store().call_all(s))).await
    }

    /// Active sessions in token order after `after`, at most `limit`.
    pub async fn page(&self, after: Option<&str>, limit: u32) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let after = after.map(str::to_owned);
        self.submit(move |w| w.call(|s, b| b.edge_sessions_store().call_page(s, after.as_deref(), limit)))
            .await
    }

    /// Moves an active session's expiry without rewriting its data; false if none.
    pub async fn touch(&self, token: &str, expiry: u64) -> Result<bool, StoreError> {
        let token = token.to_owned();
        self.submit(move |w| w.call(|s, b| b.edge_sessions_store().call_touch(s, &token, expiry))).await
    }

    /// Stores `data` under a fresh 43-character token and returns it.
    pub async fn create(&self, data: Vec<u8>, expiry: u64) -> Result<String, StoreError> {
        self.submit(move |w| w.call(|s, b| b.edge_sessions_store().call_create(s, &data, expiry))).await
    }

    /// Counts of active and expired-but-stored sessions.
    pub async fn stats(&self) -> Result<SessionCounts, StoreError> {
        self.submit(|w| w.call(|s, b| b.edge_sessions_store().call_stats(s)))
            .await
            .map(|c: wit_store::SessionCounts| SessionCounts { active: c.active, expired: c.expired })
    }

    /// Deletes at most the configured batch of expired sessions.
    pub async fn sweep(&self) -> Result<SweepReport, StoreError> {
        self.submit(|w| w.call(|s, b| b.edge_sessions_sweeper().call_sweep(s)))
            .await
            .map(|r: wit_sweeper::SweepReport| SweepReport { removed: r.removed, more: r.more })
    }

    /// How often the component asks to be swept; `None` = cleanup disabled.
    pub async fn cleanup_interval(&self) -> Result<Option<Duration>, StoreError> {
        self.submit(|w| w.call_plain(|s, b| b.edge_sessions_sweeper().call_cleanup_interval(s)))
            .await
            .map(|ms| ms.map(Duration::from_millis))
    }

    /// HTTP requests the component has sent so far (to a libSQL server): with
    /// [`SessionStore`] calls counted by the caller, the round trips per operation.
    pub fn http_requests(&self) -> u64 {
        self.inner.http_requests.load(Ordering::Relaxed)
    }

    /// Finishes the calls already queued, then stops the instance. Later calls (from
    /// clones) get `StoreError::Closed`. Idempotent.
    pub async fn close(&self) {
        let sender = self.inner.jobs.lock().map(|mut j| j.take()).unwrap_or(None);
        drop(sender);
        let thread = self.inner.worker.lock().map(|mut w| w.take()).unwrap_or(None);
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    async fn submit<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut Worker) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |worker| {
            let _ = tx.send(op(worker));
        });
        {
            let jobs = self.inner.jobs.lock().map_err(|_| StoreError::Closed)?;
            jobs.as_ref().ok_or(StoreError::Closed)?.send(job).map_err(|_| StoreError::Closed)?;
        }
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

/// A live instance and its typed exports.
struct Live {
    store: Store<HostState>,
    bindings: Bindings,
}

/// Owns the instance; runs on the store thread only.
struct Worker {
    runtime: Runtime,
    options: StoreOptions,
    live: Option<Live>,
    http_requests: Arc<AtomicU64>,
}

impl Worker {
    fn instantiate(&self) -> Result<Live, StoreError> {
        self.recover_abandoned_lock();
        let mut wasi = WasiCtxBuilder::new();
        wasi.env("SESSIONS_LOCK_OWNER", lockrecovery::owner_tag())
            .envs(&self.options.env)
            .wall_clock(self.options.clock.clone())
            // File I/O runs right here on the store thread instead of being handed to a
            // blocking-task pool and back: this thread exists only to run the guest.
            .allow_blocking_current_thread(true);
        if let Some(dir) = &self.options.data_dir {
            wasi.preopened_dir(dir, GUEST_DATA_DIR, FsPerms::ReadWrite).map_err(|e| {
                StoreError::Unavailable(format!("cannot preopen the data directory {}: {e:#}", dir.display()))
            })?;
        }
        let limits = StoreLimitsBuilder::new().memory_size(self.options.memory_limit).build();
        let mut store = Store::new(
            &self.runtime.engine,
            HostState {
                wasi: wasi.build(),
                http: WasiHttpCtx::new(),
                http_hooks: CountingHooks { requests: self.http_requests.clone() },
                table: ResourceTable::new(),
                limits,
            },
        );
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(self.deadline_ticks());
        let bindings = self
            .runtime
            .pre
            .instantiate(&mut store)
            .map_err(|e| StoreError::Guest(format!("instantiation failed: {e:#}")))?;
        Ok(Live { store, bindings })
    }

    fn deadline_ticks(&self) -> u64 {
        (self.options.call_timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }

    /// Removes the database's lock file if the process holding it died.
    fn recover_abandoned_lock(&self) -> bool {
        self.options.database_host_path().is_some_and(|db| lockrecovery::recover_abandoned_lock(&db))
    }

    /// Calls an export that returns `result<T, error>`. A call that found the database
    /// locked by a process that has since died is retried once, after removing its lock.
    fn call<T>(
        &mut self,
        f: impl Fn(&mut Store<HostState>, &Bindings) -> wasmtime::Result<Result<T, WitError>>,
    ) -> Result<T, StoreError> {
        match self.call_plain(&f)? {
            Err(WitError::Unavailable(_)) if self.recover_abandoned_lock() => self.call_plain(&f)?.map_err(from_wit),
            result => result.map_err(from_wit),
        }
    }

    /// Calls an export under the deadline; a trap discards the instance.
    fn call_plain<T>(
        &mut self,
        f: impl Fn(&mut Store<HostState>, &Bindings) -> wasmtime::Result<T>,
    ) -> Result<T, StoreError> {
        let mut live = match self.live.take() {
            Some(live) => live,
            None => self.instantiate()?,
        };
        live.store.set_epoch_deadline(self.deadline_ticks());
        match f(&mut live.store, &live.bindings) {
            Ok(value) => {
                self.live = Some(live);
                Ok(value)
            }
            Err(trap) => {
                tracing::warn!("session-store guest failed, discarding the instance: {trap:#}");
                Err(StoreError::Guest(format!("{trap:#}")))
            }
        }
    }
}

fn from_wit(e: WitError) -> StoreError {
    match e {
        WitError::InvalidToken(m) => StoreError::InvalidToken(m),
        WitError::TooLarge(limit) => StoreError::TooLarge(limit),
        WitError::InvalidConfig(m) => StoreError::InvalidConfig(m),
        WitError::Unavailable(m) => StoreError::Unavailable(m),
        WitError::Storage(m) => StoreError::Storage(m),
    }
}
