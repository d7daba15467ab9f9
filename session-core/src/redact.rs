//! Credentials out of log lines: a store's error message may quote a database URL as it
//! was configured, `user:password@` included.

use std::borrow::Cow;

/// `message` with the user information of every URL in it (`scheme://user:pass@host`)
/// replaced by `***`: `scheme://***@host`. Text without such a URL is returned as is.
pub fn redact_credentials(message: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut rest = message;
    let mut changed = false;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The authority ends where a path, query, fragment, quote or space begins.
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'' | '`') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(userinfo_end) => {
                out.push_str("***");
                out.push_str(&authority[userinfo_end..]);
                changed = true;
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    if !changed {
        return Cow::Borrowed(message);
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_of_a_quoted_database_url_is_replaced() {
        let message = r#"SESSIONS_DATABASE="http://user:s3cret@127.0.0.1:1": give only scheme, host and port"#;
        assert_eq!(
            redact_credentials(message),
            r#"SESSIONS_DATABASE="http://***@127.0.0.1:1": give only scheme, host and port"#
        );
    }

    #[test]
    fn every_url_is_redacted_and_the_rest_kept() {
        assert_eq!(
            redact_credentials("a libsql://u:p@x.turso.io/path and https://k@h?q=1 end"),
            "a libsql://***@x.turso.io/path and https://***@h?q=1 end"
        );
        assert_eq!(
            redact_credentials("http://a:b@c@d"),
            "http://***@d",
            "the last @ ends the user information"
        );
    }

    #[test]
    fn text_without_credentials_is_untouched() {
        for message in [
            "",
            "cannot reach the libSQL server at http://127.0.0.1:8080",
            "no url",
            "x://",
            "mail a@b",
        ] {
            assert!(
                matches!(redact_credentials(message), Cow::Borrowed(m) if m == message),
                "{message}"
            );
        }
    }
}
