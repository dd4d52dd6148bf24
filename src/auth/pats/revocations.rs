//! What an instance knows about personal access tokens beyond the database: which were just
//! revoked (so that sockets authenticated by them close with 4403, on every instance), and
//! which it noted as used lately.
//!
//! On PostgreSQL a revocation is announced with `pg_notify` in the deleting transaction, so
//! it is delivered on commit, and one `LISTEN` connection per instance hears it. When that
//! connection drops, announcements may be lost: every socket authenticated by a token then
//! checks its token again ([`Revoked::Unknown`]). On SQLite one process owns the file, and
//! the announcement stays in it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, TransactionTrait};
use tokio::sync::broadcast;

use super::store;
use crate::error::Result;

/// The PostgreSQL notification channel of revocations; the payload is the token's id.
const CHANNEL: &str = "todoql_access_token_revoked";
/// Revocations buffered for the slowest socket; one that falls further behind checks its token.
const BUFFER: usize = 1024;

/// An announcement to the sockets authenticated by tokens.
#[derive(Clone, Debug)]
pub enum Revoked {
    /// This token was revoked.
    Token(Arc<str>),
    /// Revocations may have been missed: check the token again.
    Unknown,
}

/// The instance's personal access token hub.
pub struct Pats {
    revoked: broadcast::Sender<Revoked>,
    backend: DatabaseBackend,
    /// When this instance last wrote each token's `last_used_at` (microseconds).
    touched: Mutex<HashMap<String, i64>>,
}

impl Pats {
    /// The hub for `db`; on PostgreSQL also starts this instance's listener.
    pub fn start(db: &DatabaseConnection) -> Arc<Self> {
        let pats = Arc::new(Self {
            revoked: broadcast::channel(BUFFER).0,
            backend: db.get_database_backend(),
            touched: Mutex::default(),
        });
        if pats.backend == DatabaseBackend::Postgres {
            spawn_listener(db.clone(), pats.revoked.clone());
        }
        pats
    }

    /// Announcements from now on.
    pub fn watch(&self) -> broadcast::Receiver<Revoked> {
        self.revoked.subscribe()
    }

    /// Revokes `user_id`'s token `id` and announces it to every instance; whether there was one.
    pub async fn revoke(&self, db: &DatabaseConnection, user_id: &str, id: &str) -> Result<bool> {
        if self.backend != DatabaseBackend::Postgres {
            let revoked = store::revoke(db, user_id, id).await?;
            if revoked {
                let _ = self.revoked.send(Revoked::Token(id.into()));
            }
            return Ok(revoked);
        }
        let txn = db.begin().await?;
        let revoked = store::revoke(&txn, user_id, id).await?;
        if revoked {
            let notify = Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [CHANNEL.into(), id.into()],
            );
            txn.execute_raw(notify).await?;
        }
        txn.commit().await?;
        Ok(revoked)
    }

    /// Whether a request should write token `id`'s `last_used_at` now: once a minute per
    /// instance, whatever the number of requests.
    pub(super) fn should_touch(&self, id: &str, now: i64) -> bool {
        let mut touched = self.touched.lock().unwrap_or_else(PoisonError::into_inner);
        if touched.len() > 10_000 {
            touched.retain(|_, at| now - *at < 60 * 1_000_000);
        }
        match touched.get(id) {
            Some(at) if now - *at < 60 * 1_000_000 => false,
            _ => {
                touched.insert(id.to_owned(), now);
                true
            }
        }
    }
}

/// Listens for revocations until the pool closes, reconnecting after outages; each lost
/// connection is announced as [`Revoked::Unknown`].
fn spawn_listener(db: DatabaseConnection, revoked: broadcast::Sender<Revoked>) {
    tokio::spawn(async move {
        loop {
            let outcome = listen(&db, &revoked).await;
            let _ = revoked.send(Revoked::Unknown);
            match outcome {
                Ok(()) => tracing::warn!("the revocation listener lost its connection; token sockets recheck"),
                Err(sea_orm::sqlx::Error::PoolClosed) => return,
                Err(error) => tracing::warn!(%error, "the revocation listener failed; retrying"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

async fn listen(db: &DatabaseConnection, revoked: &broadcast::Sender<Revoked>) -> Result<(), sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(db.get_postgres_connection_pool()).await?;
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    while let Some(notification) = listener.try_recv().await? {
        let _ = revoked.send(Revoked::Token(notification.payload().into()));
    }
    Ok(())
}
