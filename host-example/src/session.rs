//! A session manager in the style of scs's `SessionManager`: a cookie carries the token,
//! the component stores the session's values as a JSON map, the lifetime is absolute and
//! an optional idle timeout slides with `touch` (no data rewrite).

use std::time::Duration;

use serde_json::{Map, Value};

use crate::clock::HostClock;
use crate::error::StoreError;
use crate::store::SessionStore;

/// Cookie settings and lifetimes.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Cookie name.
    pub cookie_name: String,
    /// Add `Secure` to the cookie (serve over HTTPS only).
    pub secure: bool,
    /// Absolute lifetime from creation; the session ends then, however active.
    pub lifetime: Duration,
    /// Ends a session unused for this long; `None` = only the lifetime applies.
    pub idle_timeout: Option<Duration>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            cookie_name: "session".into(),
            secure: false,
            lifetime: Duration::from_secs(24 * 3600),
            idle_timeout: None,
        }
    }
}

/// One request's session.
#[derive(Debug, Clone, Default)]
pub struct Session {
    token: Option<String>,
    /// Absolute end of the session, ms since the epoch.
    deadline: u64,
    values: Map<String, Value>,
    status: Status,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Status {
    #[default]
    Unmodified,
    Modified,
    Renewed,
    Destroyed,
}

impl Session {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    pub fn put(&mut self, key: &str, value: impl Into<Value>) {
        self.values.insert(key.to_owned(), value.into());
        if self.status == Status::Unmodified {
            self.status = Status::Modified;
        }
    }

    /// Gives the session a new token (same data); the old token stops working. Use it at
    /// privilege changes (login) against session fixation.
    pub fn renew(&mut self) {
        self.status = Status::Renewed;
    }

    /// Ends the session: its data is deleted and the cookie cleared.
    pub fn destroy(&mut self) {
        self.values.clear();
        self.status = Status::Destroyed;
    }
}

/// Loads and saves sessions through a [`SessionStore`].
#[derive(Clone)]
pub struct SessionManager {
    store: SessionStore,
    config: SessionConfig,
    clock: HostClock,
}

/// The stored form of a session: the absolute deadline travels with the values so that a
/// touch never extends a session past its lifetime.
#[derive(serde::Serialize, serde::Deserialize)]
struct Record {
    deadline: u64,
    values: Map<String, Value>,
}

impl SessionManager {
    pub fn new(store: SessionStore, config: SessionConfig, clock: HostClock) -> Self {
        SessionManager { store, config, clock }
    }

    /// The session named by the request's cookie header, or a new empty one when there is
    /// no cookie, the token is malformed, unknown or expired, or the stored data is not a
    /// session record. Errors only when the store cannot answer.
    pub async fn load(&self, cookie_header: Option<&str>) -> Result<Session, StoreError> {
        let fresh = Session { deadline: self.clock.now_ms() + ms(self.config.lifetime), ..Session::default() };
        let Some(token) = cookie_header.and_then(|h| cookie_value(h, &self.config.cookie_name)) else {
            return Ok(fresh);
        };
        let found = match self.store.find(token).await {
            Ok(found) => found,
            Err(StoreError::InvalidToken(_)) => return Ok(fresh),
            Err(e) => return Err(e),
        };
        match found.and_then(|data| serde_json::from_slice::<Record>(&data).ok()) {
            Some(record) => Ok(Session {
                token: Some(token.to_owned()),
                deadline: record.deadline,
                values: record.values,
                status: Status::Unmodified,
            }),
            None => Ok(fresh),
        }
    }

    /// Persists what the handler did and returns the `Set-Cookie` value to send, if any.
    pub async fn save(&self, session: Session) -> Result<Option<String>, StoreError> {
        let expiry = self.expiry(session.deadline);
        match (session.status, session.token) {
            (Status::Destroyed, Some(token)) => {
                self.store.delete(&token).await?;
                Ok(Some(self.clear_cookie()))
            }
            (Status::Destroyed, None) => Ok(None),
            (Status::Unmodified, None) => Ok(None),
            (Status::Unmodified, Some(token)) => match self.config.idle_timeout {
                // Sliding idle timeout: move the expiry, leave the data alone.
                Some(_) if self.store.touch(&token, expiry).await? => Ok(Some(self.cookie(&token, expiry))),
                _ => Ok(None),
            },
            (Status::Modified, Some(token)) => {
                self.store.commit(&token, encode(session.deadline, &session.values)?, expiry).await?;
                Ok(Some(self.cookie(&token, expiry)))
            }
            (Status::Modified | Status::Renewed, None) => {
                let token = self.store.create(encode(session.deadline, &session.values)?, expiry).await?;
                Ok(Some(self.cookie(&token, expiry)))
            }
            (Status::Renewed, Some(old)) => {
                let token = self.store.create(encode(session.deadline, &session.values)?, expiry).await?;
                self.store.delete(&old).await?;
                Ok(Some(self.cookie(&token, expiry)))
            }
        }
    }

    fn expiry(&self, deadline: u64) -> u64 {
        match self.config.idle_timeout {
            Some(idle) => deadline.min(self.clock.now_ms() + ms(idle)),
            None => deadline,
        }
    }

    fn cookie(&self, token: &str, expiry: u64) -> String {
        let max_age = expiry.saturating_sub(self.clock.now_ms()).div_ceil(1000);
        let secure = if self.config.secure { "; Secure" } else { "" };
        format!("{}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}", self.config.cookie_name)
    }

    fn clear_cookie(&self) -> String {
        let secure = if self.config.secure { "; Secure" } else { "" };
        format!("{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}", self.config.cookie_name)
    }
}

fn encode(deadline: u64, values: &Map<String, Value>) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(&Record { deadline, values: values.clone() })
        .map_err(|e| StoreError::Storage(format!("cannot encode the session: {e}")))
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The value of cookie `name` in a `Cookie:` header (`a=1; b=2`), if present.
fn cookie_value<'h>(header: &'h str, name: &str) -> Option<&'h str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_values_are_found_among_others() {
        assert_eq!(cookie_value("a=1; session=tok; b=2", "session"), Some("tok"));
        assert_eq!(cookie_value("session=", "session"), Some(""));
        assert_eq!(cookie_value("sessionx=1", "session"), None);
        assert_eq!(cookie_value("garbage", "session"), None);
    }
}
