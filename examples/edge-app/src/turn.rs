//! One save of a session at a time within an instance. Requests that `wasmtime serve` runs
//! in one instance at once would otherwise read a session at the same version and send
//! their conditional updates in one `write-all` (`batch`), where only the first can apply:
//! each of the others would spend one of its `SAVE_ATTEMPTS` on it. Taking turns, a request
//! reads the session after the previous save of the instance stored it, so its update
//! loses only to requests of other instances.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::poll_fn;
use std::task::{Poll, Waker};

thread_local! {
    /// The sessions (by cookie token) whose turn is taken, each with the requests waiting
    /// for it.
    static TAKEN: RefCell<HashMap<String, Vec<Waker>>> = RefCell::new(HashMap::new());
}

/// The turn of one session, taken until dropped.
pub struct Turn {
    token: String,
}

/// Waits until no other request of this instance has the turn of the session `token`
/// names, then takes it.
pub async fn take(token: &str) -> Turn {
    poll_fn(|cx| {
        TAKEN.with_borrow_mut(|taken| match taken.get_mut(token) {
            Some(waiting) => {
                waiting.push(cx.waker().clone());
                Poll::Pending
            }
            None => {
                taken.insert(token.to_owned(), Vec::new());
                Poll::Ready(())
            }
        })
    })
    .await;
    Turn { token: token.to_owned() }
}

impl Drop for Turn {
    /// Gives the turn up and wakes every request waiting for it; the first to run takes it.
    fn drop(&mut self) {
        let waiting = TAKEN.with_borrow_mut(|taken| taken.remove(&self.token));
        for waker in waiting.into_iter().flatten() {
            waker.wake();
        }
    }
}
