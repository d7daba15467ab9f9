//! The routes of a logged-in user: `/login?user=NAME`, `/devices`, `/logout-everywhere`
//! (the contract is in the crate docs). A session is logged in when its values hold
//! [`USER_KEY`] as a string; the store's owner of that session is the same name.

use std::time::Duration;

use serde_json::Value;

use crate::answer::{Answer, Failure};
use crate::session::{Deadlines, Save, Saved, Session, Step};

/// The session value naming the logged-in user.
pub const USER_KEY: &str = "user";

/// The body of a successful `/login`.
pub const LOGGED_IN: &str = "logged in\n";

/// The content type of the `/devices` and `/logout-everywhere` answers.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// What `/login?user=NAME` takes from the store, in order (session fixation: the token the
/// request came with never gets the owner or the user value):
///
/// 1. If [`Login::rotation`] is some: `rotate(token, deadlines)`. Some new token T →
///    [`NewToken::Rotated`]. None (the session ended meanwhile) → step 2.
/// 2. Otherwise: `create(data, deadlines, label)` with [`Login::creation`] →
///    [`NewToken::Created`].
/// 3. `set-owner(T, some(user))`: `invalid-input` → [`LoginOutcome::NameRefused`]; false →
///    [`LoginOutcome::EndedMeanwhile`].
/// 4. [`Login::save`]: the [`Save`] steps that put the user value (and this request's
///    own values) into T, from `find(T)` on; its end is [`LoginOutcome::of`].
///
/// Any other store error is answered as on every route ([`Failure`]); once T exists the
/// client still gets T's cookie (the old token is dead, T holds the anonymous session).
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    user: String,
    /// The request's session with the user put; its deadlines.
    logged_in: (Session, Deadlines),
    /// A fresh, anonymous session (when there is nothing to rotate), its deadlines.
    fresh: (Session, Deadlines),
    label: Option<String>,
}

/// The token a login obtained (step 1 or 2 of [`Login`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewToken {
    /// `rotate` answered this token: it holds the request's session.
    Rotated(String),
    /// `create` answered this token: it holds a fresh, anonymous session.
    Created(String),
}

impl NewToken {
    pub fn token(&self) -> &str {
        match self {
            NewToken::Rotated(t) | NewToken::Created(t) => t,
        }
    }
}

/// How a login ended; [`LoginOutcome::answer`] and [`LoginOutcome::saved`] say what the
/// client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The session lives under `token`, owned by the user, with the user value: 200
    /// [`LOGGED_IN`], cookie `token`.
    LoggedIn { token: String, expiry: u64 },
    /// The store refused the name (`invalid-input`): 400 ([`Failure::InvalidInput`], no
    /// echo of the name), cookie `token`: the session was rotated, is anonymous, and
    /// nothing in it was lost.
    NameRefused { token: String, expiry: u64 },
    /// The new session ended before it got its owner or its user (a concurrent revoke, or
    /// its expiry): 409 ([`Failure::SessionEnded`]), cookie cleared.
    EndedMeanwhile,
    /// Other writes to the new session kept the user value out ([`Saved::Conflict`]): 409
    /// ([`Failure::Conflict`]), cookie `token`, which holds the session anonymous.
    Conflict { token: String, expiry: u64 },
}

impl Login {
    /// The login of `session` as `user` at `now_ms`. `idle_timeout` as for
    /// [`Session::save`]; `lifetime` is that of a fresh session (used when the request's
    /// session cannot be rotated), `label` what that fresh session is listed as.
    pub fn plan(
        session: &Session,
        user: &str,
        now_ms: u64,
        idle_timeout: Option<Duration>,
        lifetime: Duration,
        label: Option<String>,
    ) -> Login {
        let mut logged_in = session.clone();
        logged_in.put(USER_KEY, user);
        let fresh = Session::fresh(now_ms, lifetime);
        Login {
            user: user.to_owned(),
            logged_in: (logged_in, session.deadlines(idle_timeout)),
            fresh: (fresh.clone(), fresh.deadlines(idle_timeout)),
            label,
        }
    }

    /// The name the session is to be owned by.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Step 1: `rotate(token, deadlines)`, if the request has a session.
    pub fn rotation(&self) -> Option<(&str, Deadlines)> {
        self.logged_in.0.token().map(|token| (token, self.logged_in.1))
    }

    /// Step 2: the anonymous session `create(data, deadlines, label)` stores.
    pub fn creation(&self) -> (Vec<u8>, Deadlines, Option<String>) {
        (self.fresh.0.record().encode(), self.fresh.1, self.label.clone())
    }

