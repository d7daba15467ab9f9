//! [`ComponentStore`]: a typed, thread-safe handle on one database, served by long-lived
//! component instances ([`crate::pool`]): one for a database file or `:memory:`, several for
//! a libSQL server, each running one call at a time; callers wait for one in FIFO order.
//!
//! Why one instance for a file rather than a pool: every operation on a database file is
//! one transaction under the component's file lock, so instances of one database never run
//! in parallel anyway. A pool would only add instances that contend for that lock (each
//! with its own page cache and prepared statements), while a single instance keeps its
//! cache warm and never waits on a lock held by a sibling. A call to a libSQL server is
//! mostly a wait for its round trip: reads on several instances overlap those waits, while
//! calls that write still go one at a time (see [`crate::pool`]).
//!
//! Why the guest runs on the caller's thread (an async wasmtime call, with WASI file I/O
//! done in place) rather than on a thread of its own behind a queue: the hand-off to
//! another thread and back costs two wake-ups, many times what a cached `find` costs in
//! the guest (bench/README.md, "Why the settings are what they are"). The price is that a
//! call occupies an executor thread while it runs, including a commit's fsync; sweeps are
//! cut into short chunks for the same reason.
//!
//! Writes (`commit`, `update`, `touch`, `delete`) are group-committed: those that arrive
//! while a `write-all` call is under way wait in a queue and go together as the next one,
//! one transaction and one fsync for all of them (see [`crate::group_commit`]); one
//! `write-all` at a time, on whichever instance is free. Each write is acknowledged only
//! once that transaction is durable (committed on the server), so any later call, on any
//! instance, sees it.
//!
//! Every call is bounded: the instance's linear memory is capped and each call gets an
//! epoch deadline. A guest that traps or runs past its deadline yields
//! `StoreError::Guest`; that instance is discarded and the next call instantiates a fresh
//! one from the pre-instantiated component, so a runaway guest never wedges the host.

use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime::{Store, StoreLimitsBuilder};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};
use wasmtime_wasi_http::WasiHttpCtx;

use crate::bindings::edge::sessions0_2_2::types::Error as WitError;
use crate::bindings::edge::sessions0_3_0::types::{Deadlines as WitDeadlines, Error as WitError03};
use crate::bindings::exports::edge::sessions0_2_2::store::{SessionWrite, Write as Write02};
use crate::bindings::exports::edge::sessions0_2_2::{store as wit_store, sweeper as wit_sweeper};
use crate::bindings::exports::edge::sessions0_3_0::store::{
    self as wit_store03, UpdateWrite, Write as Write03,
};
use crate::bindings::SessionStore as Bindings;
use crate::datadir;
use crate::error::{LoadError, StoreError};
use crate::group_commit::{Flusher, Outcome, Write, WriteQueue, Writes};
use crate::lockrecovery::{self, OwnerFile};
use crate::options::{StoreOptions, GUEST_DATA_DIR};
use crate::pool::{Instances, Lease};
use crate::runtime::{HostState, Runtime, EPOCH_TICK};

/// The component's own answer types, as its crate defines them.
pub use libsqlstore::backend::{Device, SessionCounts, SessionInfo, SweepReport};
/// The 0.3 session (data, version, deadlines, device data) and deadlines, as the
/// component's crate defines them.
pub use libsqlstore::store::{Deadlines, Session as StoredSession};

/// The closure that calls one export on a live instance, for [`ComponentStore::call`]:
/// `export!(edge_sessions0_2_2_store().call_find(token))` calls `find` with the instance's store
/// and hands the instance back with the answer (see [`Worker::run`]).
macro_rules! export {
    ($interface:ident().$export:ident($($arg:expr),* $(,)?)) => {
        |mut live: Live| async move {
            let answer = live.bindings.$interface().$export(&mut live.store, $($arg),*).await;
            (live, answer)
        }
    };
}

/// A handle on one session database. Clones share the same instances.
#[derive(Clone)]
pub struct ComponentStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The instances ([`StoreOptions::instances`] of them); closed by `close`.
    workers: Instances<Worker>,
    /// Writes waiting for the next group commit.
    writes: WriteQueue,
    http_requests: Arc<AtomicU64>,
}

