//! Which keys `/set?key=K&value=V` may set: [`check_key`].

use crate::account::USER_KEY;
use crate::answer::Failure;

/// The longest key `/set` takes, in bytes.
pub const MAX_KEY_BYTES: usize = 64;

/// Ok for a key `/set` may store; else [`Failure::InvalidKey`]: empty, over
/// [`MAX_KEY_BYTES`], with control characters, or [`USER_KEY`] (only `/login` sets the
/// user, together with the store's owner).
pub fn check_key(key: &str) -> Result<(), Failure> {
    let valid = !key.is_empty()
        && key.len() <= MAX_KEY_BYTES
        && !key.chars().any(char::is_control)
        && key != USER_KEY;
    if valid {
        Ok(())
    } else {
        Err(Failure::InvalidKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_keys_up_to_the_limit_are_taken() {
        for key in ["cart", "theme", "ünï", &"k".repeat(MAX_KEY_BYTES), "message"] {
            assert_eq!(check_key(key), Ok(()), "{key:?}");
        }
    }

    #[test]
    fn empty_long_control_and_the_user_key_are_refused() {
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        for key in ["", &long, "a\nb", "tab\t", "\u{7f}", "user"] {
            assert_eq!(check_key(key), Err(Failure::InvalidKey), "{key:?}");
        }
    }
}
