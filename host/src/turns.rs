//! [`Turns`]: one at a time per key, in this process. A [`SessionManager`](crate::SessionManager)
//! saves one session's concurrent requests in turn, so that they do not spend their
//! conditional updates against each other; requests of other processes still meet through
//! the store's versions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::{Mutex as TurnLock, OwnedMutexGuard};

/// Async locks by key, made on first use and forgotten once nobody holds or waits for one.
#[derive(Default)]
pub struct Turns {
    locks: Mutex<HashMap<String, Weak<TurnLock<()>>>>,
}

/// The turn of one key: others wait until it is dropped.
pub struct Turn {
    _guard: OwnedMutexGuard<()>,
}

impl Turns {
    /// Waits for the turn of `key` (first come, first served: tokio's mutex is fair).
    pub async fn take(&self, key: &str) -> Turn {
        let lock = self.lock_of(key);
        Turn { _guard: lock.lock_owned().await }
    }

    /// The lock of `key`, shared by everyone holding or waiting for it; entries whose lock
    /// is gone are dropped on the way, so the map holds only keys in use.
    fn lock_of(&self, key: &str) -> Arc<TurnLock<()>> {
        // Every change below is one insert or retain: a panic cannot leave it half-done.
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(lock) = locks.get(key).and_then(Weak::upgrade) {
            return lock;
        }
        locks.retain(|_, lock| lock.strong_count() > 0);
        let lock = Arc::new(TurnLock::new(()));
        locks.insert(key.to_owned(), Arc::downgrade(&lock));
        lock
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.locks.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_is_taken_by_one_at_a_time_and_other_keys_are_free() {
        let turns = Turns::default();
        let first = turns.take("a").await;
        let _other = turns.take("b").await;
        assert!(turns.lock_of("a").try_lock().is_err(), "a is taken");
        drop(first);
        assert!(turns.lock_of("a").try_lock().is_ok(), "a is free again");
    }

    #[tokio::test]
    async fn keys_nobody_holds_are_forgotten() {
        let turns = Turns::default();
        for key in ["a", "b", "c"] {
            drop(turns.take(key).await);
        }
        let _held = turns.take("d").await;
        assert_eq!(turns.keys(), 1, "only the key in use is kept");
    }
}
