//! The routes, the session layer, and serving them.
//!
//! Same contract as `libsqlstore_host::server`: `/put[?message=]` stores a message in the
//! session (creating it, and setting the `session` cookie, when the request has none);
//! `/get` answers the stored message and writes nothing. Cookies are `HttpOnly`,
//! `SameSite=Lax`, not `Secure`, as `host-example serve` sends them by default.

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde::Deserialize;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Session, SessionManagerLayer, SessionStore};

/// The value `/put` stores when no `message` is given (as `host-example`).
const DEFAULT_MESSAGE: &str = "Hello from a session!";

const MESSAGE_KEY: &str = "message";

/// The routes over `store`, with the cookie named and flagged as `host-example`'s.
pub fn router<S: SessionStore + Clone>(store: S) -> Router {
    let layer = SessionManagerLayer::new(store)
        .with_name("session")
        .with_secure(false)
        .with_http_only(true)
        .with_same_site(SameSite::Lax);
    Router::new().route("/put", any(put)).route("/get", any(get)).layer(layer)
}

/// Prints how a SQLite-backed peer keeps its sessions, as its own connection reports it
/// (`PRAGMA journal_mode`, `PRAGMA synchronous`): one `store: …` line on stdout, before
/// the address, which the benchmark shows beside the peer's figures.
pub fn announce_sqlite(journal_mode: &str, synchronous: i64, pool: Option<u32>) {
    let synchronous = match synchronous {
        0 => "off".to_owned(),
        1 => "normal".to_owned(),
        2 => "full".to_owned(),
        3 => "extra".to_owned(),
        other => other.to_string(),
    };
    let pool = pool.map(|n| format!(" pool={n}")).unwrap_or_else(|| " one connection".to_owned());
    println!(
        "store: journal={} synchronous={synchronous}{pool}",
        journal_mode.to_ascii_lowercase()
    );
}

/// Binds `listen`, prints `listening on http://ADDR` on stdout (the benchmark waits for
/// that line), and serves until the process is killed.
pub async fn serve(listen: std::net::SocketAddr, router: Router) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}

#[derive(Deserialize)]
struct PutParams {
    message: Option<String>,
}

async fn put(session: Session, Query(p): Query<PutParams>) -> Response {
    let message = p.message.unwrap_or_else(|| DEFAULT_MESSAGE.to_owned());
    match session.insert(MESSAGE_KEY, message).await {
        Ok(()) => "stored\n".into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

async fn get(session: Session) -> Response {
    match session.get::<String>(MESSAGE_KEY).await {
        Ok(message) => message.unwrap_or_default().into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}
