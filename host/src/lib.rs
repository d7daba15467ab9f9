//! Embed the libsqlstore session-store component in a wasmtime host.
//!
//! The library is what an application links; the `host-example` binary in the same
//! repository is a demo server and cron command built on it.
//!
//! # Map
//!
//! | item | what it holds |
//! |---|---|
//! | [`Runtime`] | the compiled component, once per process: engine, `InstancePre`, epoch ticker |
//! | [`http_pool`] | the guest's outgoing HTTP over kept-alive connections, pooled per runtime |
//! | [`compiled`] | compiled components cached on disk, checked before use, for fast starts |
//! | [`ComponentStore`] | a handle on one database: one instance behind a FIFO mutex, every call bounded |
//! | `group_commit` | writes that wait for the instance, sent together as one `write-all` transaction |
//! | [`StoreOptions`] | where a store's data lives, its `SESSIONS_*` settings, memory and time bounds |
//! | [`HostClock`] | the wall clock the guest reads (Unix milliseconds), adjustable in tests |
//! | [`StoreError`], [`LoadError`] | what a call or a set-up step can fail with, typed |
//! | [`lockrecovery`] | the host's half of the component's lock protocol: owner files, dead-lock recovery |
//! | [`SessionManager`] | cookies and the session record over a store; logout and renewal are final; login, devices, logout everywhere |
//! | [`Sweeper`], [`Schedule`] | sweeps on a timer or a cron expression |
//! | [`server`] | (feature `server`) the demo's HTTP routes over a [`SessionManager`] |
//!
//! The README's "Embedding the library" snippet is the example; it is compiled as a
//! doctest of this crate (`cargo test -p libsqlstore-host --doc`).

mod bindings {
    wasmtime::component::bindgen!({
        world: "session-store",
        path: "wit",
        // Calls run on the caller's async task (see `store`); WASI's host side is async.
        exports: { default: async },
    });
}

pub mod clock;
pub mod compiled;
pub mod error;
mod group_commit;
pub mod http_pool;
pub mod lockrecovery;
pub mod options;
pub mod runtime;
pub mod scheduler;
#[cfg(feature = "server")]
pub mod server;
pub mod session;
pub mod store;

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
pub use store::{ComponentStore, SessionCounts, SessionInfo, SweepReport};
