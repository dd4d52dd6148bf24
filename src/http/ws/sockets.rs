//! Open sockets counted by who holds them: each signed-in user, and each client address for
//! sockets initialised without a token (issue 13), so that no one holds more than their share.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

/// Open sockets per holder on this instance: `user:<id>` or `client:<address>`; and all of
/// them, so a shutdown can wait for their close frames to go out.
#[derive(Default)]
pub struct Sockets {
    holders: Mutex<HashMap<String, usize>>,
    running: AtomicUsize,
    none_running: Notify,
}

impl Sockets {
    /// Counts a socket that runs until the guard is dropped.
    pub(super) fn run(self: &Arc<Self>) -> Running {
        self.running.fetch_add(1, Ordering::SeqCst);
        Running(self.clone())
    }

    /// Resolves once no socket runs.
    pub async fn all_closed(&self) {
        loop {
            let closed = self.none_running.notified();
            if self.running.load(Ordering::SeqCst) == 0 {
                return;
            }
            closed.await;
        }
    }

    /// Counts a socket for `holder` unless they already have `limit`.
    pub(super) fn open(self: &Arc<Self>, holder: String, limit: usize) -> Option<SocketSlot> {
        let mut open = self.holders.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(holder.clone()).or_default();
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(SocketSlot { sockets: self.clone(), holder })
    }

    /// Holders with sockets open now.
    pub fn holders(&self) -> usize {
        self.holders.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// One counted socket; dropping it (the socket ended) uncounts it.
pub(super) struct SocketSlot {
    sockets: Arc<Sockets>,
    holder: String,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.sockets.holders.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.holder) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.holder);
            }
        }
    }
}

/// A socket that runs: counted until dropped.
pub(super) struct Running(Arc<Sockets>);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.none_running.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_gets_at_most_their_limit_and_a_closed_socket_frees_its_place() {
        let sockets = Arc::new(Sockets::default());
        let (a, b) = (sockets.open("user:a".into(), 2), sockets.open("user:a".into(), 2));
        assert!(a.is_some() && b.is_some());
        assert!(sockets.open("user:a".into(), 2).is_none());
        assert!(sockets.open("client:10.0.0.1".into(), 2).is_some_and(|slot| {
            drop(slot);
            true
        }));
        drop(a);
        assert!(sockets.open("user:a".into(), 2).is_some());
        drop(b);
        assert_eq!(sockets.holders(), 0);
    }
}
