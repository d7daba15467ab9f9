//! The routes: each loads the session, acts on it, and saves it (load-and-save per
//! request, as edge hosts run one instance per request).
//!
//! Status codes: 200 done; 400 a token the store refuses on save; 413 session data over
//! the store's limit; 503 (with `Retry-After`) the database is unavailable, e.g. locked by
//! another instance for the whole busy timeout: the client may simply retry; 500 anything
//! else; 404 an unknown path.

use crate::bindings::edge::sessions::types::Error as StoreError;
use crate::config;
use crate::http::{Request, Response};
use crate::session::{self, Session};

/// The value `/put` stores when no `message` is given (as in host-example).
pub const DEFAULT_MESSAGE: &str = "Hello from a session!";

/// Seconds a client is told to wait after a 503.
const RETRY_AFTER_S: &str = "1";

pub fn respond(request: &Request) -> Response {
    match request.path.as_str() {
        "/put" => {
            let message = request
                .query_param("message")
                .unwrap_or_else(|| DEFAULT_MESSAGE.to_owned());
            with_session(request, |s| {
                s.put("message", message);
                "stored\n".to_owned()
            })
        }
        "/get" => with_session(request, |s| {
            s.get("message")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        }),
        "/renew" => with_session(request, |s| {
            s.renew();
            "renewed\n".to_owned()
        }),
        "/destroy" => with_session(request, |s| {
            s.destroy();
            "destroyed\n".to_owned()
        }),
        _ => Response::text(
            404,
            "not found; the routes are /put?message=TEXT, /get, /renew and /destroy\n",
        ),
    }
}

fn with_session(request: &Request, handler: impl FnOnce(&mut Session) -> String) -> Response {
    let lifetime = match config::lifetime() {
        Ok(lifetime) => lifetime,
        Err(message) => return Response::text(500, format!("misconfigured: {message}\n")),
    };
    let mut session = match session::load(request.cookie.as_deref(), lifetime) {
        Ok(session) => session,
        Err(e) => return error_response(&e),
    };
    let body = handler(&mut session);
    match session::save(session) {
        Ok(Some(set_cookie)) => Response::text(200, body).with_header("set-cookie", set_cookie),
        Ok(None) => Response::text(200, body),
        Err(e) => error_response(&e),
    }
}

fn error_response(e: &StoreError) -> Response {
    match e {
        StoreError::InvalidToken(m) => Response::text(400, format!("invalid session token: {m}\n")),
        StoreError::TooLarge(limit) => Response::text(
            413,
            format!("session data is larger than the store's limit of {limit} bytes\n"),
        ),
        StoreError::Unavailable(m) => {
            Response::text(503, format!("session store unavailable: {m}\n"))
                .with_header("retry-after", RETRY_AFTER_S)
        }
        StoreError::InvalidConfig(m) => {
            Response::text(500, format!("session store misconfigured: {m}\n"))
        }
        StoreError::Storage(m) => Response::text(500, format!("session store failed: {m}\n")),
    }
}
