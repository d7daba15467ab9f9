//! The routes: each loads the session, acts on it, and saves it (load-and-save per
//! request); saves of requests served at once are stored together (`batch`), and requests
//! of one instance that may save the same session take turns (`turn`).
//!
//! Methods (`session_core::Route`, the contract in session-core's crate docs): `/get` and
//! `/devices` answer GET and HEAD; `/set?key=K&value=V`, `/renew`, `/destroy`,
//! `/login?user=NAME` and `/logout-everywhere` answer POST only, so a link on another site
//! (a cross-site GET, which carries the `SameSite=Lax` cookie) cannot set a value, end,
//! rotate or log in a session; `/put?message=TEXT` answers GET (the demo's and the
//! benchmark's write, which only replaces the requester's own message) and POST. Any other
//! method is 405 with `Allow`, answered before the session is loaded: no store call, no
//! cookie.
//!
//! `/set` stores the string V under K (no `value`: the empty string) and leaves the other
//! values; `/get?key=K` answers K's value as text (a string as it is, other JSON as JSON,
//! nothing when absent), `/get` alone the `message` value. `/login?user=NAME`, `/devices`
//! and `/logout-everywhere` follow `session-core`'s contract for the logged-in user (the
//! same answers as host-example's).
//!
//! Status codes: 200 done; 400 a token the store refuses on save, a `/set` without `key`
//! or with a key `session_core::check_key` refuses, a `/login` without `user`, or a user
//! name the store refuses (the session was still rotated: the cookie carries the new
//! token); 401 `/devices` or `/logout-everywhere` when not logged in; 405 a method the route
//! does not answer; 409 the session ended (a concurrent logout or renewal) while the
//! request ran: nothing stored, cookie cleared; 409 other requests kept saving the session
//! for every attempt of this one (`Failure::Conflict`): nothing of it stored, the session
//! and its cookie live on, a retry works; 413 session data over the store's limit; 503
//! (with `Retry-After`) the database is unavailable, e.g. locked by another instance for
//! the whole busy timeout: the client may simply retry; 500 anything else (a
//! misconfiguration included); 404 an unknown path (whatever the method).
//! Error bodies are fixed texts (`session_core::Failure`): the store's message, which may
//! name paths, lock holders or a database URL with its password, goes to the log only.

use session_core::{
    check_key, device_label, redact_credentials, Failure, Route, Saved, Session, NOT_FOUND,
};

use crate::bindings::types::Error as StoreError;
use crate::config::{self, Settings};
use crate::http::{Request, Response};
use crate::session;
use crate::turn;

/// The value `/put` stores when no `message` is given (as in host-example).
pub const DEFAULT_MESSAGE: &str = "Hello from a session!";

pub async fn respond(request: &Request) -> Response {
    let Some(route) = Route::of(&request.path) else {
        return Response::text(404, NOT_FOUND);
    };
    if let Err(refused) = route.check(&request.method) {
        return answer(refused);
    }
    // A request that saves its session waits for the other saves of it in this instance.
    let token = request.cookie.as_deref().and_then(|header| session::cookie().token(header));
    let _turn = match (route, token) {
        (Route::Put | Route::Set | Route::Renew | Route::Destroy | Route::Login, Some(token)) => {
            Some(turn::take(token).await)
        }
        _ => None,
    };
    match route {
        Route::Put => {
            let message =
                request.query_param("message").unwrap_or_else(|| DEFAULT_MESSAGE.to_owned());
            with_session(request, |s| {
                s.put("message", message);
                "stored\n".to_owned()
            })
            .await
        }
        Route::Set => match key_and_value(request) {
            Ok((key, value)) => {
                with_session(request, |s| {
                    s.put(&key, value);
                    "stored\n".to_owned()
                })
                .await
            }
            Err(refused) => answer(refused),
        },
        Route::Get => {
            let key = request.query_param("key").unwrap_or_else(|| "message".to_owned());
            with_session(request, |s| match s.get(&key) {
                Some(value) => value.as_str().map_or_else(|| value.to_string(), str::to_owned),
                None => String::new(),
            })
            .await
        }
        Route::Renew => {
            with_session(request, |s| {
                s.renew();
                "renewed\n".to_owned()
            })
            .await
        }
        Route::Destroy => {
            with_session(request, |s| {
                s.destroy();
                "destroyed\n".to_owned()
            })
            .await
        }
        Route::Login => match request.query_param("user") {
            Some(user) => login(request, &user).await,
            None => answer(Failure::MissingUser),
        },
        Route::Devices => for_user(request, session::devices).await,
        Route::LogoutEverywhere => for_user(request, session::logout_everywhere).await,
    }
}

/// `/set`'s key and value: no `key` is [`Failure::MissingKey`], one `check_key` refuses
/// [`Failure::InvalidKey`]; no `value` is the empty string.
fn key_and_value(request: &Request) -> Result<(String, String), Failure> {
    let key = request.query_param("key").ok_or(Failure::MissingKey)?;
    check_key(&key)?;
    Ok((key, request.query_param("value").unwrap_or_default()))
}

