//! One request's session, and the pure decision of what saving it takes.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::record::Record;
use crate::time::offset;

/// What the request's handler did to its session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Status {
    /// Only read (or not touched at all).
    #[default]
    Unmodified,
    /// A value was put.
    Modified,
    /// The session is to move to a new token (login: against session fixation).
    Renewed,
    /// The session is to end (logout).
    Destroyed,
}

/// One request's session: its token (none for a fresh session), its record and status.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    token: Option<String>,
    record: Record,
    status: Status,
}

/// The store call(s) a save takes; times are ms since the Unix epoch. The host runs them
/// and reports what happened as a [`Saved`]:
///
/// | plan | store call(s) | [`Saved`] |
/// |---|---|---|
/// | `Nothing` | none | `Unchanged` |
/// | `Touch` | `touch(token, expiry)` | true → `Live{token}`; false → `Unchanged` |
/// | `Create` | `create(data, expiry)` → token | `Live{token}` |
/// | `Update` | `update(token, data, expiry)` | true → `Live{token}`; false → `EndedMeanwhile` |
/// | `Renew` | `rotate(old, expiry)` → token, then `update(token, data, expiry)` | true → `Live{token}`; rotate none or update false → `EndedMeanwhile` |
/// | `Delete` | `delete(token)` | `Ended` |
///
/// An existing session is never saved with `commit` (an upsert): a save racing a logout
/// or a renewal would bring the ended token back. `update` changes only an active session.
/// `rotate` moves an active session to a new token in one transaction, owner included, so
/// a renewed login stays its user's (listed by `sessions-of`, ended by `revoke-owner`), and
/// of two renewals of one token only one gets a successor. If the `update` after it fails,
/// the new token holds the session as it was before this request (the old one is dead
/// either way); the client, which never learns the new token, logs in again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing to store.
    Nothing,
    /// Slide the idle timeout of an unchanged session, without rewriting its data.
    Touch { token: String, expiry: u64 },
    /// Store a new session under a token the store draws.
    Create { data: Vec<u8>, expiry: u64 },
    /// Replace an existing session's data and expiry, if it is still active.
    Update { token: String, data: Vec<u8>, expiry: u64 },
    /// Move `old`, if still active, to a new token (owner kept), then store the data there.
    Renew { old: String, data: Vec<u8>, expiry: u64 },
    /// End the session.
    Delete { token: String },
}

/// What a save did, as far as the client is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// Nothing the client must learn: no `Set-Cookie`.
    Unchanged,
    /// The session lives under `token` until `expiry`: the client gets that cookie.
    Live { token: String, expiry: u64 },
    /// This request ended the session: the cookie is cleared.
    Ended,
    /// The session had ended (a concurrent logout or renewal, or its expiry) before this
    /// request could save it: nothing was stored, the cookie is cleared, and the answer
    /// is [`Failure::SessionEnded`](crate::Failure::SessionEnded) (409).
    EndedMeanwhile,
}

impl Session {
    /// A new, empty session of the request that has none; it ends `lifetime` after
    /// `now_ms` (saturating: a huge lifetime never wraps into the past).
    pub fn fresh(now_ms: u64, lifetime: Duration) -> Session {
        Session {
            token: None,
            record: Record { deadline: offset(now_ms, lifetime), values: Map::new() },
            status: Status::Unmodified,
        }
    }

    /// The session a cookie named: `found` is the store's `find` answer for `token`. No
    /// data, or data that is not a session [`Record`], gives a fresh session (the token is
    /// not adopted).
    pub fn from_store(
        token: &str,
        found: Option<&[u8]>,
        now_ms: u64,
        lifetime: Duration,
    ) -> Session {
        match found.and_then(Record::decode) {
            Some(record) => {
                Session { token: Some(token.to_owned()), record, status: Status::Unmodified }
            }
            None => Session::fresh(now_ms, lifetime),
        }
    }

    /// The token of an existing session; `None` for a fresh one.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The session's absolute end, ms since the Unix epoch.
    pub fn deadline(&self) -> u64 {
        self.record.deadline
    }

    pub fn status(&self) -> Status {
        self.status
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.record.values.get(key)
    }

    /// The logged-in user: the string value of [`USER_KEY`](crate::USER_KEY), if any.
    pub fn user(&self) -> Option<&str> {
        self.get(crate::USER_KEY).and_then(Value::as_str)
    }

    /// The expiry a save of this session at `now_ms` writes: its deadline, or sooner with an
    /// idle timeout (never past the deadline).
    pub fn expiry(&self, now_ms: u64, idle_timeout: Option<Duration>) -> u64 {
        match idle_timeout {
            Some(idle) => self.record.deadline.min(offset(now_ms, idle)),
            None => self.record.deadline,
        }
    }

    /// The session's record (deadline and values).
    pub(crate) fn record(&self) -> &Record {
        &self.record
    }

    /// Sets a value (a destroyed session stays destroyed).
    pub fn put(&mut self, key: &str, value: impl Into<Value>) {
        if self.status == Status::Destroyed {
            return;
        }
        self.record.values.insert(key.to_owned(), value.into());
        if self.status == Status::Unmodified {
            self.status = Status::Modified;
        }
    }

    /// Gives the session a new token with the same data; the old token stops working. Use
    /// it at privilege changes (login) against session fixation. A destroyed session stays
    /// destroyed.
    pub fn renew(&mut self) {
        if self.status != Status::Destroyed {
            self.status = Status::Renewed;
        }
    }

    /// Ends the session: its data is deleted and the cookie cleared.
    pub fn destroy(&mut self) {
        self.record.values.clear();
        self.status = Status::Destroyed;
    }

