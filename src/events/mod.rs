//! Todo change events: published in commit order, only after commit, to every instance.
//!
//! On SQLite (one process owns the file) a process-wide lock spans each write and its
//! broadcast, so events leave in the order the writes committed. On PostgreSQL the event is
//! sent with `pg_notify` inside the writing transaction: PostgreSQL delivers notifications
//! only on commit and in commit order, and one `LISTEN` connection per instance fans them out
//! to that instance's subscribers ([`postgres`]).

mod postgres;

use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, MutexGuard, broadcast};

use crate::error::{Error, Result};
use crate::todos::entity;

/// The PostgreSQL notification channel.
const CHANNEL: &str = "todoql_todo_events";
/// Events an instance buffers for its slowest subscriber before that subscriber is cut off.
pub const BUFFER: usize = 1024;
/// PostgreSQL refuses notification payloads of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7900;

/// What happened to a todo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
pub enum TodoEventKind {
    /// It was created.
    Created,
    /// It was updated or toggled.
    Updated,
    /// It was deleted.
    Deleted,
}

/// One committed change.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Change {
    /// What happened.
    pub kind: TodoEventKind,
    /// The todo's id.
    pub todo_id: String,
    /// Its owner: only they receive the event.
    pub owner_id: String,
    /// The todo as committed; `None` for deletions (and for PostgreSQL payloads too large to
    /// carry it, which the listener then reloads).
    pub todo: Option<entity::Model>,
}

/// The per-instance event hub.
#[derive(Clone)]
pub struct Events {
    sender: broadcast::Sender<Arc<Change>>,
    backend: DatabaseBackend,
    /// Held across a write and its broadcast on SQLite: commit order is publish order.
    write_order: Arc<Mutex<()>>,
}

impl Events {
    /// The hub for `db`; on PostgreSQL also starts this instance's listener.
    pub fn start(db: &DatabaseConnection) -> Self {
        let (sender, _) = broadcast::channel(BUFFER);
        let backend = db.get_database_backend();
        if backend == DatabaseBackend::Postgres {
            postgres::spawn_listener(db.clone(), sender.clone());
        }
        Self { sender, backend, write_order: Arc::new(Mutex::new(())) }
    }

    /// Receives every change committed from now on (the caller filters by owner).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.sender.subscribe()
    }

    /// Begins a write that will publish a change: hold the returned guard until `committed`.
    pub async fn begin(&self) -> Option<MutexGuard<'_, ()>> {
        match self.backend {
            DatabaseBackend::Postgres => None,
            _ => Some(self.write_order.lock().await),
        }
    }

    /// Stages `change` inside the writing transaction (PostgreSQL: `pg_notify`).
    pub async fn stage(&self, txn: &DatabaseTransaction, change: &Change) -> Result<()> {
        if self.backend != DatabaseBackend::Postgres {
            return Ok(());
        }
        let mut payload = serde_json::to_string(change).map_err(|e| Error::Internal(format!("event encoding: {e}")))?;
        if payload.len() > MAX_PAYLOAD {
            let slim = Change { todo: None, ..change.clone() };
            payload = serde_json::to_string(&slim).map_err(|e| Error::Internal(format!("event encoding: {e}")))?;
        }
        let notify = Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), payload.into()],
        );
        txn.execute_raw(notify).await?;
        Ok(())
    }

    /// Publishes a committed change to this instance (SQLite; PostgreSQL's listener does it).
    pub fn committed(&self, change: Change) {
        if self.backend != DatabaseBackend::Postgres {
            // No subscribers is not an error.
            let _ = self.sender.send(Arc::new(change));
        }
    }
}
