//! Open sockets counted by who holds them: each signed-in user, and each client address for
//! sockets initialised without a token (issue 13), so that no one holds more than their share.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Open sockets per holder on this instance: `user:<id>` or `client:<address>`.
#[derive(Default)]
pub struct Sockets(Mutex<HashMap<String, usize>>);

impl Sockets {
    /// Counts a socket for `holder` unless they already have `limit`.
    pub(super) fn open(self: &Arc<Self>, holder: String, limit: usize) -> Option<SocketSlot> {
        let mut open = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(holder.clone()).or_default();
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(SocketSlot { sockets: self.clone(), holder })
    }

    /// Holders with sockets open now.
    pub fn holders(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// One counted socket; dropping it (the socket ended) uncounts it.
pub(super) struct SocketSlot {
    sockets: Arc<Sockets>,
    holder: String,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.sockets.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.holder) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.holder);
            }
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
