//! The demo HTTP server: `/put` and `/get`, `/set?key=K&value=V` and `/get?key=K`, plus
//! `/renew` and `/destroy`, each wrapped in
//! load-then-save of the session (scs's `LoadAndSave`); and the logged-in user's routes,
//! `/login?user=NAME`, `/devices` (JSON list of the user's sessions) and
//! `/logout-everywhere` (ends the user's other sessions), as `session_core` specifies them.
//!
//! Methods as `session_core::Route` says: reads answer GET and HEAD, `/set` and the routes
//! that end, rotate or log in a session POST only, `/put` GET and POST; any other method is 405 with
//! `Allow`, before the session is loaded. An unknown path is 404.
//!
//! Status codes: 200 done; 400 a token the store refuses, a `/login` without `user`, a
//! user name the store refuses (the session was still rotated: the cookie carries the new
//! token), or a `/set` without a valid key; 401 `/devices` or `/logout-everywhere` on a
//! session that is not logged in; 409 the session ended (a concurrent logout or renewal)
//! while the request ran, nothing stored, cookie cleared, or other requests kept saving it
//! (nothing stored, cookie kept); 413 session data over the store's limit; 503 with
//! `Retry-After: 1` the store is unavailable (retrying works); 500 anything else. Bodies
//! are fixed texts ([`session_core::Failure`]): the store's own message, which may name
//! paths, lock holders or server URLs, goes to the log only.

use std::future::Future;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde::Deserialize;

use session_core::{
    check_key, devices_json, redact_credentials, revoked_json, Answer, Device, Failure, Route,
    JSON_CONTENT_TYPE, NOT_FOUND,
};

use crate::connections::{self, Limits};
use crate::error::StoreError;
use crate::session::{LoginError, Saved, Session, SessionManager};

/// The value `/put` stores when no `message` is given.
pub const DEFAULT_MESSAGE: &str = "Hello from a session!";

/// The routes, sharing one session manager.
pub fn router(manager: SessionManager) -> Router {
    Router::new()
        .route("/put", any(put))
        .route("/get", any(get))
        .route("/set", any(set))
        .route("/renew", any(renew))
        .route("/destroy", any(destroy))
        .route("/login", any(login))
        .route("/devices", any(devices))
        .route("/logout-everywhere", any(logout_everywhere))
        .layer(middleware::from_fn_with_state(manager.clone(), methods))
        .fallback(|| async { (StatusCode::NOT_FOUND, NOT_FOUND) })
        .with_state(manager)
}

/// Serves `router` on `listener` under `limits` until `shutdown` resolves, then stops
/// accepting and lets requests in flight finish (see [`connections::serve`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    connections::serve(listener, router, limits, shutdown).await
}

/// A method the route does not answer is 405, before anything is loaded.
async fn methods(State(m): State<SessionManager>, request: Request, next: Next) -> Response {
    let refused = Route::of(request.uri().path()).map(|r| r.check(request.method().as_str()));
    match refused {
        Some(Err(failure)) => answer(&m, failure),
        _ => next.run(request).await,
    }
}

#[derive(Deserialize)]
struct PutParams {
    message: Option<String>,
}

async fn put(
    State(m): State<SessionManager>,
    headers: HeaderMap,
    Query(p): Query<PutParams>,
) -> Response {
    with_session(&m, "/put", &headers, |s| {
        s.put("message", p.message.unwrap_or_else(|| DEFAULT_MESSAGE.to_owned()));
        "stored\n".to_owned()
    })
    .await
}

#[derive(Deserialize)]
struct GetParams {
    key: Option<String>,
}

async fn get(
    State(m): State<SessionManager>,
    headers: HeaderMap,
    Query(p): Query<GetParams>,
) -> Response {
    with_session(&m, "/get", &headers, |s| s.text(p.key.as_deref().unwrap_or("message"))).await
}

#[derive(Deserialize)]
struct SetParams {
    key: Option<String>,
    value: Option<String>,
}

async fn set(
    State(m): State<SessionManager>,
    headers: HeaderMap,
    Query(p): Query<SetParams>,
) -> Response {
    let Some(key) = p.key else { return answer(&m, Failure::MissingKey) };
    if let Err(failure) = check_key(&key) {
        return answer(&m, failure);
    }
    with_session(&m, "/set", &headers, |s| {
        s.put(&key, p.value.unwrap_or_default());
        "stored\n".to_owned()
    })
    .await
}

async fn renew(State(m): State<SessionManager>, headers: HeaderMap) -> Response {
    with_session(&m, "/renew", &headers, |s| {
        s.renew();
        "renewed\n".to_owned()
    })
    .await
}

async fn destroy(State(m): State<SessionManager>, headers: HeaderMap) -> Response {
    with_session(&m, "/destroy", &headers, |s| {
        s.destroy();
        "destroyed\n".to_owned()
    })
    .await
}

#[derive(Deserialize)]
struct LoginParams {
    user: Option<String>,
}

