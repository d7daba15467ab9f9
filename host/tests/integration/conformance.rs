//! Tests that run once per backend: a database file, and a real `sqld`.

use libsqlstore_host::{ComponentStore, StoreOptions};

use crate::common::runtime;
use crate::common::sqld::Sqld;

/// Which backend a conformance test runs against.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    File,
    Sqld,
}

/// A database of the chosen backend, and options that reach it.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub sqld: Option<Sqld>,
}

impl Fixture {
    pub fn new(backend: Backend) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let sqld = match backend {
            Backend::File => None,
            Backend::Sqld => {
                Some(Sqld::start(dir.path(), None).expect("sqld starts (./dev setup installs it)"))
            }
        };
        Fixture { dir, sqld }
    }

    /// Options for a new instance on this fixture's database.
    pub fn options(&self) -> StoreOptions {
        let options = StoreOptions::in_dir(self.dir.path());
        match &self.sqld {
            Some(sqld) => options.env("SESSIONS_DATABASE", sqld.url()),
            None => options,
        }
    }
}

pub fn open(options: StoreOptions) -> ComponentStore {
    ComponentStore::open(runtime(), options).expect("store opens")
}

/// Runs each listed `async fn(Backend)` once per backend, as separately named tests.
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod file_backend {
            $( #[tokio::test] async fn $test() { super::$test($crate::conformance::Backend::File).await } )*
        }
        mod sqld_backend {
            $( #[tokio::test] async fn $test() { super::$test($crate::conformance::Backend::Sqld).await } )*
        }
    };
}
pub(crate) use conformance;