    /// What saving this session at `now_ms` takes. `idle_timeout`: a session unused that
    /// long ends (its expiry slides with each request, never past the deadline); `None` =
    /// only the absolute deadline applies.
    pub fn plan(self, now_ms: u64, idle_timeout: Option<Duration>) -> Plan {
        let expiry = self.expiry(now_ms, idle_timeout);
        match (self.status, self.token) {
            (Status::Unmodified, Some(token)) if idle_timeout.is_some() => {
                Plan::Touch { token, expiry }
            }
            (Status::Unmodified | Status::Destroyed, None) | (Status::Unmodified, Some(_)) => {
                Plan::Nothing
            }
            (Status::Destroyed, Some(token)) => Plan::Delete { token },
            (Status::Modified | Status::Renewed, None) => {
                Plan::Create { data: self.record.encode(), expiry }
            }
            (Status::Modified, Some(token)) => {
                Plan::Update { token, data: self.record.encode(), expiry }
            }
            (Status::Renewed, Some(old)) => Plan::Renew { old, data: self.record.encode(), expiry },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_767_225_600_000;
    const HOUR: Duration = Duration::from_secs(3600);
    const MIN: Duration = Duration::from_secs(60);

    fn stored(deadline: u64, message: &str) -> Vec<u8> {
        let mut values = Map::new();
        values.insert("message".into(), Value::from(message));
        Record { deadline, values }.encode()
    }

    fn existing(deadline: u64) -> Session {
        Session::from_store("tok", Some(&stored(deadline, "hi")), NOW, HOUR)
    }

    #[test]
    fn a_fresh_session_is_empty_tokenless_and_ends_after_its_lifetime() {
        let s = Session::fresh(NOW, HOUR);
        assert_eq!(
            (s.token(), s.deadline(), s.status(), s.get("message")),
            (None, NOW + 3_600_000, Status::Unmodified, None)
        );
    }

    #[test]
    fn a_stored_record_becomes_the_session_of_its_token() {
        let s = existing(NOW + 5000);
        assert_eq!((s.token(), s.deadline()), (Some("tok"), NOW + 5000));
        assert_eq!(s.get("message"), Some(&Value::from("hi")));
    }

    #[test]
    fn no_data_or_foreign_data_gives_a_fresh_session_without_adopting_the_token() {
        for found in [None, Some(&b"garbage"[..]), Some(&b"{}"[..])] {
            let s = Session::from_store("forged", found, NOW, HOUR);
            assert_eq!(s, Session::fresh(NOW, HOUR), "{found:?}");
        }
    }

    #[test]
    fn an_unchanged_session_stores_nothing_without_an_idle_timeout() {
        assert_eq!(existing(NOW + 5000).plan(NOW, None), Plan::Nothing);
        assert_eq!(Session::fresh(NOW, HOUR).plan(NOW, None), Plan::Nothing);
        assert_eq!(
            Session::fresh(NOW, HOUR).plan(NOW, Some(MIN)),
            Plan::Nothing,
            "nothing to touch"
        );
    }

    #[test]
    fn an_idle_timeout_touches_an_unchanged_session_never_past_its_deadline() {
        let far = NOW + 3_600_000;
        assert_eq!(
            existing(far).plan(NOW, Some(MIN)),
            Plan::Touch { token: "tok".into(), expiry: NOW + 60_000 }
        );
        assert_eq!(
            existing(NOW + 1000).plan(NOW, Some(MIN)),
            Plan::Touch { token: "tok".into(), expiry: NOW + 1000 }
        );
        assert_eq!(
            existing(far).plan(NOW, Some(Duration::MAX)),
            Plan::Touch { token: "tok".into(), expiry: far },
            "a huge idle timeout saturates, it does not wrap"
        );
    }

    #[test]
    fn a_changed_existing_session_is_updated_never_upserted() {
        let mut s = existing(NOW + 5000);
        s.put("message", "new");
        let Plan::Update { token, data, expiry } = s.plan(NOW, None) else {
            panic!("not an update")
        };
        assert_eq!((token.as_str(), expiry), ("tok", NOW + 5000));
        assert_eq!(Record::decode(&data).expect("record").values["message"], "new");
    }

    #[test]
    fn a_changed_fresh_session_is_created() {
        let mut s = Session::fresh(NOW, HOUR);
        s.put("message", "hello");
        assert_eq!(
            s.plan(NOW, Some(MIN)),
            Plan::Create { data: stored(NOW + 3_600_000, "hello"), expiry: NOW + 60_000 }
        );
    }

    #[test]
    fn renewing_an_existing_session_ends_the_old_token_and_carries_the_data() {
        let mut s = existing(NOW + 5000);
        s.renew();
        s.put("more", 1);
        let Plan::Renew { old, data, expiry } = s.plan(NOW, None) else { panic!("not a renewal") };
        assert_eq!((old.as_str(), expiry), ("tok", NOW + 5000));
        let record = Record::decode(&data).expect("record");
        assert_eq!(
            (record.values["message"].as_str(), record.values["more"].as_i64()),
            (Some("hi"), Some(1))
        );
        let mut fresh = Session::fresh(NOW, HOUR);
        fresh.renew();
        assert!(
            matches!(fresh.plan(NOW, None), Plan::Create { .. }),
            "a fresh session has no old token"
        );
    }

    #[test]
    fn destroying_deletes_an_existing_session_and_stays_final_within_the_request() {
        let mut s = existing(NOW + 5000);
        s.destroy();
        s.put("message", "after");
        s.renew();
        assert_eq!(s.get("message"), None);
        assert_eq!(s.plan(NOW, Some(MIN)), Plan::Delete { token: "tok".into() });
        let mut fresh = Session::fresh(NOW, HOUR);
        fresh.destroy();
        assert_eq!(fresh.plan(NOW, None), Plan::Nothing);
    }
}
