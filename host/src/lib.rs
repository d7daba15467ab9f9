//! Embed the libsqlstore session-store component in a wasmtime host: a typed, thread-safe
//! session store ([`ComponentStore`]) whose every call runs the component, bounded in memory
//! and time, plus cookies and sessions over it ([`SessionManager`]) and sweeps on a timer.
//!
//! # Getting the component
//!
//! The component is `libsqlstore.wasm`, built from the libsqlstore crate with
//! `cargo build --release --target wasm32-wasip2` (in its repository: `./dev build`, giving
//! `target/wasm32-wasip2/release/libsqlstore.wasm`). An application loads it from a path
//! ([`Runtime::load`], or [`Runtime::load_cached`] to keep the compiled code on disk), or
//! embeds its bytes in its own binary and hands them over:
//!
//! ```no_run
//! # fn main() -> Result<(), libsqlstore_host::LoadError> {
//! // let bytes = include_bytes!("../libsqlstore.wasm");
//! # let bytes: &[u8] = &[];
//! let runtime = libsqlstore_host::Runtime::from_bytes(bytes)?;
//! # Ok(()) }
//! ```
//!
//! # Map
//!
//! | item | what it holds |
//! |---|---|
//! | [`Runtime`] | the compiled component, once per process: engine, `InstancePre`, epoch ticker |
//! | [`http_pool`] | the guest's outgoing HTTP over kept-alive connections, per runtime |
//! | [`compiled`] | compiled components cached on disk, checked before use, for fast starts |
//! | [`ComponentStore`] | one database: its instances, every call bounded |
//! | `pool` | a store's instances: one for a file, several for a libSQL server, leased per call |
//! | `group_commit` | writes waiting for the next `write-all` transaction, one at a time |
//! | [`StoreOptions`] | where a store's data lives, its `SESSIONS_*` settings, its bounds |
//! | [`datadir`] | the data directory, created readable by this user only |
//! | [`HostClock`] | the wall clock the guest reads (Unix milliseconds), adjustable in tests |
//! | [`StoreError`], [`LoadError`] | what a call or a set-up step can fail with, typed |
//! | [`lockrecovery`] | the host's half of the lock protocol: owner files, dead-lock recovery |
//! | [`SessionManager`] | cookies and session records over a store; no lost updates, final logout and renewal |
//! | `turns` | one session's saves in this process, one at a time |
//! | [`Sweeper`], [`Schedule`] | sweeps on a timer or a cron expression |
//! | [`server`] | (feature `server`) HTTP routes of the session contract over a manager |
//! | [`connections`] | (feature `server`) connections bounded in head-read time and number |
//!
//! The README's "Embedding the library" snippet is the fuller example; it is compiled as a
//! doctest of this crate (`cargo test -p libsqlstore-host --doc`). The `host-example` demo
//! server and cron command in the same repository are built on this crate.

mod bindings;
pub mod clock;
pub mod compiled;
#[cfg(feature = "server")]
pub mod connections;
pub mod datadir;
pub mod error;
mod group_commit;
pub mod http_pool;
pub mod lockrecovery;
pub mod options;
mod pool;
pub mod runtime;
pub mod scheduler;
#[cfg(feature = "server")]
pub mod server;
pub mod session;
pub mod store;
mod turns;

/// The README's Rust code, compiled by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

pub use clock::HostClock;
pub use error::{LoadError, StoreError};
pub use http_pool::PoolSettings;
pub use options::StoreOptions;
pub use runtime::Runtime;
pub use scheduler::{Schedule, Sweeper};
pub use session::{LoginError, SessionConfig, SessionManager};
pub use store::{
    ComponentStore, Deadlines, Device, SessionCounts, SessionInfo, StoredSession, SweepReport,
};
