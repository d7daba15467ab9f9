//! Session tokens and the names stored beside them: what a valid token looks like, how
//! fresh ones are drawn, the id a token is stored under, and what a valid owner or id is.
//!
//! - [`validate`]: a caller's token (`InvalidToken`).
//! - [`id_of`]: the id the database keeps in place of a token. The store never writes a
//!   token: a leaked file or backup hands out no live session.
//! - [`validate_input`]: an owner or a listed id (`InvalidInput`).
//! - [`RandomTokens`]: where `create` and `rotate` get fresh tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Longest token accepted, in bytes. Longer ones are refused rather than truncated.
pub const MAX_TOKEN_BYTES: usize = 256;

/// Bytes of randomness in a token drawn by `create` (256 bits: guessing is hopeless,
/// collisions are not expected in the life of the universe but are handled anyway).
pub const TOKEN_ENTROPY_BYTES: usize = 32;

/// Checks a caller-supplied token (or pagination cursor).
///
/// Errors with `InvalidToken` when it is empty, longer than [`MAX_TOKEN_BYTES`], or holds
/// whitespace or control characters (which would not survive a cookie or a log line).
pub fn validate(token: &str) -> Result<()> {
    if token.is_empty() {
        return Err(Error::InvalidToken("the token is empty".into()));
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Error::InvalidToken(format!(
            "the token is {} bytes long; at most {MAX_TOKEN_BYTES} are accepted",
            token.len()
        )));
    }
    if let Some((at, c)) = token.char_indices().find(|(_, c)| c.is_whitespace() || c.is_control()) {
        return Err(Error::InvalidToken(format!(
            "the token contains whitespace or a control character ({c:?}) at byte {at}"
        )));
    }
    Ok(())
}

/// The id a session is stored and listed under: base64url without padding of the SHA-256 of
/// its token, 43 characters. One-way: an id never serves as a token (looking it up hashes
/// it again), so ids may be shown, logged and listed. No salt is needed: tokens carry 256
/// random bits, so there is no dictionary to precompute.
pub fn id_of(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// Checks an owner or a session id given by a caller; `what` names it in the message
/// ("owner", "id").
///
/// Errors with `InvalidInput` when it is empty, longer than [`MAX_TOKEN_BYTES`] bytes, or
/// holds control characters (spaces are allowed: an owner may be a display name).
pub fn validate_input(what: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::InvalidInput(format!("the {what} is empty")));
    }
    if value.len() > MAX_TOKEN_BYTES {
        return Err(Error::InvalidInput(format!(
            "the {what} is {} bytes long; at most {MAX_TOKEN_BYTES} are accepted",
            value.len()
        )));
    }
    if let Some((at, c)) = value.char_indices().find(|(_, c)| c.is_control()) {
        return Err(Error::InvalidInput(format!(
            "the {what} contains a control character ({c:?}) at byte {at}"
        )));
    }
    Ok(())
}

/// Where `create` and `rotate` get their fresh tokens from. The production source is [`RandomTokens`];
/// tests substitute a scripted one to force collisions.
pub trait TokenSource {
    fn draw(&mut self) -> Result<String>;
}

/// Tokens of [`TOKEN_ENTROPY_BYTES`] random bytes, base64url without padding (43
/// characters). The randomness is the OS's natively and `wasi:random` in the component.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomTokens;

impl TokenSource for RandomTokens {
    fn draw(&mut self) -> Result<String> {
        let mut bytes = [0u8; TOKEN_ENTROPY_BYTES];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::Unavailable(format!("no randomness for a new token: {e}")))?;
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_tokens_are_43_url_safe_characters_and_valid() {
        let token = RandomTokens.draw().expect("randomness");
        assert_eq!(token.len(), 43);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        validate(&token).expect("a drawn token is valid");
    }

    #[test]
    fn an_id_is_the_base64url_sha256_of_the_token() {
        // SHA-256("abc") = ba7816bf…15ad (FIPS 180-2, appendix B.1).
        assert_eq!(id_of("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
        let token = RandomTokens.draw().expect("randomness");
        assert_eq!(id_of(&token).len(), 43);
        assert_ne!(id_of(&token), token);
    }

    #[test]
    fn owners_and_ids_are_refused_when_empty_too_long_or_with_control_characters() {
        let long = "x".repeat(MAX_TOKEN_BYTES + 1);
        for bad in ["", "new\nline", "nul\0", long.as_str()] {
            assert!(matches!(validate_input("owner", bad), Err(Error::InvalidInput(_))), "{bad:?}");
        }
        validate_input("owner", "Ada Lovelace").expect("spaces are fine in an owner");
        validate_input("owner", &"x".repeat(MAX_TOKEN_BYTES))
            .expect("256 bytes is the limit, inclusive");
    }

    #[test]
    fn two_draws_differ() {
        assert_ne!(RandomTokens.draw().ok(), RandomTokens.draw().ok());
    }

    #[test]
    fn empty_long_and_whitespace_tokens_are_refused() {
        for bad in ["", " ", "a b", "tab\there", "nl\n", "nul\0", "\u{7f}"] {
            assert!(matches!(validate(bad), Err(Error::InvalidToken(_))), "{bad:?}");
        }
        assert!(matches!(validate(&"x".repeat(300)), Err(Error::InvalidToken(_))));
        validate(&"x".repeat(MAX_TOKEN_BYTES)).expect("256 bytes is the limit, inclusive");
    }
}
