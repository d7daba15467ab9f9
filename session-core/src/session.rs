//! One request's session: what the handler read and changed, and the store calls that
//! save it ([`Save`], a sans-I/O state machine every host drives the same way).

use std::time::Duration;

use serde_json::{Map, Value};

use crate::record::Record;
use crate::time::{millis, offset};

/// How many conditional updates one save tries before it gives up with
/// [`Saved::Conflict`]: each failed one means another request saved the session first.
pub const SAVE_ATTEMPTS: u32 = 10;

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

/// One request's session: its token and the version it was read at (none for a fresh
/// session), its record, its status, and the values this request put.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// The token and the version it was read at.
    stored: Option<(String, u64)>,
    record: Record,
    status: Status,
    /// The values this request put, re-applied over a newer stored record on a conflict.
    changes: Map<String, Value>,
}

/// The store's deadlines of a new or rotated session: the absolute end, and the idle
/// timeout the store slides the expiry by (ms; none: only the absolute end applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    pub absolute: u64,
    pub idle_ms: Option<u64>,
}

/// What a save did, as far as the client is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// Nothing the client must learn: no `Set-Cookie`.
    Unchanged,
    /// The session lives under `token`, at most until `expiry` (its absolute deadline; the
    /// store ends it sooner after its idle timeout): the client gets that cookie.
    Live { token: String, expiry: u64 },
    /// This request ended the session: the cookie is cleared.
    Ended,
    /// The session had ended (a concurrent logout or renewal, or its expiry) before this
    /// request could save it: nothing was stored, the cookie is cleared, and the answer
    /// is [`Failure::SessionEnded`](crate::Failure::SessionEnded) (409).
    EndedMeanwhile,
    /// Other requests saved the session [`SAVE_ATTEMPTS`] times while this one tried to:
    /// nothing of this request was stored, the session lives on unchanged by it, and the
    /// answer is [`Failure::Conflict`](crate::Failure::Conflict) (409; retrying works).
    Conflict,
}

impl Session {
    /// A new, empty session of the request that has none; it ends `lifetime` after
    /// `now_ms` (saturating: a huge lifetime never wraps into the past).
    pub fn fresh(now_ms: u64, lifetime: Duration) -> Session {
        Session {
            stored: None,
            record: Record { deadline: offset(now_ms, lifetime), values: Map::new() },
            status: Status::Unmodified,
            changes: Map::new(),
        }
    }

    /// The session a cookie named: `found` is the store's `find` answer for `token`, its
    /// data and version. No session, or data that is not a session [`Record`], gives a
    /// fresh session (the token is not adopted).
    pub fn from_store(
        token: &str,
        found: Option<(&[u8], u64)>,
        now_ms: u64,
        lifetime: Duration,
    ) -> Session {
        match found.and_then(|(data, version)| Some((Record::decode(data)?, version))) {
            Some((record, version)) => Session {
                stored: Some((token.to_owned(), version)),
                record,
                status: Status::Unmodified,
                changes: Map::new(),
            },
            None => Session::fresh(now_ms, lifetime),
        }
    }

    /// The token of an existing session; `None` for a fresh one.
    pub fn token(&self) -> Option<&str> {
        self.stored.as_ref().map(|(token, _)| token.as_str())
    }

