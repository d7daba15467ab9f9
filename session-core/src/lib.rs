//! The session logic every libsqlstore host shares, with no I/O: the record a session is
//! stored as, the session cookie, the arithmetic of deadlines, and the decision of what a
//! request's save must do. The async wasmtime host (`host-example`) and the sync wasi:http
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

mod answer;
mod cookie;
mod record;
mod redact;
mod session;
mod time;

pub use answer::{Answer, Failure, RETRY_AFTER_S};
pub use cookie::{max_age_s, CookieSpec, DEFAULT_COOKIE_NAME, MAX_AGE_CAP_S};
pub use record::Record;
pub use redact::redact_credentials;
pub use session::{Plan, Saved, Session, Status};
pub use time::{millis, offset, MAX_TIMESTAMP};
