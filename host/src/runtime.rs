//! The compiled component, shared by every store a process opens: one `Engine`, one
//! `Component`, one `InstancePre` (imports resolved once), the epoch ticker that
//! enforces call deadlines, and the pool of kept-alive connections the guest's outgoing
//! HTTP requests go through ([`crate::http_pool`]).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use wasmtime_wasi_http::{
    RequestOptions, Result as HttpResult, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
    WasiHttpView,
};

use crate::bindings::SessionStorePre;
use crate::compiled::{self, Origin};
use crate::error::LoadError;
use crate::http_pool::{HttpPool, PoolSettings};

/// How often the engine's epoch advances; call deadlines are counted in these ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Per-instance host state.
pub(crate) struct HostState {
    pub(crate) wasi: WasiCtx,
    /// Outgoing HTTP, for the component's remote backend (a libSQL server).
    pub(crate) http: WasiHttpCtx,
    pub(crate) http_hooks: OutgoingHooks,
    pub(crate) table: ResourceTable,
    pub(crate) limits: StoreLimits,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.http_hooks }
    }
}

/// Sends the guest's outgoing HTTP requests through the runtime's [`HttpPool`] (kept-alive
/// connections) instead of wasmtime's default (a new connection per request), counting
/// each request: the number of HTTP round trips the guest makes (one per store operation
/// on a libSQL server).
pub(crate) struct OutgoingHooks {
    requests: Arc<AtomicU64>,
    pool: HttpPool,
}

impl WasiHttpHooks for OutgoingHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = HttpResult<()>> + Send>,
    ) -> Box<
        dyn Future<
                Output = HttpResult<(
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = HttpResult<()>> + Send>,
                )>,
            > + Send,
    > {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let pool = self.pool.clone();
        Box::new(async move { pool.send(request, options).await })
    }
}

/// A loaded, linked session-store component. Cheap to clone; open stores with
/// [`crate::ComponentStore::open`].
///
/// Every store it opens sends the guest's HTTP requests (to a libSQL server) over
/// connections kept alive in one pool that all its stores and clones share: idle ones are
/// closed after [`http_pool::IDLE_TIMEOUT`](crate::http_pool::IDLE_TIMEOUT), at most
/// [`http_pool::MAX_IDLE_PER_HOST`](crate::http_pool::MAX_IDLE_PER_HOST) are kept per
/// server (see [`crate::http_pool`]; [`Runtime::with_pool_settings`] changes both).
#[derive(Clone)]
pub struct Runtime {
    pub(crate) engine: Engine,
    component: Component,
    pub(crate) pre: Arc<SessionStorePre<HostState>>,
    http: HttpPool,
}

impl Runtime {
    /// Compiles and links the component at `path`.
    ///
    /// Errors: `NotFound` for a missing file; `Invalid` for a file that is not a component
    /// or does not export `edge:sessions/store` and `edge:sessions/sweeper`.
    pub fn load(path: &Path) -> Result<Runtime, LoadError> {
        let (engine, bytes) = (engine()?, read(path)?);
        let component = Component::new(&engine, &bytes).map_err(|e| invalid(path, e))?;
        Runtime::link(path, engine, component)
    }

    /// Compiles and links the component from its bytes, e.g. a built `libsqlstore.wasm`
    /// the application embeds with `include_bytes!`. Errors as [`Runtime::load`]'s
    /// `Invalid`, naming the component `<bytes>`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Runtime, LoadError> {
        let (engine, origin) = (engine()?, Path::new("<bytes>"));
        let component = Component::new(&engine, bytes).map_err(|e| invalid(origin, e))?;
        Runtime::link(origin, engine, component)
    }

    /// As [`Runtime::load`], with the compiled component kept in `cache_dir` (see
    /// [`crate::compiled`]): a later load of the same component by the same engine
    /// configuration skips compiling. Says where the component came from.
    pub fn load_cached(path: &Path, cache_dir: &Path) -> Result<(Runtime, Origin), LoadError> {
        let (engine, bytes) = (engine()?, read(path)?);
        let (component, origin) =
            compiled::load(&engine, &bytes, cache_dir).map_err(|e| invalid(path, e))?;
        Ok((Runtime::link(path, engine, component)?, origin))
    }

    /// Links WASI (and wasi:http) to `component` and resolves its imports once.
    fn link(path: &Path, engine: Engine, component: Component) -> Result<Runtime, LoadError> {
        let invalid = |e: wasmtime::Error| invalid(path, e);
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(invalid)?;
        // Both builds of the component load: the default one imports wasi:http for its
        // remote backend, the local-only one does not.
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(invalid)?;
        let pre = linker.instantiate_pre(&component).map_err(invalid)?;
        let component = component.clone();
        let pre = SessionStorePre::new(pre).map_err(invalid)?;
        spawn_epoch_ticker(&engine);
        Ok(Runtime { engine, component, pre: Arc::new(pre), http: pool(PoolSettings::default())? })
    }

    /// This runtime with a new, empty connection pool of these settings: the stores opened
    /// from the runtime returned (and from its clones) use it; other clones of the runtime
    /// given, and every store opened before, keep the pool they had.
    pub fn with_pool_settings(self, settings: PoolSettings) -> Result<Runtime, LoadError> {
        Ok(Runtime { http: pool(settings)?, ..self })
    }

    /// The outgoing-HTTP hooks of one instance: requests go through this runtime's pool and
    /// are counted in `requests`.
    pub(crate) fn outgoing_hooks(&self, requests: Arc<AtomicU64>) -> OutgoingHooks {
        OutgoingHooks { requests, pool: self.http.clone() }
    }

    /// The names the component imports, e.g. `wasi:http/outgoing-handler@0.2.12`.
    pub fn imports(&self) -> Vec<String> {
        self.component
            .component_type()
            .imports(&self.engine)
            .map(|(name, _)| name.to_owned())
            .collect()
    }

    /// The names the component exports, e.g. `edge:sessions/store@0.2.2`.
    pub fn exports(&self) -> Vec<String> {
        self.component
            .component_type()
            .exports(&self.engine)
            .map(|(name, _)| name.to_owned())
            .collect()
    }
}

fn pool(settings: PoolSettings) -> Result<HttpPool, LoadError> {
    HttpPool::new(settings)
        .map_err(|e| LoadError::Engine(format!("cannot set up TLS for outgoing HTTP: {e}")))
}

/// The engine every store of a runtime runs on: epoch interruption for call deadlines.
fn engine() -> Result<Engine, LoadError> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    Engine::new(&config).map_err(|e| LoadError::Engine(format!("{e:#}")))
}

/// The component file's bytes.
fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => LoadError::NotFound(path.to_owned()),
        _ => LoadError::Invalid { path: path.to_owned(), reason: format!("cannot read it: {e}") },
    })
}

fn invalid(path: &Path, e: wasmtime::Error) -> LoadError {
    LoadError::Invalid { path: path.to_owned(), reason: format!("{e:#}") }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is dropped.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map(drop)
        .unwrap_or_else(|e| tracing::error!("no epoch ticker, call deadlines are off: {e}"));
}