impl ComponentStore {
    /// Opens a store: creates the data directory if missing, readable by this user only
    /// ([`datadir::prepare`]). The database itself is
    /// opened by the first call (see [`ComponentStore::stats`] for a cheap check that it
    /// works).
    pub fn open(runtime: &Runtime, options: StoreOptions) -> Result<ComponentStore, LoadError> {
        if let Some(dir) = &options.data_dir {
            datadir::prepare(dir)
                .map_err(|e| LoadError::DataDir { path: dir.clone(), reason: e.to_string() })?;
        }
        // Only a file has an owner file, and a file has one instance.
        let mut owner = match options.database_host_path() {
            Some(db) => Some(OwnerFile::create(&db).map_err(|e| LoadError::DataDir {
                path: db.parent().map(Path::to_path_buf).unwrap_or_default(),
                reason: format!(
                    "cannot create the store's owner file beside {}: {e}",
                    db.display()
                ),
            })?),
            None => None,
        };
        let http_requests = Arc::new(AtomicU64::new(0));
        let workers = (0..options.instances())
            .map(|_| Worker {
                runtime: runtime.clone(),
                options: options.clone(),
                live: None,
                instantiated: false,
                owner: owner.take(),
                http_requests: http_requests.clone(),
            })
            .collect();
        Ok(ComponentStore {
            inner: Arc::new(Inner {
                workers: Instances::new(workers),
                writes: WriteQueue::default(),
                http_requests,
            }),
        })
    }

    /// The data of an active session; `None` if unknown or expired.
    pub async fn find(&self, token: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.call(export!(edge_sessions0_2_2_store().call_find(token))).await
    }

    /// Inserts or replaces a session; `expiry` is milliseconds since the Unix epoch.
    /// Group-committed with the writes of other callers (see [`crate::group_commit`]):
    /// acknowledged once the transaction that carries it is durable.
    pub async fn commit(&self, token: &str, data: Vec<u8>, expiry: u64) -> Result<(), StoreError> {
        self.write02(Write02::Commit(SessionWrite { token: token.to_owned(), data, expiry }))
            .await
            .map(drop)
    }

    /// Replaces the data and expiry of an active session; false (nothing stored) if none
    /// is active. Never creates one, so a save racing a delete cannot undo it.
    /// Group-committed, as [`ComponentStore::commit`].
    pub async fn update(
        &self,
        token: &str,
        data: Vec<u8>,
        expiry: u64,
    ) -> Result<bool, StoreError> {
        self.write02(Write02::Update(SessionWrite { token: token.to_owned(), data, expiry })).await
    }

    /// Removes a session; an unknown token is not an error. Group-committed, as
    /// [`ComponentStore::commit`].
    pub async fn delete(&self, token: &str) -> Result<(), StoreError> {
        self.write02(Write02::Delete(token.to_owned())).await.map(drop)
    }

    /// Every active session as (id, data), in id order. Ids (base64url of the SHA-256 of
    /// the token, 43 characters), not tokens: the store keeps no token.
    pub async fn all(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.call(export!(edge_sessions0_2_2_store().call_all())).await
    }

    /// Active sessions as (id, data) in id order after the id `after`, at most `limit`.
    pub async fn page(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.call(export!(edge_sessions0_2_2_store().call_page(after, limit))).await
    }

    /// Moves an active session's expiry without rewriting its data; false if none.
    /// Group-committed, as [`ComponentStore::commit`].
    pub async fn touch(&self, token: &str, expiry: u64) -> Result<bool, StoreError> {
        self.write02(Write02::Touch((token.to_owned(), expiry))).await
    }

    /// Stores `data` under a fresh 43-character token and returns it.
    pub async fn create(&self, data: Vec<u8>, expiry: u64) -> Result<String, StoreError> {
        let data = &data;
        self.call_write(export!(edge_sessions0_2_2_store().call_create(data, expiry))).await
    }

    /// Stores `data` under the caller's `token` (for frameworks that draw their own ids),
    /// without an owner; false, and nothing changed, if the token names a stored session,
    /// active or expired but not yet swept: the caller draws another id.
    pub async fn insert(
        &self,
        token: &str,
        data: Vec<u8>,
        expiry: u64,
    ) -> Result<bool, StoreError> {
        let data = &data;
        self.call_write(export!(edge_sessions0_2_2_store().call_insert(token, data, expiry))).await
    }

