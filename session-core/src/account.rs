//! The routes of a logged-in user: `/login?user=NAME`, `/devices`, `/logout-everywhere`
//! (the contract is in the crate docs). A session is logged in when its values hold
//! [`USER_KEY`] as a string; the store's owner of that session is the same name.

use std::time::Duration;

use serde_json::Value;

use crate::answer::{Answer, Failure};
use crate::record::Record;
use crate::session::{Saved, Session};

/// The session value naming the logged-in user.
pub const USER_KEY: &str = "user";

/// The body of a successful `/login`.
pub const LOGGED_IN: &str = "logged in\n";

/// The content type of the `/devices` and `/logout-everywhere` answers.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// What `/login?user=NAME` takes from the store, in order (session fixation: the token the
/// request came with never gets the owner or the user value):
///
/// 1. If [`Login::rotation`] is some: `rotate(token, expiry)`. Some new token T →
///    [`NewToken::Rotated`]. None (the session ended meanwhile) → step 2.
/// 2. Otherwise: `create(data, expiry)` with [`Login::creation`] → [`NewToken::Created`].
/// 3. `set-owner(T, some(user))`: `invalid-input` → [`LoginOutcome::NameRefused`]; false →
///    [`LoginOutcome::EndedMeanwhile`].
/// 4. `update(T, data, expiry)` with [`Login::update`]: true → [`LoginOutcome::LoggedIn`];
///    false → [`LoginOutcome::EndedMeanwhile`].
///
/// Any other store error is answered as on every route ([`Failure`]); once T exists the
/// client still gets T's cookie (the old token is dead, T holds the anonymous session).
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    user: String,
    /// The request's token and the expiry a save would write; none for a fresh session.
    rotation: Option<(String, u64)>,
    /// The request's record with the user put, and the expiry it is stored with.
    logged_in: (Record, u64),
    /// A fresh, anonymous record (when there is nothing to rotate), and its expiry.
    fresh: (Record, u64),
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
}

impl Login {
    /// The login of `session` as `user` at `now_ms`. `idle_timeout` as for
    /// [`Session::plan`]; `lifetime` is that of a fresh session (used when the request's
    /// session cannot be rotated).
    pub fn plan(
        session: &Session,
        user: &str,
        now_ms: u64,
        idle_timeout: Option<Duration>,
        lifetime: Duration,
    ) -> Login {
        let expiry = session.expiry(now_ms, idle_timeout);
        let fresh = Session::fresh(now_ms, lifetime);
        let fresh_expiry = fresh.expiry(now_ms, idle_timeout);
        Login {
            user: user.to_owned(),
            rotation: session.token().map(|token| (token.to_owned(), expiry)),
            logged_in: (session.record().clone(), expiry),
            fresh: (fresh.record().clone(), fresh_expiry),
        }
    }

    /// The name the session is to be owned by.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Step 1: `rotate(token, expiry)`, if the request has a session.
    pub fn rotation(&self) -> Option<(&str, u64)> {
        self.rotation.as_ref().map(|(token, expiry)| (token.as_str(), *expiry))
    }

    /// Step 2: the anonymous session `create(data, expiry)` stores.
    pub fn creation(&self) -> (Vec<u8>, u64) {
        (self.fresh.0.encode(), self.fresh.1)
    }

    /// The expiry of the session under `token`.
    pub fn expiry(&self, token: &NewToken) -> u64 {
        match token {
            NewToken::Rotated(_) => self.logged_in.1,
            NewToken::Created(_) => self.fresh.1,
        }
    }

    /// Step 4: the `update(T, data, expiry)` that puts the user value, after `set-owner`.
    pub fn update(&self, token: &NewToken) -> (Vec<u8>, u64) {
        let (record, expiry) = match token {
            NewToken::Rotated(_) => &self.logged_in,
            NewToken::Created(_) => &self.fresh,
        };
        let mut record = record.clone();
        record.values.insert(USER_KEY.to_owned(), Value::from(self.user.as_str()));
        (record.encode(), *expiry)
    }
}

impl LoginOutcome {
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
        }
    }

    /// What the client's cookie becomes ([`CookieSpec::set_cookie`](crate::CookieSpec::set_cookie)).
    pub fn saved(&self) -> Saved {
        match self {
            LoginOutcome::LoggedIn { token, expiry }
            | LoginOutcome::NameRefused { token, expiry } => {
                Saved::Live { token: token.clone(), expiry: *expiry }
            }
            LoginOutcome::EndedMeanwhile => Saved::EndedMeanwhile,
        }
    }
}

