//! Knowing that PostgreSQL is down. Without it, every request waits out the pool's whole
//! acquire timeout while nothing can succeed; with it, once one request found the database
//! unreachable and a fresh connection confirmed it (within [`CONFIRM`]), requests are refused
//! at once (`SERVICE_UNAVAILABLE`, `retryAfter: 1`) until a probe, every [`PROBE_EVERY`],
//! connects again.
//!
//! "Unreachable" is decided by a connection of its own, not by the pool's error: a pool that
//! timed out because every connection was busy is load, not an outage. SQLite, a file in the
//! process, is never down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sea_orm::sqlx::Connection;
use sea_orm::sqlx::postgres::PgConnection;

use crate::error::{Error, Result};

/// How long a fresh connection may take before the database counts as down.
pub const CONFIRM: Duration = Duration::from_secs(1);
/// How often a known outage is probed.
pub const PROBE_EVERY: Duration = Duration::from_millis(500);

/// Whether the database is known to be down, and the URL to probe it with.
pub struct Outage {
    /// `Some` on PostgreSQL.
    url: Option<String>,
    /// Known down: refuse at once.
    down: AtomicBool,
    /// A confirmation or a probe is running.
    watching: AtomicBool,
}

impl Outage {
    /// The outage state of the database at `url`.
    pub fn new(url: &str) -> Arc<Self> {
        let url = url.starts_with("postgres").then(|| url.to_owned());
        Arc::new(Self { url, down: AtomicBool::new(false), watching: AtomicBool::new(false) })
    }

    /// `SERVICE_UNAVAILABLE` while the database is known to be down.
    pub fn check(&self) -> Result<()> {
        if self.down.load(Ordering::Relaxed) {
            return Err(Error::ServiceUnavailable { retry_after: Some(1) });
        }
        Ok(())
    }

    /// Takes note of `error`: when it says the database could not be reached, a fresh
    /// connection checks whether it is down, and if so probes until it is back.
    pub fn notice(self: &Arc<Self>, error: &Error) {
        if error.is_database_unavailable() {
            self.notice_unreachable();
        }
    }

    /// Takes note of a request that could not reach the database ([`Self::notice`]).
    pub fn notice_unreachable(self: &Arc<Self>) {
        let Some(url) = &self.url else { return };
        if self.watching.swap(true, Ordering::SeqCst) {
            return;
        }
        let (outage, url) = (self.clone(), url.clone());
        tokio::spawn(async move {
            if reachable(&url).await {
                outage.watching.store(false, Ordering::SeqCst);
                return;
            }
            outage.down.store(true, Ordering::SeqCst);
            tracing::warn!("the database is unreachable: refusing requests at once until it answers again");
            while !reachable(&url).await {
                tokio::time::sleep(PROBE_EVERY).await;
            }
            outage.down.store(false, Ordering::SeqCst);
            outage.watching.store(false, Ordering::SeqCst);
            tracing::info!("the database answers again");
        });
    }
}

/// Whether a new connection to `url` opens and answers within [`CONFIRM`].
async fn reachable(url: &str) -> bool {
    let attempt = async {
        let mut connection = PgConnection::connect(url).await?;
        connection.ping().await?;
        connection.close().await
    };
    matches!(tokio::time::timeout(CONFIRM, attempt).await, Ok(Ok(())))
}
