#![doc = include_str!("../README.md")]

use async_trait::async_trait;
use libsqlstore_host::{ComponentStore, StoreError};
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::session_store::{self, ExpiredDeletion};
use tower_sessions_core::SessionStore;

/// How many ids `create` tries before deciding the id source is broken. With 128-bit random
/// ids a single collision is already beyond belief.
const CREATE_ATTEMPTS: usize = 8;

/// Why a store call failed, before it becomes a [`session_store::Error`].
#[derive(Debug, thiserror::Error)]
pub enum LibsqlStoreError {
    /// The component refused or could not run the call (→ `Backend`).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A record could not be encoded as MessagePack (→ `Encode`).
    #[error(transparent)]
    Encode(#[from] rmp_serde::encode::Error),
    /// Stored data is not a MessagePack record (→ `Decode`).
    #[error(transparent)]
    Decode(#[from] rmp_serde::decode::Error),
    /// `create` found every id it drew taken (→ `Backend`).
    #[error("{CREATE_ATTEMPTS} freshly drawn session ids were all taken")]
    IdsExhausted,
}

impl From<LibsqlStoreError> for session_store::Error {
    fn from(e: LibsqlStoreError) -> Self {
        match e {
            LibsqlStoreError::Store(_) | LibsqlStoreError::IdsExhausted => {
                session_store::Error::Backend(e.to_string())
            }
            LibsqlStoreError::Encode(inner) => session_store::Error::Encode(inner.to_string()),
            LibsqlStoreError::Decode(inner) => session_store::Error::Decode(inner.to_string()),
        }
    }
}

/// A tower-sessions store over one libsqlstore database ([`ComponentStore`]). Clones share
/// the same component instance.
#[derive(Clone)]
pub struct LibsqlStore {
    store: ComponentStore,
}

impl std::fmt::Debug for LibsqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LibsqlStore").finish_non_exhaustive()
    }
}

impl LibsqlStore {
    /// A store over `store`'s database; its table and settings are the component's
    /// (`SESSIONS_*` in [`libsqlstore_host::StoreOptions`]).
    pub fn new(store: ComponentStore) -> Self {
        LibsqlStore { store }
    }

    /// The component store underneath, for what tower-sessions has no words for: owners
    /// (`set_owner`, `sessions_of`, `revoke_owner`; a session's token is its
    /// `Session::id()` as a string), `stats`, `cleanup_interval`.
    pub fn component_store(&self) -> &ComponentStore {
        &self.store
    }

    async fn try_create(&self, record: &mut Record) -> Result<(), LibsqlStoreError> {
        for _ in 0..CREATE_ATTEMPTS {
            let token = record.id.to_string();
            if self.store.insert(&token, encode(record)?, expiry_ms(record)).await? {
                return Ok(());
            }
            record.id = Id::default();
        }
        Err(LibsqlStoreError::IdsExhausted)
    }

    async fn try_save(&self, record: &Record) -> Result<(), LibsqlStoreError> {
        // False when the session ended meanwhile (deleted, cycled or expired): it stays ended.
        self.store.update(&record.id.to_string(), encode(record)?, expiry_ms(record)).await?;
        Ok(())
    }

    async fn try_load(&self, id: &Id) -> Result<Option<Record>, LibsqlStoreError> {
        match self.store.find(&id.to_string()).await? {
            Some(data) => Ok(Some(decode(*id, &data)?)),
            None => Ok(None),
        }
    }

    /// Sweeps until none is left; a sweep that removed nothing ends it too (the next
    /// period goes on), so the loop always ends.
    async fn try_delete_expired(&self) -> Result<(), LibsqlStoreError> {
        loop {
            let report = self.store.sweep().await?;
            if !report.more || report.removed == 0 {
                return Ok(());
            }
        }
    }
}

#[async_trait]
impl SessionStore for LibsqlStore {
    /// Stores the record under its id, or under a freshly drawn one if that id is already
    /// stored (even expired): never overwrites another session.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        Ok(self.try_create(record).await?)
    }

    /// Replaces the data and expiry of the record's session if it is still active, and
    /// does nothing otherwise: a save racing a delete (logout) or `cycle_id` never brings
    /// the old session back. Group-committed with concurrent writes.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        Ok(self.try_save(record).await?)
    }

    /// The record of an active session; `None` if unknown or expired by the store's clock.
    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        Ok(self.try_load(session_id).await?)
    }

    /// Removes the session; an unknown id is not an error.
    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        Ok(self.store.delete(&session_id.to_string()).await.map_err(LibsqlStoreError::from)?)
    }
}

#[async_trait]
impl ExpiredDeletion for LibsqlStore {
    /// Sweeps until no expired session is left, each sweep bounded (`SESSIONS_SWEEP_BATCH`
    /// rows, in short transactions), so other calls run between them.
    async fn delete_expired(&self) -> session_store::Result<()> {
        Ok(self.try_delete_expired().await?)
    }
}

/// The record as tower-sessions' own stores encode it (rmp-serde), its id zeroed: the
/// database keys sessions by a hash of the id, and the data must not give the id away.
fn encode(record: &Record) -> Result<Vec<u8>, rmp_serde::encode::Error> {
    rmp_serde::to_vec(&(Id(0), &record.data, &record.expiry_date))
}

/// A stored record, given back the id it was found under.
fn decode(id: Id, data: &[u8]) -> Result<Record, rmp_serde::decode::Error> {
    let record: Record = rmp_serde::from_slice(data)?;
    Ok(Record { id, ..record })
}

/// The record's expiry in Unix milliseconds; a date before 1970 is 0 (expired).
fn expiry_ms(record: &Record) -> u64 {
    u64::try_from(record.expiry_date.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}
