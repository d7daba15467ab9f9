//! The session cookie: finding the token in a `Cookie:` header, and `Set-Cookie` values.
//!
//! Every cookie set carries `Path=/`, `HttpOnly` (scripts cannot read it) and
//! `SameSite=Lax` (cross-site posts do not send it), plus `Secure` when configured (send it
//! over HTTPS only). `Max-Age` is the time left until the session's expiry in whole
//! seconds **rounded up**, so a session with 0.4 s left is not dropped by the browser
//! before the store drops it (the store, not the cookie, decides when a session ends), and
//! capped at [`MAX_AGE_CAP_S`].

use crate::session::Saved;

/// The cookie's name unless a host configures another.
pub const DEFAULT_COOKIE_NAME: &str = "session";

/// The largest `Max-Age` sent: 400 days, the limit RFC 6265bis makes browsers apply anyway.
pub const MAX_AGE_CAP_S: u64 = 400 * 24 * 3600;

/// `Max-Age` for a session that expires at `expiry_ms` seen at `now_ms`: seconds left,
/// rounded up, 0 once expired, at most [`MAX_AGE_CAP_S`].
pub fn max_age_s(expiry_ms: u64, now_ms: u64) -> u64 {
    expiry_ms.saturating_sub(now_ms).div_ceil(1000).min(MAX_AGE_CAP_S)
}

/// The session cookie's name and flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSpec {
    /// The cookie's name; [`DEFAULT_COOKIE_NAME`] by default.
    pub name: String,
    /// Add `Secure` (the site is served over HTTPS).
    pub secure: bool,
}

impl Default for CookieSpec {
    fn default() -> Self {
        CookieSpec { name: DEFAULT_COOKIE_NAME.to_owned(), secure: false }
    }
}

impl CookieSpec {
    /// The value of this cookie in a `Cookie:` header (`a=1; session=tok; b=2`), if present:
    /// the first pair with this name, spaces around name and value trimmed. The value is
    /// not checked here; the store refuses a malformed token and the request then starts
    /// a fresh session.
    pub fn token<'h>(&self, header: &'h str) -> Option<&'h str> {
        header.split(';').find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            (name.trim() == self.name).then(|| value.trim())
        })
    }

    /// A cookie carrying `token` until `expiry_ms` (see the module docs for `Max-Age`).
    pub fn set(&self, token: &str, expiry_ms: u64, now_ms: u64) -> String {
        self.format(token, max_age_s(expiry_ms, now_ms))
    }

    /// A cookie that makes the browser forget the session.
    pub fn clear(&self) -> String {
        self.format("", 0)
    }

    /// The `Set-Cookie` value to send after a save that ended as `saved`, if any.
    pub fn set_cookie(&self, saved: &Saved, now_ms: u64) -> Option<String> {
        match saved {
            Saved::Unchanged | Saved::Conflict => None,
            Saved::Live { token, expiry } => Some(self.set(token, *expiry, now_ms)),
            Saved::Ended | Saved::EndedMeanwhile => Some(self.clear()),
        }
    }

    fn format(&self, value: &str, max_age_s: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}={value}; Path=/; Max-Age={max_age_s}; HttpOnly; SameSite=Lax{secure}",
            self.name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_767_225_600_000;

    #[test]
    fn the_token_is_found_among_other_cookies() {
        let spec = CookieSpec::default();
        assert_eq!(spec.token("a=1; session=tok; b=2"), Some("tok"));
        assert_eq!(spec.token("session=tok"), Some("tok"));
        assert_eq!(spec.token(" session = tok ;x=y"), Some("tok"));
        assert_eq!(spec.token("session=first; session=second"), Some("first"));
        assert_eq!(spec.token("session="), Some(""));
        assert_eq!(spec.token("session=a=b"), Some("a=b"));
    }

    #[test]
    fn other_cookies_and_garbage_have_no_token() {
        let spec = CookieSpec::default();
        for header in ["", "garbage", "sessionx=1", "xsession=1", "session", ";;;"] {
            assert_eq!(spec.token(header), None, "{header:?}");
        }
        let named = CookieSpec { name: "sid".into(), secure: false };
        assert_eq!(named.token("session=a; sid=b"), Some("b"));
    }

    #[test]
    fn a_set_cookie_carries_every_flag() {
        let plain = CookieSpec::default();
        assert_eq!(
            plain.set("tok", NOW + 86_400_000, NOW),
            "session=tok; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax"
        );
        let secure = CookieSpec { secure: true, ..CookieSpec::default() };
        assert_eq!(
            secure.set("tok", NOW + 1000, NOW),
            "session=tok; Path=/; Max-Age=1; HttpOnly; SameSite=Lax; Secure"
        );
        assert_eq!(secure.clear(), "session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure");
        assert_eq!(plain.clear(), "session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
    }

    #[test]
    fn max_age_rounds_up_to_whole_seconds_and_is_zero_once_expired() {
        assert_eq!(max_age_s(NOW + 86_400_000, NOW), 86_400);
        assert_eq!(max_age_s(NOW + 86_399_001, NOW), 86_400);
        assert_eq!(max_age_s(NOW + 1, NOW), 1);
        assert_eq!(max_age_s(NOW, NOW), 0);
        assert_eq!(max_age_s(NOW - 5000, NOW), 0);
    }

    #[test]
    fn max_age_is_capped_at_400_days() {
        assert_eq!(max_age_s(u64::MAX, NOW), MAX_AGE_CAP_S);
        assert_eq!(max_age_s(NOW + MAX_AGE_CAP_S * 1000 + 1, NOW), MAX_AGE_CAP_S);
        assert_eq!(max_age_s(NOW + (MAX_AGE_CAP_S - 1) * 1000, NOW), MAX_AGE_CAP_S - 1);
    }

    #[test]
    fn the_cookie_follows_what_the_save_did() {
        let spec = CookieSpec::default();
        assert_eq!(spec.set_cookie(&Saved::Unchanged, NOW), None);
        assert_eq!(
            spec.set_cookie(&Saved::Live { token: "t".into(), expiry: NOW + 2500 }, NOW).as_deref(),
            Some("session=t; Path=/; Max-Age=3; HttpOnly; SameSite=Lax")
        );
        assert_eq!(spec.set_cookie(&Saved::Ended, NOW), Some(spec.clear()));
        assert_eq!(spec.set_cookie(&Saved::EndedMeanwhile, NOW), Some(spec.clear()));
    }
}
