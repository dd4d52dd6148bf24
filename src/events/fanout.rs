//! Each user's events on a channel of their own: a write wakes only its owner's subscriptions
//! (at most `WS_MAX_CONNECTIONS_PER_USER` sockets × `WS_MAX_SUBSCRIPTIONS_PER_SOCKET` of them),
//! not every subscription on the instance.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::sync::broadcast;

use super::{BUFFER, Event};

/// The owners with subscribers on this instance, each with a channel.
#[derive(Default)]
pub(super) struct Fanout {
    owners: Mutex<HashMap<String, broadcast::Sender<Event>>>,
}

impl Fanout {
    /// A receiver of `owner`'s events from now on.
    pub(super) fn subscribe(&self, owner: &str) -> broadcast::Receiver<Event> {
        let mut owners = self.owners.lock().unwrap_or_else(PoisonError::into_inner);
        // Owners whose subscribers have all gone leave with the next subscription.
        owners.retain(|_, sender| sender.receiver_count() > 0);
        owners.entry(owner.to_owned()).or_insert_with(|| broadcast::channel(BUFFER).0).subscribe()
    }

    /// Sends a committed change to its owner's subscribers, an interruption to everyone's.
    pub(super) fn publish(&self, event: Event) {
        let mut owners = self.owners.lock().unwrap_or_else(PoisonError::into_inner);
        match &event {
            Event::Committed(change) => {
                if let Some(sender) = owners.get(&change.owner_id)
                    && sender.send(event.clone()).is_err()
                {
                    owners.remove(&change.owner_id);
                }
            }
            Event::Interrupted => {
                owners.retain(|_, sender| sender.send(Event::Interrupted).is_ok());
            }
        }
    }

    /// Owners with a channel now.
    #[cfg(test)]
    pub(super) fn owners(&self) -> usize {
        self.owners.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::events::{Change, TodoEventKind};

    fn change(owner: &str) -> Event {
        let change = Change { kind: TodoEventKind::Deleted, todo_id: "t".into(), owner_id: owner.into(), todo: None };
        Event::Committed(Arc::new(change))
    }

    #[test]
    fn a_change_reaches_its_owners_receivers_only_and_interruptions_reach_all() {
        let fanout = Fanout::default();
        let (mut a1, mut a2, mut b) = (fanout.subscribe("a"), fanout.subscribe("a"), fanout.subscribe("b"));
        fanout.publish(change("a"));
        assert!(matches!(a1.try_recv(), Ok(Event::Committed(c)) if c.owner_id == "a"));
        assert!(matches!(a2.try_recv(), Ok(Event::Committed(c)) if c.owner_id == "a"));
        assert!(b.try_recv().is_err(), "b's receiver never sees a's change");
        fanout.publish(Event::Interrupted);
        assert!(matches!(b.try_recv(), Ok(Event::Interrupted)));
        assert!(matches!(a1.try_recv(), Ok(Event::Interrupted)));
        drop((a1, a2, b));
        fanout.publish(change("a"));
        let _c = fanout.subscribe("c");
        assert_eq!(fanout.owners(), 1, "owners without receivers are forgotten");
    }
}
