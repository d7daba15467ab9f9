//! Errors of the embedding API.

use std::path::PathBuf;

/// Why a store call failed: the component's own typed error, or a host-side fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Token empty, longer than 256 bytes, or containing whitespace/control characters.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// An owner or a session id that is empty, longer than 256 bytes, or contains control
    /// characters; says which and why. Nothing was changed.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Session data larger than the configured limit (bytes).
    #[error("session data exceeds the limit of {0} bytes")]
    TooLarge(u64),
    /// A `SESSIONS_*` setting is malformed.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The database cannot be opened or reached right now.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other database failure.
    #[error("storage error: {0}")]
    Storage(String),
    /// The guest trapped, ran past its deadline, or exceeded its memory limit. The
    /// instance was discarded; the next call gets a fresh one.
    #[error("the session-store component failed: {0}")]
    Guest(String),
    /// The store was closed (shutdown) before the call could run.
    #[error("the session store is closed")]
    Closed,
}

impl StoreError {
    /// True for faults that say "try again later" (HTTP 503), not "bad request".
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Guest(_) | StoreError::Closed)
    }
}

/// Why the component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "component {0} not found; build it with `cargo build --release --target wasm32-wasip2` \
         at the repository root (./dev build), or pass --component PATH"
    )]
    NotFound(PathBuf),
    #[error("{path} is not a usable WebAssembly component: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("the data directory {path} cannot be used: {reason}")]
    DataDir { path: PathBuf, reason: String },
    #[error("cannot set up the wasmtime engine: {0}")]
    Engine(String),
}
