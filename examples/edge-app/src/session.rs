//! Sessions on top of the imported store, with the host example's semantics, both built on
//! `session-core`: the cookie carries the token, the store keeps the session record
//! (`{"deadline","values"}` JSON, specified in `session-core`), and the lifetime is
//! absolute (it does not slide).
//!
//! A forged, malformed, unknown or expired token never becomes a session: the request
//! starts a fresh one, and saving it draws a new token (`create`), so a client cannot pick
//! its own token (no session fixation). An existing session is saved with `update`, which
//! never re-creates a session that a concurrent `/destroy` or `/renew` ended.
//!
//! A logged-in session holds `user` and is owned by that name in the store (`login`); the
//! contract of the three routes on it is `session-core`'s.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use session_core::{CookieSpec, Login, LoginOutcome, NewToken, Plan, Saved, Session};

use crate::batch;
use crate::bindings::edge::sessions::store::{self, SessionWrite, Write};
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
/// A touch, update or delete joins the instance's next `write-all` (`batch`); the others
/// are calls of their own.
pub async fn save(session: Session) -> Result<Saved, StoreError> {
    Ok(match session.plan(now_ms(), None) {
        Plan::Nothing => Saved::Unchanged,
        Plan::Touch { token, expiry } => {
            match batch::write(Write::Touch((token.clone(), expiry))).await? {
                true => Saved::Live { token, expiry },
                false => Saved::Unchanged,
            }
        }
        Plan::Create { data, expiry } => {
            Saved::Live { token: store::create(&data, expiry)?, expiry }
        }
        Plan::Update { token, data, expiry } => {
            let write = Write::Update(SessionWrite { token: token.clone(), data, expiry });
            match batch::write(write).await? {
                true => Saved::Live { token, expiry },
                false => Saved::EndedMeanwhile,
            }
        }
        Plan::Renew { old, data, expiry } => match store::rotate(&old, expiry)? {
            Some(token) => match store::update(&token, &data, expiry)? {
                true => Saved::Live { token, expiry },
                false => Saved::EndedMeanwhile,
            },
            None => Saved::EndedMeanwhile,
        },
        Plan::Delete { token } => {
            batch::write(Write::Delete(token)).await?;
            Saved::Ended
        }
    })
}

/// A login the store failed, with what the client's cookie must become: the new token if
/// one was obtained before the failure (the old one is then dead), else `Saved::Unchanged`.
pub struct LoginError {
    pub error: StoreError,
    pub saved: Saved,
}

/// Logs `session` in as `user` (see `session_core::Login` for the calls, in order): rotate
/// (or create when there is nothing to rotate), set the owner, then store the values with
/// the user. The request's token never gets the owner or the user value.
pub fn login(
    session: &Session,
    user: &str,
    lifetime: Duration,
) -> Result<LoginOutcome, LoginError> {
    let login = Login::plan(session, user, now_ms(), None, lifetime);
    let failed = |error| LoginError { error, saved: Saved::Unchanged };
    let rotated = match login.rotation() {
        Some((token, expiry)) => store::rotate(token, expiry).map_err(failed)?,
        None => None,
    };
    let new = match rotated {
        Some(token) => NewToken::Rotated(token),
        None => {
            let (data, expiry) = login.creation();
            NewToken::Created(store::create(&data, expiry).map_err(failed)?)
        }
    };
    let token = new.token().to_owned();
    let expiry = login.expiry(&new);
    let failed = |error| LoginError { error, saved: Saved::Live { token: token.clone(), expiry } };
    match store::set_owner(&token, Some(login.user())) {
        Ok(true) => {}
        Ok(false) => return Ok(LoginOutcome::EndedMeanwhile),
        Err(StoreError::InvalidInput(_)) => return Ok(LoginOutcome::NameRefused { token, expiry }),
        Err(e) => return Err(failed(e)),
    }
    let (data, expiry) = login.update(&new);
    Ok(match store::update(&token, &data, expiry).map_err(failed)? {
        true => LoginOutcome::LoggedIn { token, expiry },
        false => LoginOutcome::EndedMeanwhile,
    })
}

/// The `/devices` body for the session's user; `None` if not logged in.
pub fn devices(session: &Session) -> Result<Option<String>, StoreError> {
    let Some(user) = session.user() else {
        return Ok(None);
    };
    let listed = store::sessions_of(user)?;
    Ok(Some(session_core::devices_json(listed.iter().map(|s| (s.id.as_str(), s.expiry)))))
}

/// Ends every other session of the session's user; the `/logout-everywhere` body, or
/// `None` if not logged in.
pub fn logout_everywhere(session: &Session) -> Result<Option<String>, StoreError> {
    let Some(user) = session.user() else {
        return Ok(None);
    };
    let revoked = store::revoke_owner(user, session.token())?;
    Ok(Some(session_core::revoked_json(revoked)))
}

/// Wall-clock time in ms since the epoch, from the host's wall clock (the one the store
/// compares expiries against); 0 for a clock set before 1970.
pub fn now_ms() -> u64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}
