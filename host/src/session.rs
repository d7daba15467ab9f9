//! A session manager in the style of scs's `SessionManager`: a cookie carries the token,
//! the component stores the session as the record of [`session_core`] (the values as a
//! JSON map, with the absolute deadline), with both deadlines and a version kept by the
//! store itself (its 0.3 interface): a read slides the idle timeout without a write per
//! request, and an existing session is written only by the conditional update.
//!
//! No lost updates: a save that another request beat re-reads the session and puts its own
//! values over the newer ones (`session_core::Save`); one session's saves in this process
//! take turns ([`crate::turns`]). Logout and renewal are final: a save that finds its
//! session gone stores nothing and reports [`Saved::EndedMeanwhile`].
//!
//! A logged-in session holds the user's name as its `user` value and is owned by that name
//! in the store ([`SessionManager::login`]); the user's sessions can be listed with their
//! device data ([`SessionManager::devices`]) and all but this one ended
//! ([`SessionManager::logout_everywhere`]). The contract is `session_core`'s.

use std::sync::Arc;
use std::time::Duration;

use session_core::{device_label, CookieSpec, Login, NewToken, Save, Step, DEFAULT_COOKIE_NAME};
pub use session_core::{LoginOutcome, Saved, Session};

use crate::clock::HostClock;
use crate::error::StoreError;
use crate::store::{ComponentStore, Deadlines, Device};
use crate::turns::Turns;

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
    /// Ends a session unused for this long (the store slides it on reads and writes, to
    /// within `SESSIONS_LAST_SEEN_INTERVAL`); `None` = only the lifetime applies.
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
    turns: Arc<Turns>,
}

impl SessionManager {
    pub fn new(store: ComponentStore, config: SessionConfig, clock: HostClock) -> Self {
        let cookie = CookieSpec { name: config.cookie_name.clone(), secure: config.secure };
        SessionManager { store, config, cookie, clock, turns: Arc::default() }
    }

    /// The session named by the request's cookie header, or a new empty one when there is
    /// no cookie, the token is malformed, unknown or expired, or the stored data is not a
    /// session record. Errors only when the store cannot answer.
    pub async fn load(&self, cookie_header: Option<&str>) -> Result<Session, StoreError> {
        let now = self.clock.now_ms();
        let Some(token) = cookie_header.and_then(|h| self.cookie.token(h)) else {
            return Ok(Session::fresh(now, self.config.lifetime));
        };
        let found = match self.store.load(token).await {
            Ok(found) => found,
            Err(StoreError::InvalidToken(_)) => None,
            Err(e) => return Err(e),
        };
        let found = found.as_ref().map(|s| (s.data.as_slice(), s.version));
        Ok(Session::from_store(token, found, now, self.config.lifetime))
    }

    /// Persists what the handler did (see `session_core::Save` for the store calls).
    /// `user_agent`: the request's `User-Agent`, which labels a new session on `/devices`.
    pub async fn save(
        &self,
        session: Session,
        user_agent: Option<&str>,
    ) -> Result<Saved, StoreError> {
        let _turn = match session.token() {
            Some(token) => Some(self.turns.take(token).await),
            None => None,
        };
        let label = user_agent.and_then(device_label);
        let mut save = session.save(self.config.idle_timeout, label);
        let first = save.first();
        self.run(&mut save, first).await
    }

    /// Makes the store call of each step, from `step` on, until the save is done.
    async fn run(&self, save: &mut Save, mut step: Step) -> Result<Saved, StoreError> {
        loop {
            step = match step {
                Step::Done(saved) => return Ok(saved),
                Step::Create { data, deadlines, label } => {
                    let deadlines = store_deadlines(deadlines);
                    save.created(self.store.create_with(data, deadlines, label.as_deref()).await?)
                }
                Step::Rotate { token, deadlines } => {
                    save.rotated(self.store.rotate_with(&token, store_deadlines(deadlines)).await?)
                }
                Step::Find { token } => {
                    let found = self.store.load(&token).await?;
                    save.found(found.as_ref().map(|s| (s.data.as_slice(), s.version)))
                }
                Step::Update { token, data, version } => {
                    save.updated(self.store.update_if(&token, data, version).await?)
                }
                Step::Delete { token } => {
                    self.store.delete(&token).await?;
                    save.deleted()
                }
            }
        }
    }

    /// Logs `session` in as `user`: rotates its token (or creates a fresh session when it
    /// has none or it ended), makes `user` the new token's owner, then saves the session's
    /// values with `user` into it, in that order (see `session_core::Login`): the request's
    /// token never gets the owner or the user value. A name the store refuses is
    /// [`LoginOutcome::NameRefused`], the session rotated and anonymous.
    pub async fn login(
        &self,
        session: &Session,
        user: &str,
        user_agent: Option<&str>,
    ) -> Result<LoginOutcome, LoginError> {
        let now = self.clock.now_ms();
        let label = user_agent.and_then(device_label);
        let (idle, lifetime) = (self.config.idle_timeout, self.config.lifetime);
        let login = Login::plan(session, user, now, idle, lifetime, label);
        let failed = |error| LoginError { error, saved: Saved::Unchanged };
        let rotated = match login.rotation() {
            Some((token, deadlines)) => {
                self.store.rotate_with(token, store_deadlines(deadlines)).await.map_err(failed)?
            }
            None => None,
        };
        let new = match rotated {
            Some(token) => NewToken::Rotated(token),
            None => {
                let (data, deadlines, label) = login.creation();
                let created =
                    self.store.create_with(data, store_deadlines(deadlines), label.as_deref());
                NewToken::Created(created.await.map_err(failed)?)
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
        let (mut save, first) = login.save(&new);
        let saved = self.run(&mut save, first).await.map_err(failed)?;
        Ok(LoginOutcome::of(saved, &token, expiry))
    }

    /// The active sessions of the session's user with their device data, soonest expiry
    /// first; `None` if the session is not logged in.
    pub async fn devices(&self, session: &Session) -> Result<Option<Vec<Device>>, StoreError> {
        match session.user() {
            Some(user) => self.store.devices(user).await.map(Some),
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

/// The deadlines of `session_core` as the store takes them.
fn store_deadlines(deadlines: session_core::Deadlines) -> Deadlines {
    Deadlines { absolute: deadlines.absolute, idle: deadlines.idle_ms }
}
