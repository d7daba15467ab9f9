//! The session logic every libsqlstore host shares, with no I/O: the record a session is
//! stored as, the session cookie, the arithmetic of deadlines, the decision of what a
//! request's save must do, and which methods each route answers. The async wasmtime host
//! (`libsqlstore-host`) and the sync wasi:http guest (`examples/edge-app`) both use this
//! crate; the JavaScript hosts (`packages/libsqlstore-js/sessions.js`) follow the same contract.
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
//!   integer no larger than [`MAX_TIMESTAMP`]. The store keeps it too (the 0.3 `deadlines`);
//!   it travels with the values so that a host of the 0.2 interface, whose store has no
//!   deadline of its own, never extends a session past it either.
//! - `values`: the session's key/value map; values are any JSON.
//!
//! Writers put `deadline` first and emit no whitespace; readers ignore fields they do not
//! know. Data that is not such an object (or not UTF-8 JSON) is not a session: the request
//! starts a fresh one, it never fails. See [`Record`].
//!
//! # A request's session
//!
//! Hosts call the store's `edge:sessions/store@0.3.0` interface: the store keeps each
//! session's absolute deadline and idle timeout itself, and a version that changes with
//! every write.
//!
//! 1. [`Session::fresh`] when the request has no session cookie ([`CookieSpec::token`]),
//!    else the store's `find` answer for the token (data and version) goes to
//!    [`Session::from_store`]: a malformed, unknown, expired or forged token gives a fresh
//!    session, and saving a fresh session draws a new token from the store (`create`), so a
//!    client never picks its token. `find` records the read itself (last seen; the idle
//!    timeout slid, never past the absolute deadline): a request that only reads stores
//!    nothing.
//! 2. The handler reads and changes it ([`Session::get`], [`Session::put`],
//!    [`Session::renew`], [`Session::destroy`]).
//! 3. [`Session::save`] gives a [`Save`]: the host makes the store call each [`Step`]
//!    names and hands the answer back, until [`Step::Done`] says what happened as a
//!    [`Saved`]; [`CookieSpec::set_cookie`] gives the `Set-Cookie` value for it, and
//!    [`Failure::answer`] the HTTP answer when it failed. A new session is created with a
//!    label for `/devices` ([`device_label`] of the request's `User-Agent`).
//!
//! Error answers are fixed texts ([`Failure`]); the store's own message goes to the
//! server's log, through [`redact_credentials`].
//!
//! No lost updates: an existing session is written only by the store's conditional
//! `update(token, data, version)`. When another request saved first, the save reads the
//! session again and puts this request's own values over the newer ones, key by key, at
//! most [`SAVE_ATTEMPTS`] times ([`Saved::Conflict`], 409, when that is not enough; the
//! session lives on, nothing of this request stored). Logout and renewal stay final: a
//! save that finds its session gone stores nothing ([`Saved::EndedMeanwhile`], 409).
//!
//! # The one-value routes
//!
//! - `POST /set?key=K&value=V`: stores the string V under K and leaves every other value;
//!   200 `stored\n`. No `key`: 400 ([`Failure::MissingKey`]); a key that is empty, over
//!   [`MAX_KEY_BYTES`], holds control characters or is `user` (set only by `/login`): 400
//!   ([`Failure::InvalidKey`], [`check_key`]); no `value`: the empty string. Concurrent
//!   `/set`s of one session each keep their value (see "No lost updates" above).
//! - `/get?key=K` (GET or HEAD): the value of K as text (a string as it is, another JSON
//!   value as JSON), empty when there is none; `/get` alone answers the `message` value.
//!
//! # Routes and methods
//!
//! Every host serves the same paths ([`Route`]); which methods each answers is
//! [`Route::methods`], and a host checks it ([`Route::check`]) before anything else:
//!
//! - Reads, `/get` and `/devices`: GET and HEAD.
//! - `/set`, and the routes that end, rotate or log in a session, `/renew`, `/destroy`,
//!   `/login?user=NAME` and `/logout-everywhere`: POST only (query parameters as they are;
//!   no body needed). The session cookie is `SameSite=Lax`, which a browser still sends
//!   with a cross-site GET (a link, a redirect): were these routes to answer GET, a link
//!   on another site could log the user out everywhere, end or rotate their session, or log
//!   their browser in as someone else (login CSRF). Lax keeps the cookie off cross-site
//!   POSTs, so another site's form cannot act on the user's session. (Such a form can still
//!   POST `/login` and have the browser keep the fresh session's cookie: an application
//!   that copies these routes checks `Origin` or a CSRF token on its login as well.)
//! - `/put?message=TEXT`: GET and POST. GET stays because it is the demo's and the
//!   benchmark's write, and all it can do is replace the demo message in the requester's
//!   own session: it cannot end, rotate or log in any session. Applications that copy these
//!   routes should make their own writes POST.
//!
//! Any other method on one of these paths is answered 405 ([`Failure::MethodNotAllowed`]):
//! `Allow` lists the route's methods ([`Route::allow`]: `POST`, `GET, HEAD`, `GET, POST`),
//! the body is the fixed text `method not allowed; use POST\n` (`use GET or HEAD`, `use GET
//! or POST`), and nothing is loaded, changed or saved: no store call, no `Set-Cookie`. A
//! path that is no route is 404 ([`NOT_FOUND`]) whatever the method. Methods are
//! case-sensitive, as HTTP has them. In a router:
//!
//! ```
//! use session_core::{Failure, Route};
//!
//! fn gate(path: &str, method: &str) -> Result<Route, Option<Failure>> {
//!     let route = Route::of(path).ok_or(None)?; // None: 404
//!     route.check(method).map_err(Some)?; // 405 with Failure::answer().allow
//!     Ok(route)
//! }
//! assert_eq!(gate("/renew", "POST"), Ok(Route::Renew));
//! let refused = gate("/logout-everywhere", "GET").unwrap_err().unwrap().answer();
//! assert_eq!((refused.status, refused.allow), (405, Some("POST")));
//! assert_eq!(gate("/nope", "POST"), Err(None));
//! ```
//!
//! # The logged-in user
//!
//! A session is logged in when its values hold `"user": NAME` ([`USER_KEY`],
//! [`Session::user`]); the store's owner of that session (`set-owner`) is the same NAME.
//! Every host serves three routes on it, each loading the request's session first as every
//! route does:
//!
//! - `POST /login?user=NAME`: see [`Login`] for the store calls, in order: the
//!   request's active session is rotated (`rotate(token, deadlines)`), or a fresh
//!   anonymous one created when there is none or `rotate` answers none; then
//!   `set-owner(T, some(NAME))`, then the user value saved into T as every save is
//!   (`find(T)`, then the conditional `update`).
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
//! - `/devices` (GET or HEAD): not logged in → 401 `not logged in\n` ([`Failure::NotLoggedIn`]). Else
//!   200, `Content-Type: application/json` ([`JSON_CONTENT_TYPE`]), the body
//!   `{"sessions":[{"id":"…","expiry":MS,"created":MS,"last_seen":MS,"label":"…"},…]}`
//!   ([`devices_json`]; `null` where the store recorded nothing) from `sessions-of(user)`
//!   in the store's order (soonest expiry first). Ids are the store's (base64url of the
//!   SHA-256 of the token), never tokens.
//! - `POST /logout-everywhere`: not logged in → 401 as above. Else `revoke-owner(user,
//!   some(token))`: every other session of the user ends, this one stays; 200,
//!   `application/json`, `{"revoked":N}` ([`revoked_json`]).
//!
//! JSON bodies have no trailing newline. Store failures on these routes are answered as on
//! every route ([`Failure`]: 503 with `Retry-After` when unavailable, details only in the
//! server's log); `invalid-input` (e.g. a stored user the store refuses as an owner) is
//! [`Failure::InvalidInput`], 400. A failure after `/login` obtained T still sets the
//! cookie to T (the old token is gone). After the store call, `/devices` and
//! `/logout-everywhere` save the (unchanged) session as every route does (nothing to
//! store).

mod account;
mod answer;
mod cookie;
mod label;
mod record;
mod redact;
mod route;
mod session;
mod time;
mod values;

pub use account::{
    devices_json, revoked_json, Device, Login, LoginOutcome, NewToken, JSON_CONTENT_TYPE,
    LOGGED_IN, USER_KEY,
};
pub use answer::{Answer, Failure, RETRY_AFTER_S};
pub use cookie::{max_age_s, CookieSpec, DEFAULT_COOKIE_NAME, MAX_AGE_CAP_S};
pub use label::device_label;
pub use record::Record;
pub use redact::redact_credentials;
pub use route::{Route, NOT_FOUND};
pub use session::{Deadlines, Save, Saved, Session, Status, Step, SAVE_ATTEMPTS};
pub use time::{millis, offset, MAX_TIMESTAMP};
pub use values::{check_key, MAX_KEY_BYTES};
