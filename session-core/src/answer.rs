//! The HTTP answer to a request whose session could not be loaded or saved.
//!
//! Bodies are fixed texts: what the store said (paths, lock holders, process ids, server
//! URLs, which may carry credentials) goes to the server's log, never to the client.

use crate::route::Route;

/// Seconds a client is told to wait (`Retry-After`) after a 503.
pub const RETRY_AFTER_S: u32 = 1;

/// Why a request failed, in the terms the client is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The store refused a token (400).
    InvalidToken,
    /// The store refused an owner (the user name at `/login`, or the one a session holds)
    /// as empty, over 256 bytes or holding control characters (400); nothing was changed.
    InvalidInput,
    /// `/login` without a `user` parameter (400).
    MissingUser,
    /// `/set` without a `key` parameter (400).
    MissingKey,
    /// A `/set` key that is empty, over [`MAX_KEY_BYTES`](crate::MAX_KEY_BYTES), holds
    /// control characters, or is the reserved [`USER_KEY`](crate::USER_KEY) (400).
    InvalidKey,
    /// A method the route does not answer (405, `Allow` naming the ones it does; see
    /// [`Route::check`]). Answered before the session is loaded: nothing was loaded,
    /// changed or saved, and no cookie is sent.
    MethodNotAllowed(Route),
    /// A route for a logged-in user, on a session without a user (401).
    NotLoggedIn,
    /// The session data is over the store's limit, in bytes (413); nothing was stored.
    TooLarge { limit: u64 },
    /// The session ended while this request ran (a concurrent logout or renewal): nothing
    /// was stored (409, and the cookie is cleared).
    SessionEnded,
    /// Other requests kept saving the session while this one tried to
    /// ([`Saved::Conflict`](crate::Saved::Conflict)): nothing of it was stored, the session
    /// lives on (409, the cookie kept; retrying works).
    Conflict,
    /// The store cannot be reached or is busy right now; retrying later works (503).
    Unavailable,
    /// Anything else: a misconfiguration or a storage fault (500).
    Internal,
}

/// An HTTP answer: status, plain-text body, and headers the host adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// Seconds for a `Retry-After` header, if one is sent.
    pub retry_after_s: Option<u32>,
    /// Send the cookie-clearing `Set-Cookie` ([`CookieSpec::clear`](crate::CookieSpec::clear)).
    pub clear_cookie: bool,
    /// The value of an `Allow` header, if one is sent (a 405: [`Route::allow`]).
    pub allow: Option<&'static str>,
}

impl Failure {
    /// The answer to send; it holds nothing of the store's own message.
    pub fn answer(self) -> Answer {
        let (status, body) = match self {
            Failure::InvalidToken => (400, "invalid session token\n".to_owned()),
            Failure::InvalidInput => {
                (400, "invalid user name: use 1 to 256 bytes without control characters\n".to_owned())
            }
            Failure::MissingUser => (400, "missing the user parameter: /login?user=NAME\n".to_owned()),
            Failure::MissingKey => (400, "missing the key parameter: /set?key=K&value=V\n".to_owned()),
            Failure::InvalidKey => (
                400,
                "invalid key: use 1 to 64 bytes without control characters; \"user\" is set by /login\n"
                    .to_owned(),
            ),
            Failure::MethodNotAllowed(route) => {
                (405, format!("method not allowed; use {}\n", route.methods().join(" or ")))
            }
            Failure::NotLoggedIn => (401, "not logged in\n".to_owned()),
            Failure::TooLarge { limit } => {
                (413, format!("session data is larger than the store's limit of {limit} bytes; nothing was stored\n"))
            }
            Failure::SessionEnded => (409, "the session ended while this request ran; nothing was stored\n".to_owned()),
            Failure::Conflict => {
                (409, "the session kept changing under concurrent requests; nothing was stored; try again\n".to_owned())
            }
            Failure::Unavailable => (503, "session store unavailable; try again shortly\n".to_owned()),
            Failure::Internal => {
                (500, "internal error in the session store; the server log has the details\n".to_owned())
            }
        };
        Answer {
            status,
            body,
            retry_after_s: (self == Failure::Unavailable).then_some(RETRY_AFTER_S),
            clear_cookie: self == Failure::SessionEnded,
            allow: match self {
                Failure::MethodNotAllowed(route) => Some(route.allow()),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_status() {
        let statuses: Vec<u16> = [
            Failure::InvalidToken,
            Failure::InvalidInput,
            Failure::MissingUser,
            Failure::MissingKey,
            Failure::InvalidKey,
            Failure::MethodNotAllowed(Route::Renew),
            Failure::NotLoggedIn,
            Failure::TooLarge { limit: 256 },
            Failure::SessionEnded,
            Failure::Conflict,
            Failure::Unavailable,
            Failure::Internal,
        ]
        .into_iter()
        .map(|f| f.answer().status)
        .collect();
        assert_eq!(statuses, [400, 400, 400, 400, 400, 405, 401, 413, 409, 409, 503, 500]);
    }

    #[test]
    fn only_unavailable_asks_for_a_retry_and_only_a_session_ended_meanwhile_clears_the_cookie() {
        let unavailable = Failure::Unavailable.answer();
        assert_eq!((unavailable.retry_after_s, unavailable.clear_cookie), (Some(1), false));
        let conflict = Failure::Conflict.answer();
        assert_eq!((conflict.retry_after_s, conflict.clear_cookie), (None, false));
        let ended = Failure::SessionEnded.answer();
        assert_eq!((ended.retry_after_s, ended.clear_cookie), (None, true));
        assert_eq!(ended.body, "the session ended while this request ran; nothing was stored\n");
        assert_eq!(Failure::Internal.answer().retry_after_s, None);
    }

    #[test]
    fn only_a_refused_method_sends_allow() {
        assert_eq!(Failure::MethodNotAllowed(Route::Login).answer().allow, Some("POST"));
        for failure in [
            Failure::InvalidToken,
            Failure::NotLoggedIn,
            Failure::SessionEnded,
            Failure::Unavailable,
        ] {
            assert_eq!(failure.answer().allow, None, "{failure:?}");
        }
    }

    #[test]
    fn the_limit_is_the_only_detail_a_body_carries() {
        assert!(Failure::TooLarge { limit: 256 }.answer().body.contains("256 bytes"));
    }
}
