//! The session logic every libsqlstore host shares, with no I/O: the record a session is
//! stored as, the session cookie, the arithmetic of deadlines, and the decision of what a
//! request's save must do. The async wasmtime host (`libsqlstore-host`) and the sync wasi:http
//! guest (`examples/edge-app`) both use this crate; the Node host (`examples/node`) follows
//! the same contract in JavaScript.
//!
//! # The stored record
//!
//! The store keeps a session's data as opaque bytes; every host writes and reads them as the
//! UTF-8 JSON object
//!
//! ```text
//! {"deadline":1767225600000,"values":{"message":"hello"}}
//! ```
//!
//! - `deadline`: the session's absolute end, milliseconds since the Unix epoch (UTC), an
//!   integer no larger than [`MAX_TIMESTAMP`]. It travels with the values so that a sliding
//!   idle timeout (`touch`) never extends a session past it.
//! - `values`: the session's key/value map; values are any JSON.
//!
//! Writers put `deadline` first and emit no whitespace; readers ignore fields they do not
//! know. Data that is not such an object (or not UTF-8 JSON) is not a session: the request
//! starts a fresh one, it never fails. See [`Record`].
//!
//! # A request's session
//!
//! 1. [`Session::fresh`] when the request has no session cookie ([`CookieSpec::token`]),
//!    else the store's `find` answer for the token goes to [`Session::from_store`]: a
//!    malformed, unknown, expired or forged token gives a fresh session, and saving a fresh
//!    session draws a new token from the store (`create`), so a client never picks its token.
//! 2. The handler reads and changes it ([`Session::get`], [`Session::put`],
//!    [`Session::renew`], [`Session::destroy`]).
//! 3. [`Session::plan`] says which store call(s) to make ([`Plan`]); the host makes them
//!    and states what happened as a [`Saved`]; [`CookieSpec::set_cookie`] gives the
//!    `Set-Cookie` value for it, and [`Failure::answer`] the HTTP answer when it failed.
//!
//! Error answers are fixed texts ([`Failure`]); the store's own message goes to the
//! server's log, through [`redact_credentials`].
//!
//! Saving an existing session never re-creates it: it uses the store's `update`, which
//! changes only an active session. A save that finds its session gone (a concurrent logout
//! or renewal) stores nothing, and the client is told so ([`Saved::EndedMeanwhile`], 409).
//!
//! # The logged-in user
//!
//! A session is logged in when its values hold `"user": NAME` ([`USER_KEY`],
//! [`Session::user`]); the store's owner of that session (`set-owner`) is the same NAME.
//! Every host serves three routes on it, each loading the request's session first as every
//! route does:
//!
//! - `/login?user=NAME` (any method): see [`Login`] for the store calls, in order: the
//!   request's active session is rotated (`rotate(token, expiry)`, the expiry a save would
//!   write), or a fresh anonymous one created when there is none or `rotate` answers none;
//!   then `set-owner(T, some(NAME))`, then `update(T, values with user = NAME, expiry)`.
//!   The token the request came with is dead, and it never got the owner or the user value
//!   (no session fixation). Answers ([`LoginOutcome`]):
//!   - 200 `logged in\n` ([`LOGGED_IN`]), `Set-Cookie` T;
//!   - no `user` parameter: 400 `missing the user parameter: /login?user=NAME\n`
//!     ([`Failure::MissingUser`]), nothing done;
//!   - a name the store refuses (`invalid-input`: empty, over 256 bytes, control
//!     characters): 400 `invalid user name: use 1 to 256 bytes without control characters\n`
//!     ([`Failure::InvalidInput`], the name is never echoed), `Set-Cookie` T (the session
//!     was rotated, stays anonymous, nothing in it lost);
//!   - `set-owner` or `update` answers false (T ended meanwhile): 409 as
//!     [`Failure::SessionEnded`], cookie cleared.
//! - `/devices`: not logged in → 401 `not logged in\n` ([`Failure::NotLoggedIn`]). Else
//!   200, `Content-Type: application/json` ([`JSON_CONTENT_TYPE`]), the body
//!   `{"sessions":[{"id":"…","expiry":MS},…]}` ([`devices_json`]) from `sessions-of(user)`
//!   in the store's order (soonest expiry first). Ids are the store's (base64url of the
//!   SHA-256 of the token), never tokens.
//! - `/logout-everywhere`: not logged in → 401 as above. Else `revoke-owner(user,
//!   some(token))`: every other session of the user ends, this one stays; 200,
//!   `application/json`, `{"revoked":N}` ([`revoked_json`]).
//!
//! JSON bodies have no trailing newline. Store failures on these routes are answered as on
//! every route ([`Failure`]: 503 with `Retry-After` when unavailable, details only in the
//! server's log); `invalid-input` (e.g. a stored user the store refuses as an owner) is
//! [`Failure::InvalidInput`], 400. A failure after `/login` obtained T still sets the
//! cookie to T (the old token is gone). After the store call, `/devices` and
//! `/logout-everywhere` save the (unchanged) session as every route does (a touch with an
//! idle timeout).

mod account;
mod answer;
mod cookie;
mod record;
mod redact;
mod session;
mod time;

pub use account::{devices_json, revoked_json, Login, LoginOutcome, NewToken, JSON_CONTENT_TYPE, LOGGED_IN, USER_KEY};
pub use answer::{Answer, Failure, RETRY_AFTER_S};
pub use cookie::{max_age_s, CookieSpec, DEFAULT_COOKIE_NAME, MAX_AGE_CAP_S};
pub use record::Record;
pub use redact::redact_credentials;
pub use session::{Plan, Saved, Session, Status};
pub use time::{millis, offset, MAX_TIMESTAMP};
