//! Sessions on top of the imported store, with the semantics of the host example's
//! session manager: the cookie carries the token, the store keeps the values as a JSON
//! map, and the lifetime is absolute (it does not slide).
//!
//! A forged, malformed, unknown or expired token never becomes a session: the request
//! starts a fresh one, and saving it draws a new token (`create`), so a client cannot pick
//! its own token (no session fixation).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::bindings::edge::sessions::store;
use crate::bindings::edge::sessions::types::Error as StoreError;
use crate::cookie;

/// One request's session.
#[derive(Debug, Default)]
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

/// The stored form of a session (shared with host-example): the deadline travels with the
/// values.
#[derive(Serialize, Deserialize)]
struct Record {
    deadline: u64,
    values: Map<String, Value>,
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

    /// A new token for the same data; the old token stops working.
    pub fn renew(&mut self) {
        self.status = Status::Renewed;
    }

    /// Ends the session: its data is deleted and the cookie cleared.
    pub fn destroy(&mut self) {
        self.values.clear();
        self.status = Status::Destroyed;
    }
}

/// Loads the session named by the `Cookie:` header, or a fresh one (deadline = now +
/// `lifetime`) when there is none or it is not a live session. Errors only when the store
/// cannot answer.
pub fn load(cookie_header: Option<&str>, lifetime: Duration) -> Result<Session, StoreError> {
    let fresh = Session {
        deadline: now_ms().saturating_add(ms(lifetime)),
        ..Session::default()
    };
    let Some(token) = cookie_header.and_then(cookie::token) else {
        return Ok(fresh);
    };
    let found = match store::find(token) {
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

/// Persists what the handler did; returns the `Set-Cookie` value to send, if any.
pub fn save(session: Session) -> Result<Option<String>, StoreError> {
    let deadline = session.deadline;
    match (session.status, session.token) {
        (Status::Unmodified, _) | (Status::Destroyed, None) => Ok(None),
        (Status::Destroyed, Some(token)) => {
            store::delete(&token)?;
            Ok(Some(cookie::clear()))
        }
        (Status::Modified, Some(token)) => {
            store::commit(&token, &encode(deadline, &session.values)?, deadline)?;
            Ok(Some(cookie::set(&token, max_age_s(deadline))))
        }
        (Status::Modified | Status::Renewed, None) => {
            let token = store::create(&encode(deadline, &session.values)?, deadline)?;
            Ok(Some(cookie::set(&token, max_age_s(deadline))))
        }
        (Status::Renewed, Some(old)) => {
            let token = store::create(&encode(deadline, &session.values)?, deadline)?;
            store::delete(&old)?;
            Ok(Some(cookie::set(&token, max_age_s(deadline))))
        }
    }
}

fn encode(deadline: u64, values: &Map<String, Value>) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(&Record {
        deadline,
        values: values.clone(),
    })
    .map_err(|e| StoreError::Storage(format!("cannot encode the session: {e}")))
}

fn max_age_s(deadline: u64) -> u64 {
    deadline.saturating_sub(now_ms()) / 1000
}

/// Wall-clock time in ms since the epoch, from `wasi:clocks/wall-clock` (the host's clock,
/// the same one the store compares expiries against).
fn now_ms() -> u64 {
    let now = wasip2::clocks::wall_clock::now();
    now.seconds
        .saturating_mul(1000)
        .saturating_add(u64::from(now.nanoseconds / 1_000_000))
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
