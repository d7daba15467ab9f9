//! Sessions on top of the imported store, with the host example's semantics, both built on
//! `session-core`: the cookie carries the token, the store keeps the session record
//! (`{"deadline","values"}` JSON, specified in `session-core`), and the lifetime is
//! absolute (it does not slide).
//!
//! A forged, malformed, unknown or expired token never becomes a session: the request
//! starts a fresh one, and saving it draws a new token (`create`), so a client cannot pick
//! its own token (no session fixation). An existing session is saved with `update`, which
//! never re-creates a session that a concurrent `/destroy` or `/renew` ended.

use std::time::Duration;

use session_core::{CookieSpec, Plan, Saved, Session};

use crate::bindings::edge::sessions::store;
use crate::bindings::edge::sessions::types::Error as StoreError;

/// The session cookie: `session`, HttpOnly, SameSite=Lax, Path=/.
pub fn cookie() -> CookieSpec {
    CookieSpec::default()
}

/// Loads the session named by the `Cookie:` header, or a fresh one (deadline = now +
/// `lifetime`) when there is none or it is not a live session. Errors only when the store
/// cannot answer.
pub fn load(cookie_header: Option<&str>, lifetime: Duration) -> Result<Session, StoreError> {
    let now = now_ms();
    let Some(token) = cookie_header.and_then(|h| cookie().token(h)) else {
        return Ok(Session::fresh(now, lifetime));
    };
    let found = match store::find(token) {
        Ok(found) => found,
        Err(StoreError::InvalidToken(_)) => None,
        Err(e) => return Err(e),
    };
    Ok(Session::from_store(token, found.as_deref(), now, lifetime))
}

/// Persists what the handler did (see `session_core::Plan` for the calls each case makes).
pub fn save(session: Session) -> Result<Saved, StoreError> {
    Ok(match session.plan(now_ms(), None) {
        Plan::Nothing => Saved::Unchanged,
        Plan::Touch { token, expiry } => match store::touch(&token, expiry)? {
            true => Saved::Live { token, expiry },
            false => Saved::Unchanged,
        },
        Plan::Create { data, expiry } => Saved::Live {
            token: store::create(&data, expiry)?,
            expiry,
        },
        Plan::Update {
            token,
            data,
            expiry,
        } => match store::update(&token, &data, expiry)? {
            true => Saved::Live { token, expiry },
            false => Saved::EndedMeanwhile,
        },
        Plan::Renew { old, data, expiry } => match store::update(&old, &[], 0)? {
            true => Saved::Live {
                token: store::create(&data, expiry)?,
                expiry,
            },
            false => Saved::EndedMeanwhile,
        },
        Plan::Delete { token } => {
            store::delete(&token)?;
            Saved::Ended
        }
    })
}

/// Wall-clock time in ms since the epoch, from `wasi:clocks/wall-clock` (the host's clock,
/// the same one the store compares expiries against).
pub fn now_ms() -> u64 {
    let now = wasip2::clocks::wall_clock::now();
    now.seconds
        .saturating_mul(1000)
        .saturating_add(u64::from(now.nanoseconds / 1_000_000))
}
