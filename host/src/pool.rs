//! The instances that serve one store, each running one call at a time: exactly one for a
//! database file or `:memory:`, up to [`StoreOptions::remote_instances`] for a libSQL
//! server, so that calls to a server overlap their round trips (see
//! [`StoreOptions::instances`]).
//!
//! A call leases any idle instance, the most recently used first (its caches are warm), and
//! gives it back when it ends, however it ends. Callers wait for a lease in FIFO order
//! (tokio's semaphore is fair), so with one instance this is the FIFO mutex a file needs.
//!
//! Calls that write take turns besides ([`Instances::lease_to_write`]): one at a time per
//! store, as with one instance, while reads run beside them. sqld 0.24 left calls
//! unanswered past a 5 s timeout when one store sent it several write transactions at once
//! (`remote_pool` tests); one at a time, it answers each at once.
//!
//! [`StoreOptions::remote_instances`]: crate::StoreOptions::remote_instances
//! [`StoreOptions::instances`]: crate::StoreOptions::instances

use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::{Semaphore, SemaphorePermit};

/// A fixed set of instances (`W`: whatever owns one), each leased to one call at a time.
pub(crate) struct Instances<W> {
    /// One permit per instance; closed once the set is closed.
    permits: Semaphore,
    /// The turn of the calls that write.
    writer: Semaphore,
    size: u32,
    /// The instances not leased, the most recently returned last.
    idle: Mutex<Vec<W>>,
}

/// One instance, leased to one call; back in the set when dropped.
pub(crate) struct Lease<'a, W> {
    worker: Option<W>,
    idle: &'a Mutex<Vec<W>>,
    /// Released after `worker` is back (fields drop after `Drop::drop`).
    _permit: SemaphorePermit<'a>,
    /// A writer's turn, released last.
    _turn: Option<SemaphorePermit<'a>>,
}

/// The set was closed ([`Instances::close`]).
#[derive(Debug)]
pub(crate) struct Closed;

impl<W> Instances<W> {
    /// A set of these instances; at least one.
    pub(crate) fn new(workers: Vec<W>) -> Instances<W> {
        let size = u32::try_from(workers.len()).unwrap_or(u32::MAX);
        Instances {
            permits: Semaphore::new(size as usize),
            writer: Semaphore::new(1),
            size,
            idle: Mutex::new(workers),
        }
    }

    /// An idle instance, once one is free and every caller that came before has had one.
    pub(crate) async fn lease(&self) -> Result<Lease<'_, W>, Closed> {
        let permit = self.permits.acquire().await.map_err(|_closed| Closed)?;
        // A permit is held only while its instance is out of `idle`: one is there.
        let worker = lock(&self.idle).pop().ok_or(Closed)?;
        Ok(Lease { worker: Some(worker), idle: &self.idle, _permit: permit, _turn: None })
    }

    /// As [`Instances::lease`], for a call that writes: once every writer that came before
    /// has finished, so that the store's writes run one at a time.
    pub(crate) async fn lease_to_write(&self) -> Result<Lease<'_, W>, Closed> {
        let turn = self.writer.acquire().await.map_err(|_closed| Closed)?;
        let mut lease = self.lease().await?;
        lease._turn = Some(turn);
        Ok(lease)
    }

    /// Waits for the calls in progress and those already waiting, then drops every
    /// instance; later leases get [`Closed`]. Idempotent.
    pub(crate) async fn close(&self) {
        let Ok(all) = self.permits.acquire_many(self.size).await else { return };
        let workers = std::mem::take(&mut *lock(&self.idle));
        self.permits.close();
        drop(all);
        drop(workers);
    }
}

impl<W> Deref for Lease<'_, W> {
    type Target = W;

    fn deref(&self) -> &W {
        self.worker.as_ref().expect("a lease holds its instance until dropped")
    }
}

impl<W> DerefMut for Lease<'_, W> {
    fn deref_mut(&mut self) -> &mut W {
        self.worker.as_mut().expect("a lease holds its instance until dropped")
    }
}

impl<W> Drop for Lease<'_, W> {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            lock(self.idle).push(worker);
        }
    }
}

/// The idle list. A panic while it was held cannot leave it half-changed (every change is
/// one push, pop or take), so a poisoned lock is taken as it is.
fn lock<W>(idle: &Mutex<Vec<W>>) -> MutexGuard<'_, Vec<W>> {
    idle.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn leases_run_at_once_up_to_the_size_and_never_share_an_instance() {
        let instances = Arc::new(Instances::new((0..3).collect::<Vec<u32>>()));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let held = Arc::new(Mutex::new(Vec::new()));
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..12 {
            let (instances, running, most, held) =
                (instances.clone(), running.clone(), most.clone(), held.clone());
            calls.spawn(async move {
                let lease = instances.lease().await.expect("open");
                let id = *lease;
                assert!(!lock(&held).contains(&id), "instance {id} leased twice");
                lock(&held).push(id);
                most.fetch_max(running.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                lock(&held).retain(|h| *h != id);
            });
        }
        while let Some(done) = calls.join_next().await {
            done.expect("a caller panicked");
        }
        assert_eq!(most.load(Ordering::SeqCst), 3, "three at once, never more");
        let mut back = lock(&instances.idle).clone();
        back.sort_unstable();
        assert_eq!(back, [0, 1, 2], "every instance came back");
    }

    #[tokio::test]
    async fn writers_take_turns_while_reads_run_beside_them() {
        let instances = Instances::new(vec![1, 2, 3]);
        let writing = instances.lease_to_write().await.expect("open");
        let reading = instances.lease().await.expect("open");
        let next_writer = instances.lease_to_write();
        tokio::pin!(next_writer);
        assert!(
            futures_poll(next_writer.as_mut()).is_none(),
            "a second writer waits though an instance is free"
        );
        drop(writing);
        assert!(futures_poll(next_writer.as_mut()).is_some(), "its turn once the first is done");
        drop(reading);
    }

    /// Polls `future` once.
    fn futures_poll<F: std::future::Future>(future: std::pin::Pin<&mut F>) -> Option<F::Output> {
        let waker = std::task::Waker::noop();
        match future.poll(&mut std::task::Context::from_waker(waker)) {
            std::task::Poll::Ready(output) => Some(output),
            std::task::Poll::Pending => None,
        }
    }

    #[tokio::test]
    async fn the_most_recently_returned_instance_is_leased_first() {
        let instances = Instances::new(vec!["a", "b"]);
        let first = *instances.lease().await.expect("open");
        assert_eq!(*instances.lease().await.expect("open"), first, "the warm one again");
    }

    #[tokio::test]
    async fn close_waits_for_a_call_in_progress_then_refuses_later_leases() {
        let instances = Arc::new(Instances::new(vec![1, 2]));
        let lease = instances.lease().await.expect("open");
        let closing = tokio::spawn({
            let instances = instances.clone();
            async move { instances.close().await }
        });
        tokio::task::yield_now().await;
        assert!(!closing.is_finished(), "close waits for the lease");
        drop(lease);
        closing.await.expect("close ends");
        assert!(instances.lease().await.is_err(), "closed");
        assert!(lock(&instances.idle).is_empty(), "the instances were dropped");
        instances.close().await;
    }
}