    /// The cookie's expiry of the session under `token` (its absolute deadline).
    pub fn expiry(&self, token: &NewToken) -> u64 {
        self.deadlines(token).absolute
    }

    /// Step 4, after `set-owner`: the save that puts the user value into the new token,
    /// and its first step (`find(T)`).
    pub fn save(&self, token: &NewToken) -> (Save, Step) {
        let session = match token {
            NewToken::Rotated(_) => self.logged_in.0.clone(),
            NewToken::Created(_) => {
                let mut fresh = self.fresh.0.clone();
                fresh.put(USER_KEY, self.user.as_str());
                fresh
            }
        };
        Save::resume(session, token.token(), self.deadlines(token))
    }

    fn deadlines(&self, token: &NewToken) -> Deadlines {
        match token {
            NewToken::Rotated(_) => self.logged_in.1,
            NewToken::Created(_) => self.fresh.1,
        }
    }
}

impl LoginOutcome {
    /// The outcome of a login whose step 4 ended as `saved`.
    pub fn of(saved: Saved, token: &str, expiry: u64) -> LoginOutcome {
        match saved {
            Saved::Live { token, expiry } => LoginOutcome::LoggedIn { token, expiry },
            Saved::Conflict => LoginOutcome::Conflict { token: token.to_owned(), expiry },
            Saved::Unchanged | Saved::Ended | Saved::EndedMeanwhile => LoginOutcome::EndedMeanwhile,
        }
    }

    /// Status and body.
    pub fn answer(&self) -> Answer {
        match self {
            LoginOutcome::LoggedIn { .. } => Answer {
                status: 200,
                body: LOGGED_IN.to_owned(),
                retry_after_s: None,
                clear_cookie: false,
                allow: None,
            },
            LoginOutcome::NameRefused { .. } => Failure::InvalidInput.answer(),
            LoginOutcome::EndedMeanwhile => Failure::SessionEnded.answer(),
            LoginOutcome::Conflict { .. } => Failure::Conflict.answer(),
        }
    }

    /// What the client's cookie becomes ([`CookieSpec::set_cookie`](crate::CookieSpec::set_cookie)).
    pub fn saved(&self) -> Saved {
        match self {
            LoginOutcome::LoggedIn { token, expiry }
            | LoginOutcome::NameRefused { token, expiry }
            | LoginOutcome::Conflict { token, expiry } => {
                Saved::Live { token: token.clone(), expiry: *expiry }
            }
            LoginOutcome::EndedMeanwhile => Saved::EndedMeanwhile,
        }
    }
}

/// One session of a user's `/devices` list, as the store's `sessions-of` gives it (times
/// in ms since the Unix epoch; `created`, `last_seen` and `label` none when not recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Device<'a> {
    pub id: &'a str,
    pub expiry: u64,
    pub created: Option<u64>,
    pub last_seen: Option<u64>,
    pub label: Option<&'a str>,
}

