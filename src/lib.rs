//! libsqlstore: an HTTP session store as a WebAssembly component, kept in libSQL.
//!
//! The semantics live in plain Rust ([`store::SessionStore`] over a [`backend::Backend`]),
//! unit-tested natively; `component` is the thin `wasm32` glue that exports them through
//! the WIT interface in `wit/sessions.wit`.

pub mod backend;
pub mod clock;
pub mod config;
pub mod error;
pub mod lockfile;
pub mod schema;
pub mod store;
pub mod token;

#[cfg(target_arch = "wasm32")]
mod component;

pub use backend::local::LocalBackend;
pub use config::Config;
pub use error::Error;
pub use store::SessionStore;

/// Opens the store `config` describes (the embedded backend).
pub fn open(config: &Config) -> error::Result<SessionStore<LocalBackend>> {
    Ok(SessionStore::new(LocalBackend::open(config)?, config))
}
