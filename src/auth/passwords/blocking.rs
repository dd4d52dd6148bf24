//! Runs argon2 off the async runtime: on the blocking pool, behind a few slots and a bounded
//! queue, at a lowered priority, in memory passed from one hash to the next while the queue
//! lasts and handed back to the OS when it empties.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use tokio::sync::Semaphore;

use super::memory::Memory;
use super::phc;
use crate::error::{Error, Result};

/// A hash of a password nobody has, verified when the email is unknown so that sign-in
/// takes the same time whether or not the account exists.
static DUMMY_HASH: LazyLock<Option<String>> =
    LazyLock::new(|| phc::hash(b"todoql-no-such-user", &mut Memory::default()).ok());

/// Hashing slots, half the cores (at least one); a hash holds one while it runs. The other
/// half stays free for reads during a sign-in flood, and at most this many 19 MiB argon2
/// buffers are alive at once (and, at start-up, the dummy hash's: see [`warm_up`]).
static SLOTS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new((crate::threads::cores() / 2).max(1)));

/// Requests waiting for a slot or holding one.
static QUEUED: AtomicUsize = AtomicUsize::new(0);

/// argon2 memory that finished hashes left to the ones queued behind them. A hash takes one
/// (or maps its own when there is none) when it gets its slot and leaves it here just before
/// it lets the slot go, so there are never more of them, here and in use, than slots.
static SPARE: Mutex<Vec<Memory>> = Mutex::new(Vec::new());

/// The spare memory; a panic elsewhere cannot leave a `Vec` half-changed.
fn spare() -> MutexGuard<'static, Vec<Memory>> {
    SPARE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// After a hash: leaves `memory` to the next one while others are queued, which spares that
/// one the page faults of fresh memory (a sign-in flood hashes back to back); when no other
/// is queued, hands it and any spare back to the OS, so that none stays resident between
/// bursts.
fn keep_or_return(memory: Memory) {
    let mut spare = spare();
    if QUEUED.load(Ordering::SeqCst) > 1 {
        spare.push(memory);
    } else {
        let returned = std::mem::take(&mut *spare);
        drop(spare);
        drop((memory, returned));
    }
}

/// Runs `work` (argon2) on the blocking pool, at most one per core at a time, with a bounded
/// queue behind them: beyond it the caller gets `SERVICE_UNAVAILABLE` at once instead of
/// waiting without end while a flood of sign-ins takes every core from the other requests.
///
/// The queue place and the slot go into the blocking task and are released when the hash
/// ends, not when the request does: a request dropped mid-hash (the client hung up, or
/// `REQUEST_TIMEOUT` struck) cannot be cancelled on the blocking pool, and releasing its slot
/// early would let hung-up requests pile up hashes without bound.
async fn run<T: Send + 'static>(work: impl FnOnce(&mut Memory) -> Result<T> + Send + 'static) -> Result<T> {
    /// Leaves the queue however the hash ends, or at once when the request goes first.
    struct Place;
    impl Drop for Place {
        fn drop(&mut self) {
            QUEUED.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let place = Place;
    if QUEUED.fetch_add(1, Ordering::SeqCst) >= crate::threads::cores() * 8 {
        return Err(Error::ServiceUnavailable { retry_after: Some(1) });
    }
    let slot = SLOTS.acquire().await.map_err(|_| Error::Internal("hashing slots closed".to_owned()))?;
    tokio::task::spawn_blocking(move || {
        let _held = (place, slot);
        crate::threads::lower_this_thread();
        let mut memory = spare().pop().unwrap_or_default();
        let result = work(&mut memory);
        keep_or_return(memory);
        result
    })
    .await
    .map_err(|e| Error::Internal(format!("hashing task failed: {e}")))?
}

/// Hashes a password with argon2id at OWASP's parameters (m=19456 KiB, t=2, p=1).
///
/// Hashing takes tens of milliseconds of CPU: it runs on the blocking pool so that it never
/// stalls the async workers that serve every other request.
pub async fn hash(password: String) -> Result<String> {
    run(move |memory| phc::hash(password.as_bytes(), memory)).await
}

/// Whether `password` matches `hash`; with no hash, does the same work and answers false.
pub async fn verify(password: String, hash: Option<String>) -> Result<bool> {
    run(move |memory| {
        let known = hash.is_some();
        let Some(stored) = hash.or_else(|| DUMMY_HASH.clone()) else {
            return Err(Error::Internal("cannot build the dummy hash".to_owned()));
        };
        let matches = phc::verify(password.as_bytes(), &stored, memory)?;
        Ok(known && matches)
    })
    .await
}

/// Computes the dummy hash ahead of the first sign-in, so it does not skew that one's timing.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_dropped_mid_hash_keeps_its_slot_until_the_hash_ends() {
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let (finish_tx, finish_rx) = std::sync::mpsc::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let request = tokio::spawn(run(move |_| {
            let _ = started_tx.send(());
            let _ = finish_rx.recv();
            let _ = done_tx.send(());
            Ok(())
        }));
        started_rx.await.expect("the hash started");
        let free_while_hashing = SLOTS.available_permits();
        request.abort();
        assert!(request.await.expect_err("aborted").is_cancelled());
        assert_eq!(SLOTS.available_permits(), free_while_hashing, "the dropped request gave its slot back mid-hash");
        finish_tx.send(()).expect("finish the hash");
        done_rx.recv_timeout(std::time::Duration::from_secs(10)).expect("the hash ended");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while SLOTS.available_permits() != free_while_hashing + 1 {
            assert!(std::time::Instant::now() < deadline, "the slot never came back after the hash ended");
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    #[tokio::test]
    async fn concurrent_hashes_each_verify_and_their_memory_goes_back_after() {
        let passwords: Vec<String> = (0..4).map(|i| format!("password {i}")).collect();
        let hashes = futures_util::future::try_join_all(passwords.iter().map(|p| hash(p.clone()))).await.expect("hash");
        let checks = passwords.iter().enumerate().flat_map(|(i, password)| {
            let other = (i + 1) % hashes.len();
            [(password.clone(), i, true), (password.clone(), other, false)]
        });
        let answers = futures_util::future::try_join_all(
            checks.clone().map(|(password, i, _)| verify(password, Some(hashes[i].clone()))),
        )
        .await
        .expect("verify");
        assert_eq!(answers, checks.map(|(_, _, expected)| expected).collect::<Vec<_>>());
        // Other tests may still be hashing: the last hash of all returns what is spare.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !spare().is_empty() {
            assert!(std::time::Instant::now() < deadline, "spare memory stayed after the queue emptied");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}
