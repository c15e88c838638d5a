//! How much paid work this process is doing right now: paid requests being parsed and redeemed, and generations
//! running. Unpaid work yields to it: the server's preflight pool admits fewer unpaid checks at once while any paid
//! work is counted, and all of them again the moment none is.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// A count of paid work in progress, shared by everything that does it and everything that yields to it.
#[derive(Debug, Clone, Default)]
pub struct PaidWork {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    running: AtomicUsize,
    /// Woken when the count drops to zero.
    idle: Notify,
}

impl PaidWork {
    /// A new count at zero.
    pub fn new() -> PaidWork {
        PaidWork::default()
    }

    /// Counts one piece of paid work until the guard is dropped.
    pub fn start(&self) -> PaidWorkGuard {
        self.inner.running.fetch_add(1, Ordering::AcqRel);
        PaidWorkGuard { work: self.clone() }
    }

    /// Whether any paid work is in progress.
    pub fn is_running(&self) -> bool {
        self.inner.running.load(Ordering::Acquire) > 0
    }

    /// Resolves once the count has dropped to zero after this call's future was first polled or
    /// [enabled](tokio::sync::futures::Notified::enable) (check [`is_running`](Self::is_running) after enabling, to
    /// miss no wake-up).
    pub fn idle(&self) -> tokio::sync::futures::Notified<'_> {
        self.inner.idle.notified()
    }
}

/// One piece of paid work, counted while it lives.
#[derive(Debug)]
pub struct PaidWorkGuard {
    work: PaidWork,
}

impl Drop for PaidWorkGuard {
    fn drop(&mut self) {
        if self.work.inner.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.work.inner.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_while_guards_live_and_wakes_waiters_when_the_last_ends() {
        let work = PaidWork::new();
        assert!(!work.is_running());
        let (first, second) = (work.start(), work.start());
        assert!(work.is_running());
        let waiter = {
            let work = work.clone();
            tokio::spawn(async move {
                let idle = work.idle();
                tokio::pin!(idle);
                idle.as_mut().enable();
                if work.is_running() {
                    idle.await;
                }
                work.is_running()
            })
        };
        tokio::task::yield_now().await;
        drop(first);
        assert!(work.is_running(), "one guard still lives");
        drop(second);
        assert!(!waiter.await.unwrap(), "the waiter woke to an idle count");
    }
}
