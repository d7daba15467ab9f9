//! The demo HTTP server: the seed's `/put` and `/get`, plus `/renew` and `/destroy`,
//! each wrapped in load-then-save of the session (scs's `LoadAndSave`).

use std::future::Future;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde::Deserialize;

use crate::error::StoreError;
use crate::session::{Session, SessionManager};

/// The value `/put` stores when no `message` is given.
pub const DEFAULT_MESSAGE: &str = "Hello from a session!";

/// The routes, sharing one session manager.
pub fn router(manager: SessionManager) -> Router {
    Router::new()
        .route("/put", any(put))
        .route("/get", any(get))
        .route("/renew", any(renew))
        .route("/destroy", any(destroy))
        .with_state(manager)
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting and
/// lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}

#[derive(Deserialize)]
struct PutParams {
    message: Option<String>,
}

async fn put(State(m): State<SessionManager>, headers: HeaderMap, Query(p): Query<PutParams>) -> Response {
    with_session(&m, &headers, |s| {
        s.put("message", p.message.unwrap_or_else(|| DEFAULT_MESSAGE.to_owned()));
        "stored\n".to_owned()
    })
    .await
}

async fn get(State(m): State<SessionManager>, headers: HeaderMap) -> Response {
    with_session(&m, &headers, |s| s.get("message").and_then(|v| v.as_str()).unwrap_or_default().to_owned()).await
}

async fn renew(State(m): State<SessionManager>, headers: HeaderMap) -> Response {
    with_session(&m, &headers, |s| {
        s.renew();
        "renewed\n".to_owned()
    })
    .await
}

async fn destroy(State(m): State<SessionManager>, headers: HeaderMap) -> Response {
    with_session(&m, &headers, |s| {
        s.destroy();
        "destroyed\n".to_owned()
    })
    .await
}

/// Load, run the handler, save; a store failure becomes an error status, never a panic.
async fn with_session(m: &SessionManager, headers: &HeaderMap, handler: impl FnOnce(&mut Session) -> String) -> Response {
    let cookie = headers.get(header::COOKIE).and_then(|v| v.to_str().ok());
    let mut session = match m.load(cookie).await {
        Ok(session) => session,
        Err(e) => return error_response(&e),
    };
    let body = handler(&mut session);
    match m.save(session).await {
        Ok(Some(set_cookie)) => match HeaderValue::from_str(&set_cookie) {
            Ok(value) => ([(header::SET_COOKIE, value)], body).into_response(),
            Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "bad cookie value\n").into_response(),
        },
        Ok(None) => body.into_response(),
        Err(e) => error_response(&e),
    }
}

fn error_response(e: &StoreError) -> Response {
    let status = match e {
        StoreError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        StoreError::InvalidToken(_) => StatusCode::BAD_REQUEST,
        e if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status.is_server_error() {
        tracing::warn!("request failed: {e}");
    }
    (status, format!("{e}\n")).into_response()
}