    /// Sets (with `Some`) or clears (`None`) the owner of an active session, e.g. the user
    /// at login; false, and nothing changed, if `token` names no active session (unknown or
    /// expired). An owner that is empty, over 256 bytes or holds control characters is
    /// `StoreError::InvalidInput`.
    pub async fn set_owner(&self, token: &str, owner: Option<&str>) -> Result<bool, StoreError> {
        self.call_write(export!(edge_sessions0_2_2_store().call_set_owner(token, owner))).await
    }

    /// The active sessions of `owner` ("your devices"), soonest expiry first; read through
    /// the owner index, never a table scan. A malformed owner is `StoreError::InvalidInput`.
    pub async fn sessions_of(&self, owner: &str) -> Result<Vec<SessionInfo>, StoreError> {
        let listed: Vec<wit_store::SessionInfo> =
            self.call(export!(edge_sessions0_2_2_store().call_sessions_of(owner))).await?;
        Ok(listed
            .into_iter()
            .map(|s| SessionInfo { id: s.id, owner: s.owner, expiry: s.expiry })
            .collect())
    }

    /// Deletes every session of `owner` ("log out everywhere") except the one whose token
    /// is `keep` (this device), if that one is the owner's; returns how many active sessions
    /// were deleted. Sessions of other owners are never touched, whatever `keep` names.
    pub async fn revoke_owner(&self, owner: &str, keep: Option<&str>) -> Result<u64, StoreError> {
        self.call_write(export!(edge_sessions0_2_2_store().call_revoke_owner(owner, keep))).await
    }

