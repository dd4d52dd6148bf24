//! A bound on each user's requests in flight (issue 13): one user's expensive requests wait
//! behind each other, not in front of everyone else's.
//!
//! Each signed-in user may have [`Config::user_max_in_flight`](crate::config::Config) queries
//! and mutations running at once on an instance (HTTP and WebSocket alike); the next ones
//! wait their turn, in order, and past [`MAX_WAITING`] waiting the user is told to slow down
//! (`RATE_LIMITED`). A user's slot count lives only while they have requests in flight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, Result};

/// The most requests of one user that may wait for a slot; past it they are refused.
pub const MAX_WAITING: usize = 64;

/// Slots per user.
pub struct InFlight {
    per_user: usize,
    users: Mutex<HashMap<String, Arc<User>>>,
}

/// One user's slots, and how many of their requests hold or wait for one.
struct User {
    slots: Arc<Semaphore>,
    /// Requests holding or waiting for a slot.
    queued: Mutex<usize>,
}

/// A slot held by one request; dropping it lets the user's next request run.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    _entry: Entry,
}

/// A request counted in its user's queue; the user's entry goes when the last one leaves.
struct Entry {
    in_flight: Arc<InFlight>,
    user_id: String,
    user: Arc<User>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        let mut users = self.in_flight.users.lock().unwrap_or_else(PoisonError::into_inner);
        let mut queued = self.user.queued.lock().unwrap_or_else(PoisonError::into_inner);
        *queued -= 1;
        if *queued == 0 {
            users.remove(&self.user_id);
        }
    }
}

impl InFlight {
    /// `per_user` slots for each user (at least one).
    pub fn new(per_user: usize) -> Arc<Self> {
        Arc::new(Self { per_user: per_user.max(1), users: Mutex::default() })
    }

    /// Waits for one of `user_id`'s slots; `RATE_LIMITED` when [`MAX_WAITING`] of their
    /// requests wait already.
    pub async fn enter(self: &Arc<Self>, user_id: &str) -> Result<Slot> {
        let entry = {
            let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
            let user = users
                .entry(user_id.to_owned())
                .or_insert_with(|| {
                    Arc::new(User { slots: Arc::new(Semaphore::new(self.per_user)), queued: Mutex::new(0) })
                })
                .clone();
            let mut queued = user.queued.lock().unwrap_or_else(PoisonError::into_inner);
            if *queued >= self.per_user + MAX_WAITING {
                return Err(Error::TooManyInFlight);
            }
            *queued += 1;
            drop(queued);
            Entry { in_flight: self.clone(), user_id: user_id.to_owned(), user }
        };
        let permit = entry.user.slots.clone().acquire_owned().await;
        let permit = permit.map_err(|_| Error::Internal("a user's slots were closed".to_owned()))?;
        Ok(Slot { _permit: permit, _entry: entry })
    }

    /// Users with requests in flight or waiting now.
    pub fn users(&self) -> usize {
        self.users.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_users_requests_past_their_slots_wait_in_turn_and_others_do_not() {
        let in_flight = InFlight::new(2);
        let (a, b) = (in_flight.enter("a").await.unwrap(), in_flight.enter("a").await.unwrap());
        let third = tokio::spawn({
            let in_flight = in_flight.clone();
            async move { in_flight.enter("a").await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!third.is_finished(), "the third waits for a slot");
        let other = tokio::time::timeout(Duration::from_secs(5), in_flight.enter("b")).await;
        assert!(other.expect("another user does not wait").is_ok());
        drop(a);
        tokio::time::timeout(Duration::from_secs(5), third).await.expect("runs once a slot frees").unwrap().unwrap();
        drop(b);
        assert_eq!(in_flight.users(), 0, "users leave no trace once idle");
    }

    #[tokio::test]
    async fn past_the_waiting_bound_a_user_is_refused_at_once() {
        let in_flight = InFlight::new(1);
        let held = in_flight.enter("a").await.unwrap();
        let waiting: Vec<_> = (0..MAX_WAITING)
            .map(|_| {
                let in_flight = in_flight.clone();
                tokio::spawn(async move { in_flight.enter("a").await.map(|_| ()) })
            })
            .collect();
        while in_flight.users.lock().unwrap()["a"].queued.lock().map(|q| *q).unwrap() < 1 + MAX_WAITING {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(matches!(in_flight.enter("a").await, Err(Error::TooManyInFlight)));
        drop(held);
        for waiter in waiting {
            waiter.await.unwrap().unwrap();
        }
        assert_eq!(in_flight.users(), 0);
    }
}