async fn login(request: &Request, user: &str) -> Response {
    let route = request.path.as_str();
    let (session, settings) = match loaded(request) {
        Ok(loaded) => loaded,
        Err(failed) => return failed,
    };
    match session::login(&session, user, &settings, label(request)).await {
        Ok(outcome) => {
            let answer = outcome.answer();
            let response = Response::text(answer.status, answer.body);
            with_cookie(response, &outcome.saved())
        }
        Err(session::LoginError { error, saved }) => {
            with_cookie(store_failure(route, &error), &saved)
        }
    }
}

/// What a session created by `request` is listed as on `/devices`: a summary of its
/// `User-Agent` (`session_core::device_label`).
fn label(request: &Request) -> Option<String> {
    request.user_agent.as_deref().and_then(device_label)
}

/// A route of the logged-in user: `act` answers the JSON body, or none when the session
/// is not logged in (401). The session is then saved as every route saves it.
async fn for_user(
    request: &Request,
    act: impl FnOnce(&Session) -> Result<Option<String>, StoreError>,
) -> Response {
    let route = request.path.as_str();
    let (session, settings) = match loaded(request) {
        Ok(loaded) => loaded,
        Err(failed) => return failed,
    };
    let body = match act(&session) {
        Ok(Some(body)) => body,
        Ok(None) => return answer(Failure::NotLoggedIn),
        Err(e) => return store_failure(route, &e),
    };
    save_then(request, session, &settings, Response::json(body)).await
}

/// The configured settings; a malformed one is logged (the caller answers 500).
fn settings(route: &str) -> Option<Settings> {
    match config::settings() {
        Ok(settings) => Some(settings),
        Err(message) => {
            log(route, 500, &format!("misconfigured: {message}"));
            None
        }
    }
}

/// The request's session and the configured settings, or the answer to why not.
fn loaded(request: &Request) -> Result<(Session, Settings), Response> {
    let route = request.path.as_str();
    let settings = settings(route).ok_or_else(|| answer(Failure::Internal))?;
    let session = session::load(request.cookie.as_deref(), &settings)
        .map_err(|e| store_failure(route, &e))?;
    Ok((session, settings))
}

async fn with_session(request: &Request, handler: impl FnOnce(&mut Session) -> String) -> Response {
    let (mut session, settings) = match loaded(request) {
        Ok(loaded) => loaded,
        Err(failed) => return failed,
    };
    let body = handler(&mut session);
    save_then(request, session, &settings, Response::text(200, body)).await
}

/// Saves the session, then answers `response` with the cookie the save calls for.
async fn save_then(
    request: &Request,
    session: Session,
    settings: &Settings,
    response: Response,
) -> Response {
    match session::save(session, settings, label(request)).await {
        Ok(Saved::EndedMeanwhile) => answer(Failure::SessionEnded),
        Ok(Saved::Conflict) => answer(Failure::Conflict),
        Ok(saved) => with_cookie(response, &saved),
        Err(e) => store_failure(request.path.as_str(), &e),
    }
}

/// `response` with the `Set-Cookie` that tells the client what `saved` did, if any.
fn with_cookie(response: Response, saved: &Saved) -> Response {
    match session::cookie().set_cookie(saved, session::now_ms()) {
        Some(set_cookie) => response.with_header("set-cookie", set_cookie),
        None => response,
    }
}

/// The answer to a failed store call; server errors are logged with the store's message.
fn store_failure(route: &str, e: &StoreError) -> Response {
    let failure = match e {
        StoreError::InvalidToken(_) => Failure::InvalidToken,
        StoreError::InvalidInput(_) => Failure::InvalidInput,
        StoreError::TooLarge(limit) => Failure::TooLarge { limit: *limit },
        StoreError::Unavailable(_) => Failure::Unavailable,
        StoreError::InvalidConfig(_) | StoreError::Storage(_) => Failure::Internal,
    };
    let detail = match e {
        StoreError::Unavailable(m) => format!("unavailable: {m}"),
        StoreError::InvalidConfig(m) => format!("invalid-config: {m}"),
        StoreError::Storage(m) => format!("storage: {m}"),
        StoreError::InvalidToken(_) | StoreError::InvalidInput(_) | StoreError::TooLarge(_) => {
            return answer(failure)
        }
    };
    log(route, failure.answer().status, &detail);
    answer(failure)
}

fn answer(failure: Failure) -> Response {
    let answer = failure.answer();
    let mut response = Response::text(answer.status, answer.body);
    if let Some(seconds) = answer.retry_after_s {
        response = response.with_header("retry-after", seconds.to_string());
    }
    if let Some(allow) = answer.allow {
        response = response.with_header("allow", allow);
    }
    if answer.clear_cookie {
        response = response.with_header("set-cookie", session::cookie().clear());
    }
    response
}

/// The server's log: the instance's stderr, which the host keeps (`wasmtime serve` prints
/// it on its own stderr). Credentials in URLs are masked.
fn log(route: &str, status: u16, detail: &str) {
    eprintln!("edge-app: {route} answered {status}: {}", redact_credentials(detail));
}
