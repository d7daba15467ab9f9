//! A session manager in the style of scs's `SessionManager`: a cookie carries the token,
//! the component stores the session as the record of [`session_core`] (the values as a
//! JSON map, with the absolute deadline), and an optional idle timeout slides with `touch`
//! (no data rewrite).
//!
//! Logout and renewal are final: an existing session is saved with the store's `update`,
//! which never re-creates a session that a concurrent `/destroy` or `/renew` ended; such a
//! save stores nothing and reports [`Saved::EndedMeanwhile`].

use std::time::Duration;

use session_core::{CookieSpec, Plan, DEFAULT_COOKIE_NAME};
pub use session_core::{Saved, Session};

use crate::clock::HostClock;
use crate::error::StoreError;
use crate::store::ComponentStore;

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
            Plan::Create { data, expiry } => Saved::Live { token: self.store.create(data, expiry).await?, expiry },
            Plan::Update { token, data, expiry } => match self.store.update(&token, data, expiry).await? {
                true => Saved::Live { token, expiry },
                false => Saved::EndedMeanwhile,
            },
            Plan::Renew { old, data, expiry } => match self.store.update(&old, Vec::new(), 0).await? {
                true => Saved::Live { token: self.store.create(data, expiry).await?, expiry },
                false => Saved::EndedMeanwhile,
            },
            Plan::Delete { token } => {
                self.store.delete(&token).await?;
                Saved::Ended
            }
        };
        Ok(saved)
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
