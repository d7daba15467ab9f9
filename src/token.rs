//! Session tokens: what a valid one looks like, and how fresh ones are drawn.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

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

/// Where `create` gets its fresh tokens from. The production source is [`RandomTokens`];
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