    /// Deletes the session with this id (as [`ComponentStore::all`], [`ComponentStore::page`]
    /// and [`ComponentStore::sessions_of`] list it); true if it was active. A malformed id is
    /// `StoreError::InvalidInput`.
    pub async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        self.call_write(export!(edge_sessions0_2_2_store().call_revoke(id))).await
    }

    /// In one transaction: a fresh token (drawn as by [`ComponentStore::create`]) takes over
    /// the data and owner of the active session `token`, with the new `expiry`, and `token`
    /// stops existing. `None`, and nothing created or deleted, if `token` names no active
    /// session. Use it when privileges change (login), against session fixation.
    pub async fn rotate(&self, token: &str, expiry: u64) -> Result<Option<String>, StoreError> {
        self.call_write(export!(edge_sessions0_2_2_store().call_rotate(token, expiry))).await
    }

    /// The active session under `token` with its version, deadlines and device data (the
    /// 0.3 `find`); `None` if unknown or expired. Records the read (last seen; the expiry
    /// slid by the idle timeout, capped) at most once per `SESSIONS_LAST_SEEN_INTERVAL`.
    pub async fn load(&self, token: &str) -> Result<Option<StoredSession>, StoreError> {
        let found: Option<wit_store03::Session> =
            self.call(export!(edge_sessions0_3_0_store().call_find(token))).await?;
        Ok(found.map(|s| StoredSession {
            data: s.data,
            version: s.version,
            expiry: s.expiry,
            absolute: s.absolute,
            idle: s.idle,
            created: s.created,
            last_seen: s.last_seen,
            label: s.label,
            owner: s.owner,
        }))
    }

    /// Stores `data` under a fresh 43-character token, ending at `deadlines` (the expiry is
    /// now + idle, capped at the absolute deadline), listed as `label`; returns the token.
    pub async fn create_with(
        &self,
        data: Vec<u8>,
        deadlines: Deadlines,
        label: Option<&str>,
    ) -> Result<String, StoreError> {
        let (data, deadlines) = (&data, wit_deadlines(deadlines));
        let create = export!(edge_sessions0_3_0_store().call_create(data, deadlines, label));
        self.call_write(create).await
    }

    /// Conditional update: replaces the data of the active session `token` only if its
    /// version is still `version`; false, nothing stored, if another write came first or the
    /// session ended ([`ComponentStore::load`] tells which). Group-committed, as
    /// [`ComponentStore::commit`].
    pub async fn update_if(
        &self,
        token: &str,
        data: Vec<u8>,
        version: u64,
    ) -> Result<bool, StoreError> {
        let write = Write03::Update(UpdateWrite { token: token.to_owned(), data, version });
        self.write(Write::V03(write)).await
    }

    /// As [`ComponentStore::rotate`], the session starting over with `deadlines`; the fresh
    /// token also takes over the label and creation time.
    pub async fn rotate_with(
        &self,
        token: &str,
        deadlines: Deadlines,
    ) -> Result<Option<String>, StoreError> {
        let deadlines = wit_deadlines(deadlines);
        self.call_write(export!(edge_sessions0_3_0_store().call_rotate(token, deadlines))).await
    }

    /// Sets (`Some`) or clears the label of an active session; false, nothing changed, if
    /// none is active. Over 128 bytes or with control characters: `StoreError::InvalidInput`.
    pub async fn set_label(&self, token: &str, label: Option<&str>) -> Result<bool, StoreError> {
        self.call_write(export!(edge_sessions0_3_0_store().call_set_label(token, label))).await
    }

    /// The active sessions of `owner` with when each was created and last seen and its
    /// label ("your devices"), soonest expiry first. A malformed owner is
    /// `StoreError::InvalidInput`.
    pub async fn devices(&self, owner: &str) -> Result<Vec<Device>, StoreError> {
        let listed: Vec<wit_store03::SessionInfo> =
            self.call(export!(edge_sessions0_3_0_store().call_sessions_of(owner))).await?;
        Ok(listed
            .into_iter()
            .map(|s| Device {
                info: SessionInfo { id: s.id, owner: s.owner, expiry: s.expiry },
                created: s.created,
                last_seen: s.last_seen,
                label: s.label,
            })
            .collect())
    }

    /// Counts of active and expired-but-stored sessions.
    pub async fn stats(&self) -> Result<SessionCounts, StoreError> {
        let counts: wit_store::SessionCounts =
            self.call(export!(edge_sessions0_2_2_store().call_stats())).await?;
        Ok(SessionCounts { active: counts.active, expired: counts.expired })
    }

    /// Deletes at most the configured batch of expired sessions.
    pub async fn sweep(&self) -> Result<SweepReport, StoreError> {
        let report: wit_sweeper::SweepReport =
            self.call_write(export!(edge_sessions0_2_2_sweeper().call_sweep())).await?;
        Ok(SweepReport { removed: report.removed, more: report.more })
    }

    /// How often the component asks to be swept; `None` = cleanup disabled.
    pub async fn cleanup_interval(&self) -> Result<Option<Duration>, StoreError> {
        let interval = export!(edge_sessions0_2_2_sweeper().call_cleanup_interval());
        let ms = self.call_infallible(interval).await?;
        Ok(ms.map(Duration::from_millis))
    }

    /// HTTP requests the component has sent so far (to a libSQL server): with
    /// [`ComponentStore`] calls counted by the caller, the round trips per operation.
    pub fn http_requests(&self) -> u64 {
        self.inner.http_requests.load(Ordering::Relaxed)
    }

    /// Waits for the calls in progress and those already waiting, then drops the
    /// instances. Later calls (from clones) get `StoreError::Closed`. Idempotent.
    pub async fn close(&self) {
        self.inner.workers.close().await;
    }

    /// [`ComponentStore::write`] of a 0.2 write.
    async fn write02(&self, write: Write02) -> Result<bool, StoreError> {
        self.write(Write::V02(write)).await
    }

    /// Queues `write` for the next group commit, starting a flusher if none is running,
    /// and waits for its outcome. The flusher runs as a task of its own, so a caller that
    /// stops waiting (its request dropped) never cuts short the batch of others.
    async fn write(&self, write: Write) -> Result<bool, StoreError> {
        let (outcome, start) = self.inner.writes.push(write);
        if start {
            tokio::spawn(Flusher::new(self.clone()).run());
        }
        outcome.await.unwrap_or(Err(StoreError::Closed))
    }

    /// The writes waiting for the next group commit.
    pub(crate) fn write_queue(&self) -> &WriteQueue {
        &self.inner.writes
    }

    /// One `write-all` call of the batch's interface version: its writes in one
    /// transaction, each write's outcome.
    pub(crate) async fn write_all(&self, writes: &Writes) -> Result<Vec<Outcome>, StoreError> {
        fn outcomes<E: Into<StoreError>>(answers: Vec<Result<bool, E>>) -> Vec<Outcome> {
            answers.into_iter().map(|a| a.map_err(Into::into)).collect()
        }
        match writes {
            Writes::V02(writes) => self
                .call_write(export!(edge_sessions0_2_2_store().call_write_all(writes)))
                .await
                .map(outcomes),
            Writes::V03(writes) => self
                .call_write(export!(edge_sessions0_3_0_store().call_write_all(writes)))
                .await
                .map(outcomes),
        }
    }

    /// Runs one export on an instance of the store leased for the call (see [`Worker::run`];
    /// `export!` writes the closure), and maps the component's error. A call that found
    /// the database locked by a process that has since exited is retried once, after
    /// removing that lock.
    async fn call<T, E, F>(&self, export: impl Fn(Live) -> F) -> Result<T, StoreError>
    where
        E: GuestError,
        F: Future<Output = (Live, wasmtime::Result<Result<T, E>>)>,
    {
        let worker = self.inner.workers.lease().await.map_err(|_| StoreError::Closed)?;
        Self::call_on(worker, export).await
    }

    /// As [`ComponentStore::call`], for an export that writes: in the store's turn of
    /// writers, one at a time (see [`crate::pool`]).
    async fn call_write<T, E, F>(&self, export: impl Fn(Live) -> F) -> Result<T, StoreError>
    where
        E: GuestError,
        F: Future<Output = (Live, wasmtime::Result<Result<T, E>>)>,
    {
        let worker = self.inner.workers.lease_to_write().await.map_err(|_| StoreError::Closed)?;
        Self::call_on(worker, export).await
    }

    /// Runs `export` on the leased instance; retried once after removing an abandoned lock.
    async fn call_on<T, E, F>(
        mut worker: Lease<'_, Worker>,
        export: impl Fn(Live) -> F,
    ) -> Result<T, StoreError>
    where
        E: GuestError,
        F: Future<Output = (Live, wasmtime::Result<Result<T, E>>)>,
    {
        let mut result = worker.run(&export).await;
        if matches!(&result, Ok(Err(e)) if e.is_unavailable()) && worker.recover_abandoned_lock() {
            result = worker.run(&export).await;
        }
        result?.map_err(Into::into)
    }

    /// As [`ComponentStore::call`], for an export without an error of its own (no retry).
    async fn call_infallible<T, F>(&self, export: impl Fn(Live) -> F) -> Result<T, StoreError>
    where
        F: Future<Output = (Live, wasmtime::Result<T>)>,
    {
        let mut worker = self.inner.workers.lease().await.map_err(|_| StoreError::Closed)?;
        worker.run(&export).await
    }
}