    /// The stored version this session was read at; `None` for a fresh one.
    pub fn version(&self) -> Option<u64> {
        self.stored.as_ref().map(|(_, version)| *version)
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

    /// The value of `key` as `/get?key=K` answers it: a string as it is, another JSON value
    /// as JSON, empty when there is none.
    pub fn text(&self, key: &str) -> String {
        match self.get(key) {
            Some(Value::String(text)) => text.clone(),
            Some(value) => value.to_string(),
            None => String::new(),
        }
    }

    /// The logged-in user: the string value of [`USER_KEY`](crate::USER_KEY), if any.
    pub fn user(&self) -> Option<&str> {
        self.get(crate::USER_KEY).and_then(Value::as_str)
    }

    /// The deadlines the store keeps for this session when it is created or rotated.
    pub fn deadlines(&self, idle_timeout: Option<Duration>) -> Deadlines {
        Deadlines { absolute: self.record.deadline, idle_ms: idle_timeout.map(millis) }
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
        let value = value.into();
        self.record.values.insert(key.to_owned(), value.clone());
        self.changes.insert(key.to_owned(), value);
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
        self.changes.clear();
        self.status = Status::Destroyed;
    }

    /// The record stored now (`data`) with this request's own values put over it; none if
    /// `data` is not a session record.
    fn rebased(&self, data: &[u8]) -> Option<Record> {
        let mut record = Record::decode(data)?;
        record.values.extend(self.changes.clone());
        Some(record)
    }

    /// Saving this session: the store calls it takes, one [`Step`] at a time. `idle_timeout`:
    /// a session unused that long ends (the store slides its expiry on reads and writes,
    /// never past the deadline); `label`: what a new session is listed as on `/devices`.
    pub fn save(self, idle_timeout: Option<Duration>, label: Option<String>) -> Save {
        Save {
            deadlines: self.deadlines(idle_timeout),
            token: self.token().map(str::to_owned),
            session: self,
            label,
            attempts: 0,
        }
    }
}

/// Saving one request's session. [`Save::first`] gives the first store call; the host
/// makes each call and hands its answer to the matching method, which gives the next
/// [`Step`], until [`Step::Done`]:
///
/// | step | store call | answer → next step |
/// |---|---|---|
/// | `Create` | `create(data, deadlines, label)` → T | [`Save::created`]: `Done(Live{T})` |
/// | `Rotate` | `rotate(old, deadlines)` → T? | [`Save::rotated`]: none → `Done(EndedMeanwhile)`; T → `Done(Live{T})`, or `Find{T}` when this request put values |
/// | `Find` | `find(T)` → (data, version)? | [`Save::found`]: none → `Done(EndedMeanwhile)`; else `Update` of the stored values with this request's put over them |
/// | `Update` | `update(T, data, version)` → new version? | [`Save::updated`]: some → `Done(Live{T})`; none → `Find{T}`, at most [`SAVE_ATTEMPTS`] updates, then `Done(Conflict)` |
/// | `Delete` | `delete(T)` | [`Save::deleted`]: `Done(Ended)` |
///
/// An existing session is only ever written by the conditional `update`: a save that
/// raced another request's save re-applies its own values over the newer ones (no lost
/// update), and one that raced a logout or renewal stores nothing (they stay final).
#[derive(Debug, Clone, PartialEq)]
pub struct Save {
    session: Session,
    /// The token the next call is about: the request's, then the one `rotate` gave.
    token: Option<String>,
    deadlines: Deadlines,
    label: Option<String>,
    attempts: u32,
}

/// The next store call of a [`Save`], or what the save did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Create { data: Vec<u8>, deadlines: Deadlines, label: Option<String> },
    Rotate { token: String, deadlines: Deadlines },
    Find { token: String },
    Update { token: String, data: Vec<u8>, version: u64 },
    Delete { token: String },
    Done(Saved),
}

impl Save {
    /// The first store call (or `Done(Unchanged)`: a session only read stores nothing;
    /// the store's `find` already recorded the read).
    pub fn first(&self) -> Step {
        let s = &self.session;
        match (s.status, &s.stored) {
            (Status::Unmodified, _) | (Status::Destroyed, None) => Step::Done(Saved::Unchanged),
            (Status::Destroyed, Some((token, _))) => Step::Delete { token: token.clone() },
            (Status::Modified | Status::Renewed, None) => Step::Create {
                data: s.record.encode(),
                deadlines: self.deadlines,
                label: self.label.clone(),
            },
            (Status::Modified, Some((token, version))) => {
                Step::Update { token: token.clone(), data: s.record.encode(), version: *version }
            }
            (Status::Renewed, Some((token, _))) => {
                Step::Rotate { token: token.clone(), deadlines: self.deadlines }
            }
        }
    }

    /// The save of `session`'s values into the stored session `token` (with `deadlines`),
    /// from its first step, `find(token)`.
    pub(crate) fn resume(session: Session, token: &str, deadlines: Deadlines) -> (Save, Step) {
        let save =
            Save { session, token: Some(token.to_owned()), deadlines, label: None, attempts: 0 };
        (save, Step::Find { token: token.to_owned() })
    }

    /// `create` stored the session under `token`.
    pub fn created(&mut self, token: String) -> Step {
        self.live(token)
    }

    /// `rotate` moved the session to `token` (none: it had ended).
    pub fn rotated(&mut self, token: Option<String>) -> Step {
        match token {
            None => Step::Done(Saved::EndedMeanwhile),
            Some(token) if self.session.changes.is_empty() => self.live(token),
            Some(token) => {
                self.token = Some(token.clone());
                Step::Find { token }
            }
        }
    }

