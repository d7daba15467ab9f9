//! The store's error type: the WIT `error` variant as plain Rust.

/// Why a store operation failed. Each case maps one-to-one onto the WIT `error` variant,
/// so the component glue only translates names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Token empty, longer than 256 bytes, or containing whitespace/control characters.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// An owner or a session id that is empty, longer than 256 bytes, or holds control
    /// characters; the message says which and why.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Session data larger than the configured limit; carries the limit in bytes.
    #[error("session data exceeds the limit of {0} bytes")]
    TooLarge(u64),
    /// A `SESSIONS_*` variable is malformed; the message names it and says why.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The database cannot be opened or reached; the message says what and how to fix it.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other database failure, with the engine's message.
    #[error("storage error: {0}")]
    Storage(String),
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
