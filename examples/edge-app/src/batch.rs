//! Group commit inside one instance: the writes of the requests that an instance serves at
//! once are stored by one `write-all` call, one transaction (on a file, one turn of the lock
//! and one set of fsyncs) whose outcome each request then answers with.
//!
//! A request queues its write and waits on the host's clock (`GATHER_NS`); meanwhile the
//! instance is idle, so the host gives it further requests, which queue theirs. The first
//! request whose wait ends flushes the whole queue; the others find their outcome filled
//! in. The flush is one synchronous call: nothing else runs in the instance while it lasts,
//! so requests that arrive meanwhile form the next batch. A request is answered only
//! after `write-all` returned, so every acknowledged write is as durable as the store makes
//! a commit (on a file, fsynced).
//!
//! The writes are conditional updates and deletes. Of several updates of one session in
//! one batch at most the first could apply: each names a version read before the batch,
//! which that first one replaced. So the requests of an instance that save one session
//! take turns (`turn`) and a batch holds one update of it; one that loses to a save of
//! another instance reads the session again and retries after a pause (`backoff`).

use std::cell::RefCell;
use std::rc::Rc;

use crate::bindings::store::{self, Write};
use crate::bindings::types::Error as StoreError;
use wasip3::clocks::monotonic_clock;

/// Where a queued write's outcome is put for its request to take.
type Outcome = Rc<RefCell<Option<Result<bool, StoreError>>>>;

thread_local! {
    /// The writes queued since the last flush, in arrival order.
    static QUEUE: RefCell<Vec<(Write, Outcome)>> = const { RefCell::new(Vec::new()) };
}

/// How long a queued write waits for others before its request flushes the queue, in ns.
/// The wait is on the host's clock, so the instance is idle meanwhile and `wasmtime serve`
/// hands it more requests; the host's timer rounds it up to its tick (tokio's: 1 ms).
const GATHER_NS: u64 = 500_000;

/// Stores `write` with those of the requests running beside this one, in one `write-all`;
/// its outcome as `write-all` reports it for this write (an update: whether it applied; an
/// outer error is every write's).
pub async fn write(write: Write) -> Result<bool, StoreError> {
    let outcome = Outcome::default();
    QUEUE.with_borrow_mut(|queue| queue.push((write, outcome.clone())));
    loop {
        monotonic_clock::wait_for(GATHER_NS).await;
        if outcome.borrow().is_none() {
            flush();
        }
        if let Some(result) = outcome.take() {
            return result;
        }
    }
}

/// Stores every queued write with one `write-all` and hands each its outcome.
fn flush() {
    let queued = QUEUE.take();
    if queued.is_empty() {
        return;
    }
    let (writes, outcomes): (Vec<Write>, Vec<Outcome>) = queued.into_iter().unzip();
    match store::write_all(&writes) {
        Ok(results) => {
            let mut results = results.into_iter();
            for outcome in &outcomes {
                let missing =
                    || Err(StoreError::Storage("write-all left a write unanswered".into()));
                *outcome.borrow_mut() = Some(results.next().unwrap_or_else(missing));
            }
        }
        Err(e) => {
            for outcome in &outcomes {
                *outcome.borrow_mut() = Some(Err(e.clone()));
            }
        }
    }
}
