//! Group commit: the writes (`commit`, `update`, `touch`, `delete`, and 0.3's conditional
//! `update_if`) that the callers of one
//! [`ComponentStore`](crate::ComponentStore) make while a `write-all` call is under way (or
//! waits for an instance) wait in a [`WriteQueue`] and reach the component together, as the
//! next `write-all` call: one transaction, one fsync (one round trip to a libSQL server)
//! for all of them. One flusher per store sends the batches one after another, so at most
//! one `write-all` of a store runs at a time, even when several instances serve it.
//!
//! Every write is acknowledged only when the transaction that carries it has committed
//! (and, on a file, been fsynced): batching changes how many writes share a sync, never
//! what an acknowledgement means. A write alone (nothing else waiting) goes as a batch of
//! one, without waiting for company; a batch forms only from writes that arrived while the
//! previous one was under way or no instance was free, so batching adds no latency of its
//! own. Reads are not queued here: they run on any free instance, beside a `write-all`.
//!
//! A batch holds writes of one interface version (a [`Write`] is of 0.2 or of 0.3), as its
//! `write-all` takes them; writes of the other version wait for the next batch, so the order
//! of arrival is kept across versions too.
//!
//! Writes of one batch run in the order they arrived, as the calls one by one would; a
//! write with bad input (token, data size) fails alone, a storage failure fails the whole
//! batch and stores none of it (see the component's `write-all`).
//!
//! The flusher that drains the queue is a tokio task, so writes are made from within a
//! tokio runtime, as every call of this library is (its outgoing HTTP runs on tokio too).
//!
//! # Map
//!
//! | item | what it holds |
//! |---|---|
//! | [`WriteQueue`] | the writes waiting, and whether a flusher is draining them |
//! | [`WriteQueue::push`] | queue a write; says whether the caller must start a flusher |
//! | [`WriteQueue::next_batch`] | the next batch: one version, bounded by [`MAX_BATCH_WRITES`] and [`MAX_BATCH_BYTES`] |
//! | [`Batch::answer`] | hand each waiting caller its outcome |
//! | [`Flusher`] | the task that drains the queue, one `write-all` call per batch |

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use crate::bindings::exports::edge::sessions0_2_2::store::Write as Write02;
use crate::bindings::exports::edge::sessions0_3_0::store::Write as Write03;
use crate::error::StoreError;
use crate::store::ComponentStore;

/// The most writes one `write-all` call carries: bounds the transaction (and the time the
/// instance is held) when thousands of writes wait.
pub const MAX_BATCH_WRITES: usize = 256;

/// The most session data, in bytes, one `write-all` call carries (a batch always takes
/// at least one write, however large): bounds what the guest's memory holds at once.
pub const MAX_BATCH_BYTES: usize = 4 << 20;

/// What one write's caller is waiting for: the component's answer for its write.
pub type Outcome = Result<bool, StoreError>;

/// A write waiting for a group commit, in the interface version of the call that made it.
pub enum Write {
    V02(Write02),
    V03(Write03),
}

/// The writes of one batch: one interface version's `write-all` list.
pub enum Writes {
    V02(Vec<Write02>),
    V03(Vec<Write03>),
}

/// The writes waiting for the store's instance.
#[derive(Default)]
pub struct WriteQueue {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    waiting: VecDeque<(Write, oneshot::Sender<Outcome>)>,
    /// A flusher is running: it takes every write queued before it stops.
    flushing: bool,
}

/// Writes taken from the queue to go to the component as one `write-all` call.
pub struct Batch {
    pub writes: Writes,
    answers: Vec<oneshot::Sender<Outcome>>,
}

impl WriteQueue {
    /// Queues `write`. Returns where its outcome will arrive, and true when no flusher is
    /// running: the caller must then start one (and call [`WriteQueue::next_batch`] until
    /// it returns `None`, or [`WriteQueue::abandon`]).
    pub fn push(&self, write: Write) -> (oneshot::Receiver<Outcome>, bool) {
        let (answer, outcome) = oneshot::channel();
        let mut state = self.state();
        state.waiting.push_back((write, answer));
        let start = !state.flushing;
        state.flushing = true;
        (outcome, start)
    }

