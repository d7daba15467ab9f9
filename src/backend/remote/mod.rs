//! The remote backend: a libSQL server (`sqld`, Turso) shared by many hosts, spoken to
//! with Hrana over HTTP through `wasi:http`.
//!
//! Every store operation is one HTTP round trip (a 0.3 `find` whose read is due to be
//! recorded: two, the first read-only): one `/v2/pipeline` request that runs the
//! operation and closes its stream, so no baton (server-side stream state) ever outlives a
//! call and a per-request host needs nothing from a previous instance. The
//! first request of an instance also carries the `CREATE … IF NOT EXISTS` statements,
//! so the server-side schema is created on first use without an extra round trip.
//! Multi-statement operations (sweep) run as one transactional Hrana batch.
//!
//! Every call is bounded: `SESSIONS_REMOTE_TIMEOUT` covers it from connecting to the last
//! byte of the answer, and `SESSIONS_REMOTE_MAX_RESPONSE` caps the answer's size (see
//! `transport`). A reply that does not have the shape its query implies is a `Storage`
//! error, never a default value (see `hrana`).
//!
//! Built only with the `remote` cargo feature (on by default), because it makes the
//! component import `wasi:http/outgoing-handler`; hosts without networking load the
//! local-only build (`--no-default-features`).

#[cfg(all(feature = "remote", target_arch = "wasm32"))]
mod backend;
#[cfg(feature = "remote")]
pub mod hrana;
#[cfg(all(feature = "remote", target_arch = "wasm32"))]
mod transport;

use super::Backend;
use crate::config::Config;
use crate::error::Result;

/// Opens the remote backend for the server at `url` (no network traffic yet).
#[cfg(all(feature = "remote", target_arch = "wasm32"))]
pub fn open(url: &str, config: &Config) -> Result<Box<dyn Backend>> {
    Ok(Box::new(backend::RemoteBackend::new(url, config)))
}

/// Without the `remote` feature (or natively, where there is no `wasi:http`), a server
/// URL is a configuration error that says which build to use.
#[cfg(not(all(feature = "remote", target_arch = "wasm32")))]
pub fn open(url: &str, _config: &Config) -> Result<Box<dyn Backend>> {
    Err(crate::error::Error::InvalidConfig(format!(
        "SESSIONS_DATABASE={}: this build has no remote backend (it was built without the \
         `remote` feature, or runs natively); use the default libsqlstore.wasm, or a file path",
        crate::config::redact_url(url)
    )))
}