    /// `find` answered `found`: the data and version stored now (none: the session ended).
    pub fn found(&mut self, found: Option<(&[u8], u64)>) -> Step {
        let rebased =
            found.and_then(|(data, version)| Some((self.session.rebased(data)?, version)));
        match (rebased, &self.token) {
            (Some((record, version)), Some(token)) => {
                Step::Update { token: token.clone(), data: record.encode(), version }
            }
            _ => Step::Done(Saved::EndedMeanwhile),
        }
    }

    /// `update` applied (`true`), or found a newer version or no session (`false`).
    pub fn updated(&mut self, applied: bool) -> Step {
        self.attempts += 1;
        match &self.token {
            Some(token) if applied => self.live(token.clone()),
            Some(token) if self.attempts < SAVE_ATTEMPTS => Step::Find { token: token.clone() },
            _ => Step::Done(Saved::Conflict),
        }
    }

    /// `delete` ended the session.
    pub fn deleted(&mut self) -> Step {
        Step::Done(Saved::Ended)
    }

    fn live(&self, token: String) -> Step {
        Step::Done(Saved::Live { token, expiry: self.deadlines.absolute })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_767_225_600_000;
    const HOUR: Duration = Duration::from_secs(3600);
    const MIN: Duration = Duration::from_secs(60);

    fn stored(deadline: u64, values: &[(&str, &str)]) -> Vec<u8> {
        let values = values.iter().map(|(k, v)| ((*k).to_owned(), Value::from(*v))).collect();
        Record { deadline, values }.encode()
    }

    fn existing(deadline: u64) -> Session {
        Session::from_store("tok", Some((&stored(deadline, &[("message", "hi")]), 7)), NOW, HOUR)
    }

    fn update_of(step: Step) -> (String, Record, u64) {
        match step {
            Step::Update { token, data, version } => {
                (token, Record::decode(&data).expect("record"), version)
            }
            other => panic!("not an update: {other:?}"),
        }
    }

    #[test]
    fn a_fresh_session_is_empty_tokenless_and_ends_after_its_lifetime() {
        let s = Session::fresh(NOW, HOUR);
        assert_eq!(
            (s.token(), s.version(), s.deadline(), s.status(), s.get("message")),
            (None, None, NOW + 3_600_000, Status::Unmodified, None)
        );
    }

    #[test]
    fn a_stored_record_becomes_the_session_of_its_token_at_its_version() {
        let s = existing(NOW + 5000);
        assert_eq!((s.token(), s.version(), s.deadline()), (Some("tok"), Some(7), NOW + 5000));
        assert_eq!(s.get("message"), Some(&Value::from("hi")));
    }

    #[test]
    fn no_data_or_foreign_data_gives_a_fresh_session_without_adopting_the_token() {
        for found in [None, Some((&b"garbage"[..], 1)), Some((&b"{}"[..], 1))] {
            let s = Session::from_store("forged", found, NOW, HOUR);
            assert_eq!(s, Session::fresh(NOW, HOUR), "{found:?}");
        }
    }

    #[test]
    fn a_value_is_answered_as_text_strings_as_they_are_and_others_as_json() {
        let mut s = existing(NOW + 5000);
        s.put("n", serde_json::json!([1, {"a": true}]));
        assert_eq!(
            (s.text("message"), s.text("n"), s.text("none")),
            ("hi".to_owned(), r#"[1,{"a":true}]"#.to_owned(), String::new())
        );
    }

    #[test]
    fn a_session_only_read_stores_nothing() {
        for idle in [None, Some(MIN)] {
            assert_eq!(existing(NOW + 5000).save(idle, None).first(), Step::Done(Saved::Unchanged));
            assert_eq!(
                Session::fresh(NOW, HOUR).save(idle, None).first(),
                Step::Done(Saved::Unchanged)
            );
        }
    }

    #[test]
    fn a_changed_fresh_session_is_created_with_both_deadlines_and_its_label() {
        let mut s = Session::fresh(NOW, HOUR);
        s.put("message", "hello");
        let mut save = s.save(Some(MIN), Some("curl".into()));
        assert_eq!(
            save.first(),
            Step::Create {
                data: stored(NOW + 3_600_000, &[("message", "hello")]),
                deadlines: Deadlines { absolute: NOW + 3_600_000, idle_ms: Some(60_000) },
                label: Some("curl".into()),
            }
        );
        assert_eq!(
            save.created("new".into()),
            Step::Done(Saved::Live { token: "new".into(), expiry: NOW + 3_600_000 }),
            "the cookie lasts to the absolute deadline; the store enforces the idle timeout"
        );
    }

    #[test]
    fn a_changed_existing_session_is_updated_at_the_version_it_was_read() {
        let mut s = existing(NOW + 5000);
        s.put("message", "new");
        let mut save = s.save(None, None);
        let (token, record, version) = update_of(save.first());
        assert_eq!((token.as_str(), version, record.deadline), ("tok", 7, NOW + 5000));
        assert_eq!(record.values["message"], "new");
        assert_eq!(
            save.updated(true),
            Step::Done(Saved::Live { token: "tok".into(), expiry: NOW + 5000 })
        );
    }

    #[test]
    fn a_conflict_reloads_and_reapplies_only_this_requests_values_over_the_newer_ones() {
        let mut s = existing(NOW + 5000);
        s.put("theme", "dark");
        let mut save = s.save(None, None);
        update_of(save.first());
        assert_eq!(save.updated(false), Step::Find { token: "tok".into() });
        let newer = stored(NOW + 5000, &[("message", "changed elsewhere"), ("cart", "3")]);
        let (token, record, version) = update_of(save.found(Some((&newer, 8))));
        assert_eq!((token.as_str(), version), ("tok", 8));
        assert_eq!(
            (
                record.values["message"].as_str(),
                record.values["cart"].as_str(),
                record.values["theme"].as_str()
            ),
            (Some("changed elsewhere"), Some("3"), Some("dark")),
            "another request's values are kept; this one's own value wins only on its key"
        );
    }

    #[test]
    fn a_session_ended_meanwhile_is_never_brought_back() {
        let mut s = existing(NOW + 5000);
        s.put("message", "late");
        let mut save = s.save(None, None);
        update_of(save.first());
        save.updated(false);
        assert_eq!(save.found(None), Step::Done(Saved::EndedMeanwhile));
        let mut s = existing(NOW + 5000);
        s.put("message", "late");
        let mut save = s.save(None, None);
        update_of(save.first());
        save.updated(false);
        assert_eq!(
            save.found(Some((b"not a record", 9))),
            Step::Done(Saved::EndedMeanwhile),
            "foreign data under the token is not overwritten"
        );
    }

    #[test]
    fn a_save_gives_up_with_a_conflict_after_its_attempts() {
        let mut s = existing(NOW + 5000);
        s.put("k", "v");
        let mut save = s.save(None, None);
        let mut step = save.first();
        let mut updates = 0;
        while let Step::Update { .. } = step {
            updates += 1;
            step = match save.updated(false) {
                Step::Find { .. } => save.found(Some((&stored(NOW + 5000, &[]), updates))),
                done => done,
            };
        }
        assert_eq!((step, updates), (Step::Done(Saved::Conflict), SAVE_ATTEMPTS as u64));
    }

    #[test]
    fn renewing_rotates_and_stores_this_requests_values_under_the_new_token() {
        let mut s = existing(NOW + 5000);
        s.renew();
        let mut save = s.save(Some(MIN), None);
        assert_eq!(
            save.first(),
            Step::Rotate {
                token: "tok".into(),
                deadlines: Deadlines { absolute: NOW + 5000, idle_ms: Some(60_000) }
            }
        );
        assert_eq!(
            save.rotated(Some("new".into())),
            Step::Done(Saved::Live { token: "new".into(), expiry: NOW + 5000 }),
            "nothing put: the rotation carried the data"
        );
        let mut s = existing(NOW + 5000);
        s.renew();
        s.put("more", "1");
        let mut save = s.save(None, None);
        save.first();
        assert_eq!(save.rotated(Some("new".into())), Step::Find { token: "new".into() });
        let (token, record, _) =
            update_of(save.found(Some((&stored(NOW + 5000, &[("message", "hi")]), 8))));
        assert_eq!(
            (token.as_str(), record.values["message"].as_str(), record.values["more"].as_str()),
            ("new", Some("hi"), Some("1"))
        );
        let mut s = existing(NOW + 5000);
        s.renew();
        let mut save = s.save(None, None);
        save.first();
        assert_eq!(save.rotated(None), Step::Done(Saved::EndedMeanwhile));
        let mut fresh = Session::fresh(NOW, HOUR);
        fresh.renew();
        assert!(
            matches!(fresh.save(None, None).first(), Step::Create { .. }),
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
        let mut save = s.save(Some(MIN), None);
        assert_eq!(save.first(), Step::Delete { token: "tok".into() });
        assert_eq!(save.deleted(), Step::Done(Saved::Ended));
        let mut fresh = Session::fresh(NOW, HOUR);
        fresh.destroy();
        assert_eq!(fresh.save(None, None).first(), Step::Done(Saved::Unchanged));
    }
}
