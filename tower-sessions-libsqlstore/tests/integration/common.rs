//! The component, a database of each backend, and an axum app with tower-sessions over it,
//! served on loopback.

#[allow(dead_code)] // the one sqld launcher of the repository; these tests use part of it
#[path = "../../../host/tests/integration/common/sqld.rs"]
pub mod sqld;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::routing::get;
use axum::Router;
use libsqlstore_host::{ComponentStore, HostClock, Runtime, StoreOptions};
use sqld::Sqld;
use tower_sessions::cookie::Cookie;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_libsqlstore::LibsqlStore;

/// The component `./dev build` makes (`$LIBSQLSTORE_COMPONENT` names another), loaded once.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: std::sync::OnceLock<Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        let path = std::env::var_os("LIBSQLSTORE_COMPONENT").map_or_else(
            || {
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../target/wasm32-wasip2/release/libsqlstore.wasm")
            },
            PathBuf::from,
        );
        Runtime::load(&path).expect("the component is built (./dev build)")
    })
}

/// Which database a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    File,
    Sqld,
}

/// A database of one backend (removed on drop) and the clock its store reads.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub sqld: Option<Sqld>,
    pub clock: HostClock,
}

impl Fixture {
    pub fn new(backend: Backend) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let sqld = (backend == Backend::Sqld)
            .then(|| Sqld::start(dir.path(), None).expect("sqld starts (./dev setup installs it)"));
        Fixture { dir, sqld, clock: HostClock::default() }
    }

    /// A store on this fixture's database, with `SESSIONS_*` settings `env`.
    pub fn store(&self, env: &[(&str, &str)]) -> ComponentStore {
        let mut options =
            StoreOptions { clock: self.clock.clone(), ..StoreOptions::in_dir(self.dir.path()) };
        if let Some(sqld) = &self.sqld {
            options = options.env("SESSIONS_DATABASE", sqld.url());
        }
        for (name, value) in env {
            options = options.env(name, *value);
        }
        ComponentStore::open(runtime(), options).expect("store opens")
    }

    /// The database file and its journal, as a leaked copy of the data directory would be.
    pub fn stored_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for entry in walk(self.dir.path()) {
            bytes.extend(std::fs::read(entry).unwrap_or_default());
        }
        bytes
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Runs each listed `async fn(Backend)` once per backend, as separately named tests.
macro_rules! per_backend {
    ($($test:ident),* $(,)?) => {
        mod file {
            $( #[tokio::test] async fn $test() { super::$test($crate::common::Backend::File).await } )*
        }
        mod sqld {
            $( #[tokio::test] async fn $test() { super::$test($crate::common::Backend::Sqld).await } )*
        }
    };
}
pub(crate) use per_backend;

/// The session cookie's name (tower-sessions' default).
pub const COOKIE: &str = "id";

/// An app of a few routes, each doing one thing to its session, behind `layer`.
pub fn app(layer: SessionManagerLayer<LibsqlStore>) -> Router {
    Router::new()
        .route("/", get(|| async { "no session touched" }))
        .route("/count", get(count))
        .route(
            "/read",
            get(
                |s: Session| async move { format!("{:?}", s.get::<u64>("n").await.ok().flatten()) },
            ),
        )
        .route(
            "/forget",
            get(|s: Session| async move { s.remove::<u64>("n").await.map(drop).map_err(fail) }),
        )
        .route("/cycle", get(|s: Session| async move { s.cycle_id().await.map_err(fail) }))
        .route("/flush", get(|s: Session| async move { s.flush().await.map_err(fail) }))
        .route(
            "/keep-a-day",
            get(|s: Session| async move {
                s.set_expiry(Some(Expiry::OnInactivity(time::Duration::days(1))));
            }),
        )
        .layer(layer)
}

async fn count(session: Session) -> Result<String, axum::http::StatusCode> {
    let n = session.get::<u64>("n").await.map_err(fail)?.unwrap_or(0) + 1;
    session.insert("n", n).await.map_err(fail)?;
    Ok(n.to_string())
}

fn fail(_: tower_sessions::session::Error) -> axum::http::StatusCode {
    axum::http::StatusCode::INTERNAL_SERVER_ERROR
}

/// `app(layer)` served on a loopback port until the test's runtime ends.
pub async fn serve(layer: SessionManagerLayer<LibsqlStore>) -> Client {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move { axum::serve(listener, app(layer)).await });
    Client { addr, http: reqwest::Client::new() }
}

/// One answer: status, body and the session cookie it set, if any.
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub cookie: Option<Cookie<'static>>,
}

/// A browser without a cookie jar: each request carries the cookie the test gives it.
pub struct Client {
    addr: SocketAddr,
    http: reqwest::Client,
}

impl Client {
    pub async fn get(&self, path: &str, session: Option<&str>) -> Answer {
        let mut request = self.http.get(format!("http://{}{path}", self.addr));
        if let Some(value) = session {
            request = request.header("cookie", format!("{COOKIE}={value}"));
        }
        let response = request.send().await.expect("request");
        let cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| Cookie::parse(v.to_owned()).ok())
            .find(|c| c.name() == COOKIE);
        let status = response.status().as_u16();
        Answer { status, body: response.text().await.expect("body"), cookie }
    }
}
