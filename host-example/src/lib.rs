//! Embed the libsqlstore session-store component in a wasmtime host.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use host_example::{Runtime, SessionStore, StoreOptions};
//! let runtime = Runtime::load(&host_example::locate_component()?)?;
//! let store = SessionStore::open(&runtime, StoreOptions::in_dir("./data"))?;
//! let token = store.create(b"{}".to_vec(), u64::MAX).await?;
//! assert!(store.find(&token).await?.is_some());
//! # Ok(()) }
//! ```

mod bindings {
    wasmtime::component::bindgen!({
        world: "session-store",
        path: "../wit",
        // Calls run on the caller's async task (see `store`); WASI's host side is async.
        exports: { default: async },
    });
}

pub mod clock;
pub mod control;
pub mod error;
pub mod hostlock;
pub mod locate;
pub mod lockrecovery;
pub mod options;
pub mod runtime;
pub mod scheduler;
pub mod server;
pub mod session;
pub mod sqld;
pub mod store;

pub use clock::HostClock;
pub use error::{LoadError, StoreError};
pub use locate::locate_component;
pub use options::StoreOptions;
pub use runtime::Runtime;
pub use scheduler::{Schedule, Sweeper};
pub use session::{SessionConfig, SessionManager};
pub use store::{SessionCounts, SessionStore, SweepReport};
