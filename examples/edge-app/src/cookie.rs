//! The session cookie: finding it in a `Cookie:` header and writing `Set-Cookie` values.

/// Name of the cookie that carries the session token.
pub const NAME: &str = "session";

/// The value of the session cookie in a `Cookie:` header (`a=1; session=tok`), if present.
pub fn token(header: &str) -> Option<&str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == NAME).then_some(v)
    })
}

/// A cookie that carries `token` for `max_age_s` seconds; HttpOnly and SameSite=Lax so
/// scripts cannot read it and cross-site posts do not send it.
pub fn set(token: &str, max_age_s: u64) -> String {
    format!("{NAME}={token}; Path=/; Max-Age={max_age_s}; HttpOnly; SameSite=Lax")
}

/// A cookie that makes the browser forget the session.
pub fn clear() -> String {
    format!("{NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")
}