/// The `/devices` body: `{"sessions":[{"id":"…","expiry":MS},…]}`, in the order given (the
/// store's `sessions-of` order: soonest expiry first).
pub fn devices_json<'a>(sessions: impl IntoIterator<Item = (&'a str, u64)>) -> String {
    let items: Vec<String> = sessions
        .into_iter()
        .map(|(id, expiry)| format!(r#"{{"id":{},"expiry":{expiry}}}"#, Value::from(id)))
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
    use crate::CookieSpec;

    const NOW: u64 = 1_767_225_600_000;
    const HOUR: Duration = Duration::from_secs(3600);
    const MIN: Duration = Duration::from_secs(60);

    fn existing(deadline: u64, values: &[(&str, &str)]) -> Session {
        let record = Record {
            deadline,
            values: values.iter().map(|(k, v)| ((*k).to_owned(), Value::from(*v))).collect(),
        };
        Session::from_store("old-token", Some(&record.encode()), NOW, HOUR)
    }

    fn decoded(data: &[u8]) -> Record {
        Record::decode(data).expect("a session record")
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
        let login = Login::plan(&session, "alice", NOW, None, HOUR);
        assert_eq!(login.user(), "alice");
        assert_eq!(
            login.rotation(),
            Some(("old-token", NOW + 5000)),
            "the expiry a save would write"
        );
        let new = NewToken::Rotated("new-token".into());
        assert_eq!(new.token(), "new-token");
        let (data, expiry) = login.update(&new);
        assert_eq!(expiry, NOW + 5000);
        assert_eq!(login.expiry(&new), NOW + 5000);
        let record = decoded(&data);
        assert_eq!(
            (record.deadline, &record.values["message"], &record.values["user"]),
            (NOW + 5000, &Value::from("hi"), &Value::from("alice"))
        );
    }

    #[test]
    fn the_rotation_expiry_follows_the_idle_timeout() {
        let session = existing(NOW + 3_600_000, &[]);
        let login = Login::plan(&session, "alice", NOW, Some(MIN), HOUR);
        assert_eq!(login.rotation(), Some(("old-token", NOW + 60_000)));
    }

    #[test]
    fn a_fresh_session_is_created_anonymous_and_gets_the_user_only_by_the_update() {
        let login = Login::plan(&Session::fresh(NOW, HOUR), "bob", NOW, None, HOUR);
        assert_eq!(login.rotation(), None, "nothing to rotate");
        let (data, expiry) = login.creation();
        assert_eq!(expiry, NOW + 3_600_000);
        assert!(decoded(&data).values.is_empty(), "created anonymous: the owner comes first");
        let new = NewToken::Created("t".into());
        let (data, expiry) = login.update(&new);
        assert_eq!(
            (expiry, &decoded(&data).values["user"]),
            (NOW + 3_600_000, &Value::from("bob"))
        );
    }

    #[test]
    fn when_rotate_answers_none_a_fresh_session_replaces_the_ended_one() {
        let session = existing(NOW + 5000, &[("message", "gone")]);
        let login = Login::plan(&session, "alice", NOW, Some(MIN), HOUR);
        let (data, expiry) = login.creation();
        assert_eq!(expiry, NOW + 60_000, "a fresh session's expiry, idle timeout applied");
        assert!(decoded(&data).values.is_empty(), "nothing of the ended session is carried over");
        let (data, _) = login.update(&NewToken::Created("t".into()));
        let record = decoded(&data);
        assert_eq!(
            (record.values.get("message"), &record.values["user"]),
            (None, &Value::from("alice"))
        );
        assert_eq!(record.deadline, NOW + 3_600_000);
    }

    #[test]
    fn logging_in_again_as_another_user_replaces_the_user() {
        let session = existing(NOW + 5000, &[("user", "alice")]);
        let login = Login::plan(&session, "bob", NOW, None, HOUR);
        let (data, _) = login.update(&NewToken::Rotated("t".into()));
        assert_eq!(decoded(&data).values["user"], "bob");
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
        assert_eq!(
            devices_json([("b-id", 5), ("a-id", 7)]),
            r#"{"sessions":[{"id":"b-id","expiry":5},{"id":"a-id","expiry":7}]}"#
        );
        assert_eq!(
            devices_json([("q\"", 1)]),
            r#"{"sessions":[{"id":"q\"","expiry":1}]}"#,
            "escaped as JSON"
        );
        let parsed: Value = serde_json::from_str(&devices_json([("x", u64::MAX)])).expect("json");
        assert_eq!(parsed["sessions"][0]["expiry"].as_u64(), Some(u64::MAX));
    }

    #[test]
    fn the_revoked_count_is_the_documented_json() {
        assert_eq!(revoked_json(0), r#"{"revoked":0}"#);
        assert_eq!(revoked_json(12), r#"{"revoked":12}"#);
    }
}
