//! A session manager in the style of scs's `SessionManager`: a cookie carries the token,
//! the component stores the session as the record of [`session_core`] (the values as a
//! JSON map, with the absolute deadline), and an optional idle timeout slides with `touch`
//! (no data rewrite).
//!
//! Logout and renewal are final: an existing session is saved with the store's `update`,
//! which never re-creates a session that a concurrent `/destroy` or `/renew` ended; such a
//! save stores nothing and reports [`Saved::EndedMeanwhile`].
//!
//! A logged-in session holds the user's name as its `user` value and is owned by that name
//! in the store ([`SessionManager::login`]); the user's sessions can be listed
//! ([`SessionManager::devices`]) and all but this one ended
//! ([`SessionManager::logout_everywhere`]). The contract is `session_core`'s.

use std::time::Duration;

use session_core::{CookieSpec, Login, NewToken, Plan, DEFAULT_COOKIE_NAME};
pub use session_core::{LoginOutcome, Saved, Session};

use crate::clock::HostClock;
use crate::error::StoreError;
use crate::store::{ComponentStore, SessionInfo};

/// A login the store failed, with what the client's cookie must become: the new token if
/// one was obtained before the failure (the request's old token is then dead), else
/// [`Saved::Unchanged`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginError {
    pub error: StoreError,
    pub saved: Saved,
}

/// Cookie settings and lifetimes.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Cookie name.
    pub cookie_name: String,
    /// Add `Secure` to the cookie (serve over HTTPS only).
    pub secure: bool,
    /// Absolute lifetime from creation; the session ends then, however active. A lifetime
    /// too large to add to the clock saturates (the session never ends), never wraps.
    pub lifetime: Duration,
    /// Ends a session unused for this long; `None` = only the lifetime applies.
    pub idle_timeout: Option<Duration>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            cookie_name: DEFAULT_COOKIE_NAME.into(),
            secure: false,
            lifetime: Duration::from_secs(24 * 3600),
            idle_timeout: None,
        }
    }
}

/// Loads and saves sessions through a [`ComponentStore`].
#[derive(Clone)]
pub struct SessionManager {
    store: ComponentStore,
    config: SessionConfig,
    cookie: CookieSpec,
    clock: HostClock,
}

impl SessionManager {
    pub fn new(store: ComponentStore, config: SessionConfig, clock: HostClock) -> Self {
        let cookie = CookieSpec { name: config.cookie_name.clone(), secure: config.secure };
        SessionManager { store, config, cookie, clock }
    }

    /// The session named by the request's cookie header, or a new empty one when there is
    /// no cookie, the token is malformed, unknown or expired, or the stored data is not a
    /// session record. Errors only when the store cannot answer.
    pub async fn load(&self, cookie_header: Option<&str>) -> Result<Session, StoreError> {
        let now = self.clock.now_ms();
        let Some(token) = cookie_header.and_then(|h| self.cookie.token(h)) else {
            return Ok(Session::fresh(now, self.config.lifetime));
        };
        let found = match self.store.find(token).await {
            Ok(found) => found,
            Err(StoreError::InvalidToken(_)) => None,
            Err(e) => return Err(e),
        };
        Ok(Session::from_store(token, found.as_deref(), now, self.config.lifetime))
    }

    /// Persists what the handler did (see [`Plan`] for the store calls each case makes).
    pub async fn save(&self, session: Session) -> Result<Saved, StoreError> {
        let saved = match session.plan(self.clock.now_ms(), self.config.idle_timeout) {
            Plan::Nothing => Saved::Unchanged,
            Plan::Touch { token, expiry } => match self.store.touch(&token, expiry).await? {
                true => Saved::Live { token, expiry },
                false => Saved::Unchanged,
            },
            Plan::Create { data, expiry } => {
                Saved::Live { token: self.store.create(data, expiry).await?, expiry }
            }
            Plan::Update { token, data, expiry } => {
                match self.store.update(&token, data, expiry).await? {
                    true => Saved::Live { token, expiry },
                    false => Saved::EndedMeanwhile,
                }
            }
            Plan::Renew { old, data, expiry } => match self.store.rotate(&old, expiry).await? {
                Some(token) => match self.store.update(&token, data, expiry).await? {
                    true => Saved::Live { token, expiry },
                    false => Saved::EndedMeanwhile,
                },
                None => Saved::EndedMeanwhile,
            },
            Plan::Delete { token } => {
                self.store.delete(&token).await?;
                Saved::Ended
            }
        };
        Ok(saved)
    }

    /// Logs `session` in as `user`: rotates its token (or creates a fresh session when it
    /// has none or it ended), makes `user` the new token's owner, then stores the session's
    /// values with `user` under it, in that order (see `session_core::Login`): the request's
    /// token never gets the owner or the user value. A name the store refuses is
    /// [`LoginOutcome::NameRefused`], the session rotated and anonymous.
    pub async fn login(&self, session: &Session, user: &str) -> Result<LoginOutcome, LoginError> {
        let now = self.clock.now_ms();
        let login = Login::plan(session, user, now, self.config.idle_timeout, self.config.lifetime);
        let failed = |error| LoginError { error, saved: Saved::Unchanged };
        let rotated = match login.rotation() {
            Some((token, expiry)) => self.store.rotate(token, expiry).await.map_err(failed)?,
            None => None,
        };
        let new = match rotated {
            Some(token) => NewToken::Rotated(token),
            None => {
                let (data, expiry) = login.creation();
                NewToken::Created(self.store.create(data, expiry).await.map_err(failed)?)
            }
        };
        let token = new.token().to_owned();
        let expiry = login.expiry(&new);
        let failed =
            |error| LoginError { error, saved: Saved::Live { token: token.clone(), expiry } };
        match self.store.set_owner(&token, Some(login.user())).await {
            Ok(true) => {}
            Ok(false) => return Ok(LoginOutcome::EndedMeanwhile),
            Err(StoreError::InvalidInput(_)) => {
                return Ok(LoginOutcome::NameRefused { token, expiry })
            }
            Err(e) => return Err(failed(e)),
        }
        let (data, expiry) = login.update(&new);
        match self.store.update(&token, data, expiry).await.map_err(failed)? {
            true => Ok(LoginOutcome::LoggedIn { token, expiry }),
            false => Ok(LoginOutcome::EndedMeanwhile),
        }
    }

    /// The active sessions of the session's user, soonest expiry first; `None` if the
    /// session is not logged in.
    pub async fn devices(&self, session: &Session) -> Result<Option<Vec<SessionInfo>>, StoreError> {
        match session.user() {
            Some(user) => self.store.sessions_of(user).await.map(Some),
            None => Ok(None),
        }
    }

    /// Ends every other session of the session's user (this one stays) and returns how
    /// many ended; `None` if the session is not logged in.
    pub async fn logout_everywhere(&self, session: &Session) -> Result<Option<u64>, StoreError> {
        match session.user() {
            Some(user) => self.store.revoke_owner(user, session.token()).await.map(Some),
            None => Ok(None),
        }
    }

    /// The `Set-Cookie` value that tells the client what `saved` did, if any.
    pub fn set_cookie(&self, saved: &Saved) -> Option<String> {
        self.cookie.set_cookie(saved, self.clock.now_ms())
    }

    /// The `Set-Cookie` value that makes the client forget its session.
    pub fn clear_cookie(&self) -> String {
        self.cookie.clear()
    }
}