/// The `/devices` body, in the order given (the store's `sessions-of` order: soonest
/// expiry first):
/// `{"sessions":[{"id":"…","expiry":MS,"created":MS,"last_seen":MS,"label":"…"},…]}`, with
/// `null` for what is not recorded.
pub fn devices_json<'a>(sessions: impl IntoIterator<Item = Device<'a>>) -> String {
    let items: Vec<String> = sessions
        .into_iter()
        .map(|d| {
            format!(
                r#"{{"id":{},"expiry":{},"created":{},"last_seen":{},"label":{}}}"#,
                Value::from(d.id),
                d.expiry,
                Value::from(d.created),
                Value::from(d.last_seen),
                Value::from(d.label)
            )
        })
        .collect();
    format!(r#"{{"sessions":[{}]}}"#, items.join(","))
}

/// The `/logout-everywhere` body: `{"revoked":N}`.
pub fn revoked_json(revoked: u64) -> String {
    format!(r#"{{"revoked":{revoked}}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CookieSpec, Record};

    const NOW: u64 = 1_767_225_600_000;
    const HOUR: Duration = Duration::from_secs(3600);
    const MIN: Duration = Duration::from_secs(60);

    fn record(deadline: u64, values: &[(&str, &str)]) -> Record {
        Record {
            deadline,
            values: values.iter().map(|(k, v)| ((*k).to_owned(), Value::from(*v))).collect(),
        }
    }

    fn existing(deadline: u64, values: &[(&str, &str)]) -> Session {
        Session::from_store("old-token", Some((&record(deadline, values).encode(), 3)), NOW, HOUR)
    }

    fn decoded(data: &[u8]) -> Record {
        Record::decode(data).expect("a session record")
    }

    /// The data of step 4's update, after `find(T)` answered `stored` at version 9.
    fn stored_user_update(login: &Login, new: &NewToken, stored: &Record) -> Record {
        let (mut save, first) = login.save(new);
        assert_eq!(first, Step::Find { token: new.token().to_owned() });
        match save.found(Some((&stored.encode(), 9))) {
            Step::Update { token, data, version } => {
                assert_eq!((token.as_str(), version), (new.token(), 9));
                decoded(&data)
            }
            other => panic!("not an update: {other:?}"),
        }
    }

    #[test]
    fn a_logged_in_session_is_one_with_a_string_user_value() {
        assert_eq!(existing(NOW + 5000, &[("user", "alice")]).user(), Some("alice"));
        assert_eq!(existing(NOW + 5000, &[("message", "hi")]).user(), None);
        assert_eq!(Session::fresh(NOW, HOUR).user(), None);
        let mut s = Session::fresh(NOW, HOUR);
        s.put("user", 7);
        assert_eq!(s.user(), None, "a user value that is not a string is no user");
    }

    #[test]
    fn logging_in_an_existing_session_rotates_it_and_then_stores_its_values_with_the_user() {
        let session = existing(NOW + 5000, &[("message", "hi")]);
        let login = Login::plan(&session, "alice", NOW, None, HOUR, None);
        assert_eq!(login.user(), "alice");
        assert_eq!(
            login.rotation(),
            Some(("old-token", Deadlines { absolute: NOW + 5000, idle_ms: None }))
        );
        let new = NewToken::Rotated("new-token".into());
        assert_eq!(login.expiry(&new), NOW + 5000);
        let stored = record(NOW + 5000, &[("message", "hi"), ("cart", "2 items")]);
        let updated = stored_user_update(&login, &new, &stored);
        assert_eq!(
            (updated.values["message"].as_str(), updated.values["cart"].as_str()),
            (Some("hi"), Some("2 items")),
            "what another request stored meanwhile is kept"
        );
        assert_eq!(updated.values["user"], "alice");
    }

    #[test]
    fn the_rotation_carries_the_idle_timeout_to_the_store() {
        let session = existing(NOW + 3_600_000, &[]);
        let login = Login::plan(&session, "alice", NOW, Some(MIN), HOUR, None);
        assert_eq!(
            login.rotation(),
            Some(("old-token", Deadlines { absolute: NOW + 3_600_000, idle_ms: Some(60_000) }))
        );
    }

    #[test]
    fn a_fresh_session_is_created_anonymous_with_its_label_and_gets_the_user_after_the_owner() {
        let label = Some("Firefox on Linux".to_owned());
        let login = Login::plan(&Session::fresh(NOW, HOUR), "bob", NOW, None, HOUR, label.clone());
        assert_eq!(login.rotation(), None, "nothing to rotate");
        let (data, deadlines, created_label) = login.creation();
        assert_eq!((deadlines.absolute, created_label), (NOW + 3_600_000, label));
        assert!(decoded(&data).values.is_empty(), "created anonymous: the owner comes first");
        let new = NewToken::Created("t".into());
        let updated = stored_user_update(&login, &new, &decoded(&data));
        assert_eq!(updated.values["user"], "bob");
    }

    #[test]
    fn when_rotate_answers_none_a_fresh_session_replaces_the_ended_one() {
        let session = existing(NOW + 5000, &[("message", "gone")]);
        let login = Login::plan(&session, "alice", NOW, Some(MIN), HOUR, None);
        let (data, deadlines, _) = login.creation();
        assert_eq!(deadlines, Deadlines { absolute: NOW + 3_600_000, idle_ms: Some(60_000) });
        assert!(decoded(&data).values.is_empty(), "nothing of the ended session is carried over");
        let new = NewToken::Created("t".into());
        let updated = stored_user_update(&login, &new, &decoded(&data));
        assert_eq!(
            (updated.values.get("message"), &updated.values["user"]),
            (None, &Value::from("alice"))
        );
    }

    #[test]
    fn logging_in_again_as_another_user_replaces_the_user() {
        let session = existing(NOW + 5000, &[("user", "alice")]);
        let login = Login::plan(&session, "bob", NOW, None, HOUR, None);
        let new = NewToken::Rotated("t".into());
        let stored = record(NOW + 5000, &[("user", "alice")]);
        assert_eq!(stored_user_update(&login, &new, &stored).values["user"], "bob");
    }

    #[test]
    fn the_end_of_the_user_save_is_the_login_outcome() {
        let live = Saved::Live { token: "t".into(), expiry: 5 };
        assert_eq!(
            LoginOutcome::of(live, "t", 5),
            LoginOutcome::LoggedIn { token: "t".into(), expiry: 5 }
        );
        assert_eq!(LoginOutcome::of(Saved::EndedMeanwhile, "t", 5), LoginOutcome::EndedMeanwhile);
        assert_eq!(
            LoginOutcome::of(Saved::Conflict, "t", 5),
            LoginOutcome::Conflict { token: "t".into(), expiry: 5 }
        );
    }

    #[test]
    fn a_login_is_answered_with_the_new_token_or_its_failure() {
        let spec = CookieSpec::default();
        let ok = LoginOutcome::LoggedIn { token: "t".into(), expiry: NOW + 2000 };
        assert_eq!((ok.answer().status, ok.answer().body.as_str()), (200, "logged in\n"));
        assert_eq!(
            spec.set_cookie(&ok.saved(), NOW).as_deref(),
            Some("session=t; Path=/; Max-Age=2; HttpOnly; SameSite=Lax")
        );
        let refused = LoginOutcome::NameRefused { token: "t".into(), expiry: NOW + 2000 };
        assert_eq!(refused.answer(), Failure::InvalidInput.answer());
        assert_eq!(refused.answer().status, 400);
        assert!(!refused.answer().clear_cookie);
        assert_eq!(
            refused.saved(),
            Saved::Live { token: "t".into(), expiry: NOW + 2000 },
            "the rotated token is the cookie"
        );
        let ended = LoginOutcome::EndedMeanwhile;
        assert_eq!((ended.answer().status, ended.saved()), (409, Saved::EndedMeanwhile));
        assert_eq!(spec.set_cookie(&ended.saved(), NOW), Some(spec.clear()));
        let conflict = LoginOutcome::Conflict { token: "t".into(), expiry: NOW + 2000 };
        assert_eq!(conflict.answer(), Failure::Conflict.answer());
        assert_eq!(conflict.saved(), Saved::Live { token: "t".into(), expiry: NOW + 2000 });
    }

    #[test]
    fn the_fixed_texts_never_echo_the_name_and_are_the_documented_ones() {
        assert_eq!(
            Failure::InvalidInput.answer().body,
            "invalid user name: use 1 to 256 bytes without control characters\n"
        );
        assert_eq!(
            Failure::MissingUser.answer().body,
            "missing the user parameter: /login?user=NAME\n"
        );
        assert_eq!(Failure::MissingUser.answer().status, 400);
        assert_eq!(Failure::NotLoggedIn.answer().body, "not logged in\n");
        assert_eq!(Failure::NotLoggedIn.answer().status, 401);
    }

    #[test]
    fn devices_are_listed_as_the_documented_json_in_the_given_order() {
        assert_eq!(devices_json([]), r#"{"sessions":[]}"#);
        let b = Device {
            id: "b-id",
            expiry: 5,
            created: Some(1),
            last_seen: Some(2),
            label: Some("Firefox on Linux"),
        };
        let a = Device { id: "a-id", expiry: 7, created: None, last_seen: None, label: None };
        assert_eq!(
            devices_json([b, a]),
            concat!(
                r#"{"sessions":[{"id":"b-id","expiry":5,"created":1,"last_seen":2,"#,
                r#""label":"Firefox on Linux"},{"id":"a-id","expiry":7,"created":null,"#,
                r#""last_seen":null,"label":null}]}"#
            )
        );
        let quoted = Device { id: "q\"", label: Some("a\"b"), ..a };
        let parsed: Value = serde_json::from_str(&devices_json([quoted])).expect("json");
        assert_eq!(
            (parsed["sessions"][0]["id"].as_str(), parsed["sessions"][0]["label"].as_str()),
            (Some("q\""), Some("a\"b"))
        );
        let far = Device { expiry: u64::MAX, ..a };
        let parsed: Value = serde_json::from_str(&devices_json([far])).expect("json");
        assert_eq!(parsed["sessions"][0]["expiry"].as_u64(), Some(u64::MAX));
    }

    #[test]
    fn the_revoked_count_is_the_documented_json() {
        assert_eq!(revoked_json(0), r#"{"revoked":0}"#);
        assert_eq!(revoked_json(12), r#"{"revoked":12}"#);
    }
}
