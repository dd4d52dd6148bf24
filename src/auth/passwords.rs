//! argon2id password hashing, run off the async runtime.

use std::sync::LazyLock;

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

/// Hashes a password with argon2id at OWASP's parameters (m=19456 KiB, t=2, p=1).
///
/// Hashing takes tens of milliseconds of CPU: it runs on the blocking pool so that it never
/// stalls the async workers that serve every other request.
pub async fn hash(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_now(&password))
    .await
    .map_err(|e| Error::Internal(format!("hashing task failed: {e}")))?
}

/// Whether `password` matches `hash`; with no hash, does the same work and answers false.
pub async fn verify(password: String, hash: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let Some(stored) = hash.or_else(|| DUMMY_HASH.clone()) else {
            return Err(Error::Internal("cannot build the dummy hash".to_owned()));
        };
        let matches = Argon2::default().verify_password(password.as_bytes(), stored.as_str()).is_ok();
        Ok(known && matches)
    })
    .await
    .map_err(|e| Error::Internal(format!("hashing task failed: {e}")))?
}

/// Computes the dummy hash ahead of the first sign-in, so it does not skew that one's timing.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}
