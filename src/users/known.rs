//! Accounts recently seen to exist (issue 17): the user check of a request that has no
//! SQLite snapshot to make it in.
//!
//! Every authenticated request checks that its token's user still exists. On SQLite that is
//! a lookup inside the request's read transaction, a few microseconds inline; on PostgreSQL
//! it is a round trip of its own before the request's real work, half of a page read's. A
//! user seen to exist is taken to exist for [`TTL`] after: a request within it skips the
//! round trip. Nothing else is cached — a user not found is looked up again every time.
//!
//! What that gives up: todoql never deletes an account itself, but one deleted out of band
//! (by an administrator, or in Better Auth's database) keeps being served for up to [`TTL`]
//! on each instance that saw it — served nothing, since its todos went with it (the foreign
//! key cascades) and a write for it fails on that key.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lru::LruCache;

/// How long an account seen to exist is taken to exist.
pub const TTL: Duration = Duration::from_secs(1);

/// The most accounts remembered; the least recently seen goes first.
const CAPACITY: NonZeroUsize = NonZeroUsize::new(10_000).unwrap();

/// Accounts seen to exist, and when.
pub struct Known {
    seen: Mutex<LruCache<Box<str>, Instant>>,
}

impl Default for Known {
    fn default() -> Self {
        Self { seen: Mutex::new(LruCache::new(CAPACITY)) }
    }
}

impl Known {
    /// Whether `id` was seen to exist within [`TTL`].
    pub fn recently(&self, id: &str) -> bool {
        let Ok(mut seen) = self.seen.lock() else { return false };
        match seen.get(id) {
            Some(at) if at.elapsed() < TTL => true,
            Some(_) => {
                seen.pop(id);
                false
            }
            None => false,
        }
    }

    /// Notes that `id` exists, as of now.
    pub fn note(&self, id: &str) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.put(id.into(), Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_seen_is_known_for_the_ttl_only() {
        let known = Known::default();
        assert!(!known.recently("a"));
        known.note("a");
        assert!(known.recently("a"));
        assert!(!known.recently("b"));
        known.seen.lock().unwrap().put("a".into(), Instant::now() - TTL);
        assert!(!known.recently("a"), "past its time it is looked up again");
        assert!(known.seen.lock().unwrap().is_empty());
    }
}