    /// The next batch, in arrival order: the writes of the first one's interface version
    /// up to the first of another, at most [`MAX_BATCH_WRITES`] writes and
    /// [`MAX_BATCH_BYTES`] of data. `None` when nothing waits, and the flusher stops: the
    /// next [`WriteQueue::push`] starts another.
    pub fn next_batch(&self) -> Option<Batch> {
        let mut state = self.state();
        let mut writes = match state.waiting.front() {
            None => {
                state.flushing = false;
                return None;
            }
            Some((Write::V02(_), _)) => Writes::V02(Vec::new()),
            Some((Write::V03(_), _)) => Writes::V03(Vec::new()),
        };
        let mut answers = Vec::new();
        let mut bytes = 0;
        while let Some((write, _)) = state.waiting.front() {
            let size = data_len(write);
            let full = answers.len() == MAX_BATCH_WRITES || bytes + size > MAX_BATCH_BYTES;
            if full && !answers.is_empty() {
                break;
            }
            match (&mut writes, state.waiting.pop_front()) {
                (Writes::V02(batch), Some((Write::V02(write), answer))) => {
                    batch.push(write);
                    answers.push(answer);
                }
                (Writes::V03(batch), Some((Write::V03(write), answer))) => {
                    batch.push(write);
                    answers.push(answer);
                }
                (_, Some(other)) => {
                    state.waiting.push_front(other);
                    break;
                }
                (_, None) => break,
            }
            bytes += size;
        }
        Some(Batch { writes, answers })
    }

    /// The flusher ended without draining the queue (its task was dropped): every write
    /// still waiting fails with `error`, and the next push starts a new flusher.
    pub fn abandon(&self, error: &StoreError) {
        let mut state = self.state();
        state.flushing = false;
        for (_, answer) in state.waiting.drain(..) {
            let _ = answer.send(Err(error.clone()));
        }
    }

    /// The queue's state. A panic while it was held cannot leave it half-changed (every
    /// change above is one push, pop or flag), so a poisoned lock is taken as it is.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Batch {
    /// Hands each caller its write's outcome: the component's answer for each write, or,
    /// when the call as a whole failed (nothing of the batch was stored), that error.
    pub fn answer(self, outcome: Result<Vec<Outcome>, StoreError>) {
        let outcomes = match outcome {
            Ok(outcomes) if outcomes.len() == self.answers.len() => outcomes,
            Ok(outcomes) => {
                let error = StoreError::Guest(format!(
                    "write-all answered {} outcomes for {} writes",
                    outcomes.len(),
                    self.answers.len()
                ));
                return self.fail(&error);
            }
            Err(error) => return self.fail(&error),
        };
        for (answer, outcome) in self.answers.into_iter().zip(outcomes) {
            // A caller that stopped waiting (its request was dropped) needs no answer.
            let _ = answer.send(outcome);
        }
    }

    fn fail(self, error: &StoreError) {
        for answer in self.answers {
            let _ = answer.send(Err(error.clone()));
        }
    }
}

/// Drains a store's [`WriteQueue`]: one `write-all` call per batch, each waiting its turn
/// for an instance like any call, until no write waits. Run as a task of its own.
pub struct Flusher {
    store: ComponentStore,
    drained: bool,
}

impl Flusher {
    /// The flusher of `store`'s queue; start it (`run`) when [`WriteQueue::push`] says so.
    pub fn new(store: ComponentStore) -> Flusher {
        Flusher { store, drained: false }
    }

    /// Sends batch after batch until the queue is empty.
    pub async fn run(mut self) {
        while let Some(batch) = self.store.write_queue().next_batch() {
            let outcome = self.store.write_all(&batch.writes).await;
            batch.answer(outcome);
        }
        self.drained = true;
    }
}

impl Drop for Flusher {
    /// A flusher dropped before it drained the queue (its runtime shutting down) fails
    /// the writes still waiting instead of leaving them waiting for ever.
    fn drop(&mut self) {
        if !self.drained {
            self.store.write_queue().abandon(&StoreError::Closed);
        }
    }
}

