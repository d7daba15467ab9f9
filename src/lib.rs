//! libsqlstore: an HTTP session store as a WebAssembly component, kept in libSQL.
//!
//! The semantics live in plain Rust ([`store::SessionStore`] over a [`backend::Backend`]),
//! unit-tested natively; `component` is the thin `wasm32` glue that exports them through
//! the WIT interfaces in `wit/v0.3/sessions.wit` (0.3) and `wit/sessions.wit` (0.2).

pub mod backend;
pub mod clock;
pub mod config;
pub mod error;
pub mod lockfile;
pub mod schema;
pub mod store;
pub mod token;

#[cfg(test)]
mod testing;

#[cfg(target_arch = "wasm32")]
mod component;

pub use backend::local::LocalBackend;
pub use config::Config;
pub use error::Error;
pub use store::SessionStore;

/// Opens the store `config` describes: embedded (a file or `:memory:`) or remote.
pub fn open(config: &Config) -> error::Result<SessionStore<Box<dyn backend::Backend>>> {
    let backend: Box<dyn backend::Backend> = match &config.database {
        config::Database::Remote(url) => backend::remote::open(url, config)?,
        config::Database::File(_) | config::Database::Memory => {
            Box::new(LocalBackend::open(config)?)
        }
    };
    Ok(SessionStore::new(backend, config))
}