/// A live instance and its typed exports.
struct Live {
    store: Store<HostState>,
    bindings: Bindings,
}

/// Owns one instance; reached only through a lease of the store's [`Instances`].
struct Worker {
    runtime: Runtime,
    options: StoreOptions,
    live: Option<Live>,
    /// An instance was made at some point: if `live` is empty now, it was discarded.
    instantiated: bool,
    /// The flocked file that proves this store alive to other processes; its tag goes into
    /// the lock files this store's instances take (`SESSIONS_LOCK_OWNER`). Dropped after
    /// the instance (fields drop after `Drop::drop`), so it outlives every lock it names.
    owner: Option<OwnerFile>,
    http_requests: Arc<AtomicU64>,
}

impl Drop for Worker {
    /// A discarded instance never runs its destructors: a lock it held on its database (for
    /// good under `SESSIONS_LOCKING=exclusive`, or mid-call when it trapped) is released
    /// here instead.
    fn drop(&mut self) {
        self.live.take();
        self.release_lost_instance_lock();
    }
}

impl Worker {
    /// Runs `export` on the instance, on the caller's task. The instance is moved into the
    /// call and handed back with its outcome: if the caller drops this future while the guest
    /// is suspended (an HTTP request to a libSQL server), the instance goes with it and the
    /// next call starts a fresh one.
    async fn run<T, F>(&mut self, export: &impl Fn(Live) -> F) -> Result<T, StoreError>
    where
        F: Future<Output = (Live, wasmtime::Result<T>)>,
    {
        let live = self.take_live().await?;
        let (live, outcome) = export(live).await;
        self.finish(live, outcome)
    }

    /// The instance for the next call (instantiated if there is none), its deadline set.
    async fn take_live(&mut self) -> Result<Live, StoreError> {
        let mut live = match self.live.take() {
            Some(live) => live,
            None => {
                self.release_lost_instance_lock();
                self.instantiate().await?
            }
        };
        live.store.set_epoch_deadline(self.deadline_ticks());
        Ok(live)
    }