/// Bytes of session data a write carries.
fn data_len(write: &Write) -> usize {
    match write {
        Write::V02(Write02::Commit(w) | Write02::Update(w)) => w.data.len(),
        Write::V02(Write02::Touch(_) | Write02::Delete(_)) => 0,
        Write::V03(Write03::Commit(w)) => w.data.len(),
        Write::V03(Write03::Update(w)) => w.data.len(),
        Write::V03(Write03::Touch(_) | Write03::Delete(_)) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::exports::edge::sessions0_2_2::store::SessionWrite;
    use crate::bindings::exports::edge::sessions0_3_0::store::UpdateWrite;

    fn commit(token: &str, bytes: usize) -> Write {
        Write::V02(Write02::Commit(SessionWrite {
            token: token.into(),
            data: vec![0; bytes],
            expiry: 1,
        }))
    }

    fn update_if(token: &str) -> Write {
        Write::V03(Write03::Update(UpdateWrite { token: token.into(), data: vec![0], version: 1 }))
    }

    fn tokens(batch: &Batch) -> Vec<String> {
        match &batch.writes {
            Writes::V02(writes) => writes
                .iter()
                .map(|w| match w {
                    Write02::Commit(w) | Write02::Update(w) => w.token.clone(),
                    Write02::Touch((token, _)) | Write02::Delete(token) => token.clone(),
                })
                .collect(),
            Writes::V03(writes) => writes
                .iter()
                .map(|w| match w {
                    Write03::Commit(w) => w.token.clone(),
                    Write03::Update(w) => w.token.clone(),
                    Write03::Touch(token) | Write03::Delete(token) => token.clone(),
                })
                .collect(),
        }
    }

    fn len(batch: &Batch) -> usize {
        match &batch.writes {
            Writes::V02(writes) => writes.len(),
            Writes::V03(writes) => writes.len(),
        }
    }

    #[test]
    fn a_batch_holds_one_interface_version_and_arrival_order_is_kept_across_versions() {
        let queue = WriteQueue::default();
        let _waiting: Vec<_> = [commit("a", 1), update_if("b"), update_if("c"), commit("d", 1)]
            .into_iter()
            .map(|w| queue.push(w))
            .collect();
        let first = queue.next_batch().expect("batch");
        assert!(matches!(first.writes, Writes::V02(_)));
        assert_eq!(tokens(&first), ["a"]);
        let second = queue.next_batch().expect("batch");
        assert!(matches!(second.writes, Writes::V03(_)));
        assert_eq!(tokens(&second), ["b", "c"]);
        assert_eq!(tokens(&queue.next_batch().expect("batch")), ["d"]);
        assert!(queue.next_batch().is_none());
    }

    #[test]
    fn the_first_writer_starts_the_flusher_and_later_ones_join_its_next_batch() {
        let queue = WriteQueue::default();
        let (_a, start_a) = queue.push(commit("a", 1));
        let (_b, start_b) = queue.push(commit("b", 1));
        assert!(start_a && !start_b, "one flusher at a time");
        let batch = queue.next_batch().expect("a batch");
        assert_eq!(tokens(&batch), ["a", "b"], "arrival order");
        let (_c, start_c) = queue.push(Write::V02(Write02::Delete("c".into())));
        assert!(!start_c, "the running flusher takes it");
        assert_eq!(tokens(&queue.next_batch().expect("a batch")), ["c"]);
        assert!(queue.next_batch().is_none(), "drained: the flusher stops");
        let (_d, start_d) = queue.push(Write::V02(Write02::Touch(("d".into(), 1))));
        assert!(start_d, "a write after the flusher stopped starts another");
    }

    #[test]
    fn batches_are_bounded_by_count_and_by_bytes_and_a_large_write_goes_alone() {
        let queue = WriteQueue::default();
        let _waiting: Vec<_> =
            (0..MAX_BATCH_WRITES + 3).map(|i| queue.push(commit(&i.to_string(), 1))).collect();
        assert_eq!(len(&queue.next_batch().expect("batch")), MAX_BATCH_WRITES);
        assert_eq!(len(&queue.next_batch().expect("batch")), 3);
        let _big: Vec<_> = ["x", "y", "z"]
            .iter()
            .map(|t| queue.push(commit(t, MAX_BATCH_BYTES / 2 + 1)))
            .collect();
        let _huge = queue.push(commit("huge", MAX_BATCH_BYTES * 2));
        assert_eq!(
            tokens(&queue.next_batch().expect("batch")),
            ["x"],
            "two halves and more do not fit"
        );
        assert_eq!(tokens(&queue.next_batch().expect("batch")), ["y"]);
        assert_eq!(tokens(&queue.next_batch().expect("batch")), ["z"]);
        assert_eq!(tokens(&queue.next_batch().expect("batch")), ["huge"], "over the bound, alone");
    }

    #[test]
    fn each_caller_gets_its_own_outcome_or_the_batch_error() {
        let queue = WriteQueue::default();
        let (mut a, _) = queue.push(commit("a", 1));
        let (mut b, _) = queue.push(commit("b", 1));
        queue.next_batch().expect("batch").answer(Ok(vec![Ok(true), Err(StoreError::TooLarge(8))]));
        assert_eq!(a.try_recv().expect("answered"), Ok(true));
        assert_eq!(b.try_recv().expect("answered"), Err(StoreError::TooLarge(8)));
        let (mut c, _) = queue.push(commit("c", 1));
        let (mut d, _) = queue.push(commit("d", 1));
        let failed = StoreError::Storage("disk full".into());
        queue.next_batch().expect("batch").answer(Err(failed.clone()));
        assert_eq!(c.try_recv().expect("answered"), Err(failed.clone()));
        assert_eq!(d.try_recv().expect("answered"), Err(failed));
        let (mut e, _) = queue.push(commit("e", 1));
        queue.next_batch().expect("batch").answer(Ok(vec![]));
        assert!(
            matches!(e.try_recv().expect("answered"), Err(StoreError::Guest(_))),
            "a short answer fails the batch"
        );
    }

    #[test]
    fn an_abandoned_queue_fails_what_waits_and_lets_the_next_writer_start_a_flusher() {
        let queue = WriteQueue::default();
        let (mut a, _) = queue.push(commit("a", 1));
        queue.abandon(&StoreError::Closed);
        assert_eq!(a.try_recv().expect("answered"), Err(StoreError::Closed));
        let (_b, start) = queue.push(commit("b", 1));
        assert!(start);
    }
}
