//! argon2id password hashing, run off the async runtime.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};

use crate::error::{Error, Result};

/// A hash of a password nobody has, verified when the email is unknown so that sign-in
/// takes the same time whether or not the account exists.
static DUMMY_HASH: LazyLock<Option<String>> =
    LazyLock::new(|| hash_now("todoql-no-such-user").ok());

/// Hashes on the current thread.
fn hash_now(password: &str) -> Result<String> {
    let hash: PasswordHash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| Error::Internal(format!("argon2 hash failed: {e}")))?;
    Ok(hash.to_string())
}

/// The cores available: at most this many hashes run at once.
static CORES: LazyLock<usize> = LazyLock::new(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
/// Hashing slots; a hash holds one while it runs on the blocking pool.
static SLOTS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(*CORES));
/// Requests waiting for a slot or holding one.
static QUEUED: AtomicUsize = AtomicUsize::new(0);

/// Runs `work` (argon2) on the blocking pool, at most one per core at a time, with a bounded
/// queue behind them: beyond it the caller gets `SERVICE_UNAVAILABLE` at once instead of
/// waiting without end while a flood of sign-ins takes every core from the other requests.
async fn run<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    /// Leaves the queue however the request ends, cancelled ones included.
    struct Place;
    impl Drop for Place {
        fn drop(&mut self) {
            QUEUED.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let _place = Place;
    if QUEUED.fetch_add(1, Ordering::SeqCst) >= *CORES * 8 {
        return Err(Error::ServiceUnavailable { retry_after: Some(1) });
    }
    let _slot = SLOTS.acquire().await.map_err(|_| Error::Internal("hashing slots closed".to_owned()))?;
    tokio::task::spawn_blocking(work).await.map_err(|e| Error::Internal(format!("hashing task failed: {e}")))?
}

/// Hashes a password with argon2id at OWASP's parameters (m=19456 KiB, t=2, p=1).
///
/// Hashing takes tens of milliseconds of CPU: it runs on the blocking pool so that it never
/// stalls the async workers that serve every other request.
pub async fn hash(password: String) -> Result<String> {
    run(move || hash_now(&password)).await
}

/// Whether `password` matches `hash`; with no hash, does the same work and answers false.
pub async fn verify(password: String, hash: Option<String>) -> Result<bool> {
    run(move || {
        let known = hash.is_some();
        let Some(stored) = hash.or_else(|| DUMMY_HASH.clone()) else {
            return Err(Error::Internal("cannot build the dummy hash".to_owned()));
        };
        let matches = Argon2::default().verify_password(password.as_bytes(), stored.as_str()).is_ok();
        Ok(known && matches)
    })
    .await
}

/// Computes the dummy hash ahead of the first sign-in, so it does not skew that one's timing.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}
