//! The two things compared at store level: the component through the host library, and
//! its native floor: for a file or `:memory:`, the very same Rust code compiled natively
//! (identical schema, statements, pragmas and lock file); for a libSQL server, the `libsql`
//! crate's remote client running the same statements. Both run one operation at a time,
//! as a request handler would call them.

use std::path::Path;

use anyhow::Context;
use libsqlstore::backend::Backend;
use libsqlstore::Config;
use libsqlstore_host::{Runtime, StoreOptions};

use crate::remote_client::RemoteClient;
use crate::tokens::now_ms;

/// Where the sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// `sessions.db` in a directory on disk as `host-example serve` keeps it: exclusive
    /// locking (WAL, `synchronous=FULL`, the lock file held for the instance's life).
    File,
    /// The same file under the component's default shared locking (rollback journal,
    /// `synchronous=FULL`, the lock file around every operation), as hosts that run an
    /// instance per request use it.
    #[serde(rename = "file-shared")]
    FileShared,
    /// `:memory:`: no file, no lock, no fsync.
    Memory,
    /// A local libSQL server (sqld) on loopback, over HTTP.
    Remote,
}

impl Storage {
    pub fn label(self) -> &'static str {
        match self {
            Storage::File => "file",
            Storage::FileShared => "file-shared",
            Storage::Memory => ":memory:",
            Storage::Remote => "sqld",
        }
    }

    /// The key used in `bench-results.json`.
    pub fn key(self) -> &'static str {
        match self {
            Storage::Memory => "memory",
            Storage::Remote => "remote",
            other => other.label(),
        }
    }

    /// `SESSIONS_LOCKING` for a file; `None` where there is no file.
    fn locking(self) -> Option<&'static str> {
        match self {
            Storage::File => Some("exclusive"),
            Storage::FileShared => Some("shared"),
            Storage::Memory | Storage::Remote => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Native,
    Component,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Native => "native",
            Kind::Component => "component",
        }
    }
}

/// An open store of either kind.
pub enum Subject {
    /// Whatever `libsqlstore::open` returns: the backend the component itself picks.
    Native(libsqlstore::SessionStore<Box<dyn Backend>>),
    /// The libsql crate's remote client, for `Storage::Remote`.
    NativeRemote(Box<RemoteClient>),
    Component(libsqlstore_host::ComponentStore),
}

/// The database file a subject uses inside `dir` (the component sees `dir` as `/data`).
pub const DB_FILE: &str = "sessions.db";

impl Subject {
    /// Opens a store of `kind` on `dir/sessions.db` (or `:memory:`, or the server at
    /// `server`, a URL, for `Storage::Remote`), with the storage's locking and every other
    /// setting at its default.
    pub async fn open(
        kind: Kind,
        storage: Storage,
        dir: &Path,
        server: Option<&str>,
        runtime: &Runtime,
    ) -> anyhow::Result<Subject> {
        if storage == Storage::Remote {
            let url = server.context("a remote store needs a server URL")?;
            return Ok(match kind {
                Kind::Native => Subject::NativeRemote(Box::new(RemoteClient::connect(url).await?)),
                Kind::Component => {
                    let options = StoreOptions { data_dir: None, ..StoreOptions::default() }
                        .env("SESSIONS_DATABASE", url);
                    let store = libsqlstore_host::ComponentStore::open(runtime, options)?;
                    // The first call sends the schema; keep it out of the figures.
                    store.stats().await?;
                    Subject::Component(store)
                }
            });
        }
        let locking = storage.locking().unwrap_or("shared");
        let subject = match kind {
            Kind::Native => {
                let database = match storage.locking() {
                    Some(_) => dir.join(DB_FILE).to_str().context("non-UTF-8 path")?.to_owned(),
                    None => ":memory:".to_owned(),
                };
                let config = Config::from_vars([
                    ("SESSIONS_DATABASE", database.as_str()),
                    ("SESSIONS_LOCKING", locking),
                ])?;
                Subject::Native(libsqlstore::open(&config)?)
            }
            Kind::Component => {
                let options = match storage.locking() {
                    Some(_) => StoreOptions::in_dir(dir)
                        .env("SESSIONS_DATABASE", format!("/data/{DB_FILE}")),
                    None => StoreOptions { data_dir: None, ..StoreOptions::default() }
                        .env("SESSIONS_DATABASE", ":memory:"),
                }
                .env("SESSIONS_LOCKING", locking);
                let store = libsqlstore_host::ComponentStore::open(runtime, options)?;
                // The database is opened by the first call; keep that out of the figures.
                store.stats().await?;
                Subject::Component(store)
            }
        };
        Ok(subject)
    }

    pub async fn find(&mut self, token: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(match self {
            Subject::Native(s) => s.find(token)?,
            Subject::NativeRemote(s) => s.find(token, now_ms()).await?,
            Subject::Component(s) => s.find(token).await?,
        })
    }

    pub async fn commit(&mut self, token: &str, data: &[u8], expiry: u64) -> anyhow::Result<()> {
        match self {
            Subject::Native(s) => s.commit(token, data, expiry)?,
            Subject::NativeRemote(s) => s.commit(token, data, expiry, now_ms()).await?,
            Subject::Component(s) => s.commit(token, data.to_vec(), expiry).await?,
        }
        Ok(())
    }

    pub async fn touch(&mut self, token: &str, expiry: u64) -> anyhow::Result<bool> {
        Ok(match self {
            Subject::Native(s) => s.touch(token, expiry)?,
            Subject::NativeRemote(s) => s.touch(token, expiry, now_ms()).await?,
            Subject::Component(s) => s.touch(token, expiry).await?,
        })
    }

    pub async fn delete(&mut self, token: &str) -> anyhow::Result<()> {
        match self {
            Subject::Native(s) => s.delete(token)?,
            Subject::NativeRemote(s) => s.delete(token).await?,
            Subject::Component(s) => s.delete(token).await?,
        }
        Ok(())
    }

    pub async fn create(&mut self, data: &[u8], expiry: u64) -> anyhow::Result<String> {
        Ok(match self {
            Subject::Native(s) => s.create(data, expiry)?,
            Subject::NativeRemote(s) => s.create(data, expiry).await?,
            Subject::Component(s) => s.create(data.to_vec(), expiry).await?,
        })
    }

    /// Sweeps one batch; (rows removed, whether more remain).
    pub async fn sweep(&mut self) -> anyhow::Result<(u64, bool)> {
        Ok(match self {
            Subject::Native(s) => {
                let r = s.sweep()?;
                (r.removed, r.more)
            }
            Subject::NativeRemote(_) => anyhow::bail!("the sweep is measured on files only"),
            Subject::Component(s) => {
                let r = s.sweep().await?;
                (r.removed, r.more)
            }
        })
    }

    /// Releases the store (the component's instance, or the native connection) and the
    /// file's lock.
    pub async fn close(self) {
        match self {
            Subject::Component(s) => s.close().await,
            Subject::Native(s) => drop(s),
            Subject::NativeRemote(s) => drop(s),
        }
    }
}
