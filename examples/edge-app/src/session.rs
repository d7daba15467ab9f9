//! Sessions on top of the imported store (`edge:sessions/store@0.3.0`), with the host
//! example's semantics, both built on `session-core`: the cookie carries the token, the
//! store keeps the session record (`{"deadline","values"}` JSON, specified in
//! `session-core`) with its version and both deadlines (absolute, and the idle timeout it
//! slides on reads and writes).
//!
//! A forged, malformed, unknown or expired token never becomes a session: the request
//! starts a fresh one, and saving it draws a new token (`create`), so a client cannot pick
//! its own token (no session fixation). A session only read stores nothing (`find` records
//! the read). An existing session is written only by the conditional `update`
//! (`session_core::Save`): a save that another request's save beat reads the session again
//! and puts its own values over the newer ones, after a random pause (`backoff`); one that
//! raced a `/destroy` or `/renew` stores nothing, so an ended session never comes back.
//!
//! A logged-in session holds `user` and is owned by that name in the store (`login`); the
//! contract of the three routes on it is `session-core`'s.

use std::time::{SystemTime, UNIX_EPOCH};

use session_core::{
    CookieSpec, Deadlines, Device, Login, LoginOutcome, NewToken, Save, Saved, Session, Step,
};

use crate::backoff;
use crate::batch;
use crate::bindings::store::{self, UpdateWrite, Write};
use crate::bindings::types::{Deadlines as StoreDeadlines, Error as StoreError};
use crate::config::Settings;

/// The session cookie: `session`, HttpOnly, SameSite=Lax, Path=/.
pub fn cookie() -> CookieSpec {
    CookieSpec::default()
}

/// Loads the session named by the `Cookie:` header, or a fresh one (deadline = now + the
/// lifetime) when there is none or it is not a live session. Errors only when the store
/// cannot answer.
pub fn load(cookie_header: Option<&str>, settings: &Settings) -> Result<Session, StoreError> {
    let now = now_ms();
    let Some(token) = cookie_header.and_then(|h| cookie().token(h)) else {
        return Ok(Session::fresh(now, settings.lifetime));
    };
    let found = find(token)?;
    Ok(Session::from_store(token, as_found(&found), now, settings.lifetime))
}

/// Persists what the handler did (`session_core::Save`); a session created now is listed
/// on `/devices` as `label`.
pub async fn save(
    session: Session,
    settings: &Settings,
    label: Option<String>,
) -> Result<Saved, StoreError> {
    let mut save = session.save(settings.idle_timeout, label);
    let first = save.first();
    drive(&mut save, first).await
}

/// Makes the store call each step names and hands its answer to `save`, from `step` until
/// the save is done. Updates and deletes join the instance's next `write-all` (`batch`);
/// the others are calls of their own. An update another save beat is followed, after a
/// pause (`backoff`), by the next attempt's `find`.
async fn drive(save: &mut Save, mut step: Step) -> Result<Saved, StoreError> {
    let mut lost = 0;
    loop {
        step = match step {
            Step::Done(saved) => return Ok(saved),
            Step::Create { data, deadlines, label } => {
                save.created(store::create(&data, store_deadlines(deadlines), label.as_deref())?)
            }
            Step::Rotate { token, deadlines } => {
                save.rotated(store::rotate(&token, store_deadlines(deadlines))?)
            }
            Step::Find { token } => save.found(as_found(&find(&token)?)),
            Step::Update { token, data, version } => {
                let write = Write::Update(UpdateWrite { token, data, version });
                let applied = batch::write(write).await?;
                let next = save.updated(applied);
                if let Step::Find { .. } = next {
                    lost += 1;
                    backoff::pause(lost).await;
                }
                next
            }
            Step::Delete { token } => {
                batch::write(Write::Delete(token)).await?;
                save.deleted()
            }
        }
    }
}

/// The data and version of the active session `token`; none when it is unknown, expired,
/// or a token the store refuses (a forged cookie).
fn find(token: &str) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
    match store::find(token) {
        Ok(found) => Ok(found.map(|session| (session.data, session.version))),
        Err(StoreError::InvalidToken(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `find`'s answer as session-core takes it.
fn as_found(found: &Option<(Vec<u8>, u64)>) -> Option<(&[u8], u64)> {
    found.as_ref().map(|(data, version)| (data.as_slice(), *version))
}

fn store_deadlines(deadlines: Deadlines) -> StoreDeadlines {
    StoreDeadlines { absolute: deadlines.absolute, idle: deadlines.idle_ms }
}

/// A login the store failed, with what the client's cookie must become: the new token if
/// one was obtained before the failure (the old one is then dead), else `Saved::Unchanged`.
pub struct LoginError {
    pub error: StoreError,
    pub saved: Saved,
}

/// Logs `session` in as `user` (see `session_core::Login` for the calls, in order): rotate
/// (or create, labelled `label`, when there is nothing to rotate), set the owner, then save
/// the user value into the new token. The request's token never gets the owner or the
/// user value.
pub async fn login(
    session: &Session,
    user: &str,
    settings: &Settings,
    label: Option<String>,
) -> Result<LoginOutcome, LoginError> {
    let login =
        Login::plan(session, user, now_ms(), settings.idle_timeout, settings.lifetime, label);
    let failed = |error| LoginError { error, saved: Saved::Unchanged };
    let rotated = match login.rotation() {
        Some((token, deadlines)) => {
            store::rotate(token, store_deadlines(deadlines)).map_err(failed)?
        }
        None => None,
    };
    let new = match rotated {
        Some(token) => NewToken::Rotated(token),
        None => {
            let (data, deadlines, label) = login.creation();
            let created = store::create(&data, store_deadlines(deadlines), label.as_deref());
            NewToken::Created(created.map_err(failed)?)
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
    let (mut save, first) = login.save(&new);
    let saved = drive(&mut save, first).await.map_err(failed)?;
    Ok(LoginOutcome::of(saved, &token, expiry))
}

/// The `/devices` body for the session's user; `None` if not logged in.
pub fn devices(session: &Session) -> Result<Option<String>, StoreError> {
    let Some(user) = session.user() else {
        return Ok(None);
    };
    let listed = store::sessions_of(user)?;
    Ok(Some(session_core::devices_json(listed.iter().map(|s| Device {
        id: &s.id,
        expiry: s.expiry,
        created: s.created,
        last_seen: s.last_seen,
        label: s.label.as_deref(),
    }))))
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