async fn login(
    State(m): State<SessionManager>,
    headers: HeaderMap,
    Query(p): Query<LoginParams>,
) -> Response {
    let Some(user) = p.user else { return answer(&m, Failure::MissingUser) };
    let session = match m.load(cookie_header(&headers)).await {
        Ok(session) => session,
        Err(e) => return store_failure(&m, "/login", &e),
    };
    match m.login(&session, &user, user_agent(&headers)).await {
        Ok(outcome) => with_cookie(&m, "/login", reply(&m, outcome.answer()), &outcome.saved()),
        Err(LoginError { error, saved }) => {
            with_cookie(&m, "/login", store_failure(&m, "/login", &error), &saved)
        }
    }
}

async fn devices(State(m): State<SessionManager>, headers: HeaderMap) -> Response {
    let session = match m.load(cookie_header(&headers)).await {
        Ok(session) => session,
        Err(e) => return store_failure(&m, "/devices", &e),
    };
    match m.devices(&session).await {
        Ok(Some(listed)) => {
            let body = devices_json(listed.iter().map(|d| Device {
                id: &d.info.id,
                expiry: d.info.expiry,
                created: d.created,
                last_seen: d.last_seen,
                label: d.label.as_deref(),
            }));
            save_then(&m, "/devices", session, &headers, json(body)).await
        }
        Ok(None) => answer(&m, Failure::NotLoggedIn),
        Err(e) => store_failure(&m, "/devices", &e),
    }
}

async fn logout_everywhere(State(m): State<SessionManager>, headers: HeaderMap) -> Response {
    let session = match m.load(cookie_header(&headers)).await {
        Ok(session) => session,
        Err(e) => return store_failure(&m, "/logout-everywhere", &e),
    };
    match m.logout_everywhere(&session).await {
        Ok(Some(revoked)) => {
            let body = json(revoked_json(revoked));
            save_then(&m, "/logout-everywhere", session, &headers, body).await
        }
        Ok(None) => answer(&m, Failure::NotLoggedIn),
        Err(e) => store_failure(&m, "/logout-everywhere", &e),
    }
}

fn cookie_header(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::COOKIE).and_then(|v| v.to_str().ok())
}

fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok())
}

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE))], body).into_response()
}

/// Load, run the handler, save. A store failure becomes an error status with a generic
/// body (the detail goes to the log), never a panic.
async fn with_session(
    m: &SessionManager,
    route: &'static str,
    headers: &HeaderMap,
    handler: impl FnOnce(&mut Session) -> String,
) -> Response {
    let mut session = match m.load(cookie_header(headers)).await {
        Ok(session) => session,
        Err(e) => return store_failure(m, route, &e),
    };
    let body = handler(&mut session);
    save_then(m, route, session, headers, body.into_response()).await
}

/// Saves the session, then answers `response` with the cookie the save calls for.
async fn save_then(
    m: &SessionManager,
    route: &'static str,
    session: Session,
    headers: &HeaderMap,
    response: Response,
) -> Response {
    let saved = match m.save(session, user_agent(headers)).await {
        Ok(saved) => saved,
        Err(e) => return store_failure(m, route, &e),
    };
    match saved {
        Saved::EndedMeanwhile => {
            tracing::debug!(route, "the session ended while the request ran; nothing was stored");
            answer(m, Failure::SessionEnded)
        }
        Saved::Conflict => {
            tracing::debug!(route, "other requests kept saving the session; nothing was stored");
            answer(m, Failure::Conflict)
        }
        saved => with_cookie(m, route, response, &saved),
    }
}

/// `response` with the `Set-Cookie` that tells the client what `saved` did, if any.
fn with_cookie(
    m: &SessionManager,
    route: &'static str,
    mut response: Response,
    saved: &Saved,
) -> Response {
    match m.set_cookie(saved).map(|c| HeaderValue::from_str(&c)) {
        None => response,
        Some(Ok(value)) => {
            response.headers_mut().insert(header::SET_COOKIE, value);
            response
        }
        Some(Err(_)) => {
            tracing::error!(
                route,
                "the session cookie is not a valid header value: check the cookie name"
            );
            answer(m, Failure::Internal)
        }
    }
}

/// The answer to a failed store call; server errors are logged with the store's message.
fn store_failure(m: &SessionManager, route: &'static str, e: &StoreError) -> Response {
    let failure = match e {
        StoreError::TooLarge(limit) => Failure::TooLarge { limit: *limit },
        StoreError::InvalidToken(_) => Failure::InvalidToken,
        StoreError::InvalidInput(_) => Failure::InvalidInput,
        e if e.is_unavailable() => Failure::Unavailable,
        _ => Failure::Internal,
    };
    let detail = || redact_credentials(&e.to_string()).into_owned();
    match failure {
        Failure::Unavailable => tracing::warn!(route, "request failed, answered 503: {}", detail()),
        Failure::Internal => tracing::error!(route, "request failed, answered 500: {}", detail()),
        _ => {}
    }
    answer(m, failure)
}

fn answer(m: &SessionManager, failure: Failure) -> Response {
    reply(m, failure.answer())
}

fn reply(m: &SessionManager, answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    if let Some(seconds) = answer.retry_after_s {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if let Some(allow) = answer.allow {
        headers.insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    if answer.clear_cookie {
        if let Ok(value) = HeaderValue::from_str(&m.clear_cookie()) {
            headers.insert(header::SET_COOKIE, value);
        }
    }
    response
}