    /// Keeps the instance after a call that returned; discards it after a trap or a
    /// missed deadline.
    fn finish<T>(&mut self, live: Live, outcome: wasmtime::Result<T>) -> Result<T, StoreError> {
        match outcome {
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

    async fn instantiate(&mut self) -> Result<Live, StoreError> {
        self.recover_abandoned_lock();
        let mut wasi = WasiCtxBuilder::new();
        if let Some(owner) = &self.owner {
            wasi.env("SESSIONS_LOCK_OWNER", owner.tag());
        }
        wasi.envs(&self.options.env)
            .wall_clock(self.options.clock.clone())
            // File I/O runs right here, on the caller's thread, instead of being handed to
            // a blocking-task pool and back: a thread hand-off costs more than the
            // page-cache read or write it carries (fsync, the slow case, is one per commit).
            .allow_blocking_current_thread(true);
        if let Some(dir) = &self.options.data_dir {
            wasi.preopened_dir(dir, GUEST_DATA_DIR, FsPerms::ReadWrite).map_err(|e| {
                StoreError::Unavailable(format!(
                    "cannot preopen the data directory {}: {e:#}",
                    dir.display()
                ))
            })?;
        }
        let limits = StoreLimitsBuilder::new().memory_size(self.options.memory_limit).build();
        let mut store = Store::new(
            &self.runtime.engine,
            HostState {
                wasi: wasi.build(),
                http: WasiHttpCtx::new(),
                http_hooks: self.runtime.outgoing_hooks(self.http_requests.clone()),
                table: ResourceTable::new(),
                limits,
            },
        );
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(self.deadline_ticks());
        self.instantiated = true;
        let bindings = self
            .runtime
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| StoreError::Guest(format!("instantiation failed: {e:#}")))?;
        Ok(Live { store, bindings })
    }

    fn deadline_ticks(&self) -> u64 {
        (self.options.call_timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }

    /// Once this store's instance is gone, a lock it may have held is nobody's.
    fn release_lost_instance_lock(&mut self) {
        if self.instantiated && self.live.is_none() {
            if let (Some(db), Some(owner)) = (self.options.database_host_path(), &self.owner) {
                lockrecovery::release_own_lock(&db, owner.tag());
            }
            self.instantiated = false;
        }
    }

    /// Removes the database's lock file if the process holding it has exited.
    fn recover_abandoned_lock(&self) -> bool {
        self.options
            .database_host_path()
            .is_some_and(|db| lockrecovery::recover_abandoned_lock(&db))
    }
}

/// The component's error type of either interface version.
trait GuestError: Into<StoreError> {
    /// The store is busy or unreachable (maybe a lock left by an exited process).
    fn is_unavailable(&self) -> bool;
}

impl GuestError for WitError {
    fn is_unavailable(&self) -> bool {
        matches!(self, WitError::Unavailable(_))
    }
}

impl GuestError for WitError03 {
    fn is_unavailable(&self) -> bool {
        matches!(self, WitError03::Unavailable(_))
    }
}

/// The store's deadlines as the 0.3 interface takes them.
fn wit_deadlines(deadlines: Deadlines) -> WitDeadlines {
    WitDeadlines { absolute: deadlines.absolute, idle: deadlines.idle }
}

impl From<WitError03> for StoreError {
    fn from(e: WitError03) -> StoreError {
        match e {
            WitError03::InvalidToken(m) => StoreError::InvalidToken(m),
            WitError03::InvalidInput(m) => StoreError::InvalidInput(m),
            WitError03::TooLarge(limit) => StoreError::TooLarge(limit),
            WitError03::InvalidConfig(m) => StoreError::InvalidConfig(m),
            WitError03::Unavailable(m) => StoreError::Unavailable(m),
            WitError03::Storage(m) => StoreError::Storage(m),
        }
    }
}

impl From<WitError> for StoreError {
    fn from(e: WitError) -> StoreError {
        match e {
            WitError::InvalidToken(m) => StoreError::InvalidToken(m),
            WitError::InvalidInput(m) => StoreError::InvalidInput(m),
            WitError::TooLarge(limit) => StoreError::TooLarge(limit),
            WitError::InvalidConfig(m) => StoreError::InvalidConfig(m),
            WitError::Unavailable(m) => StoreError::Unavailable(m),
            WitError::Storage(m) => StoreError::Storage(m),
        }
    }
}
