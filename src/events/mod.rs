//! Todo change events: published in commit order, only after commit, to every instance.
//!
//! On SQLite (one process owns the file) a process-wide lock spans each write and its
//! broadcast, so events leave in the order the writes committed. On PostgreSQL the event is
//! sent with `pg_notify` inside the writing transaction: PostgreSQL delivers notifications
//! only on commit and in commit order, and one `LISTEN` connection per instance fans them out
//! to that instance's subscribers ([`postgres`]). When that connection drops, notifications
//! sent meanwhile are lost: subscribers then receive [`Event::Interrupted`] and must refetch.

mod fanout;
mod postgres;

use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, MutexGuard, broadcast, watch};

use fanout::Fanout;

use crate::error::{Error, Result};
use crate::todos::entity;

/// The PostgreSQL notification channel.
const CHANNEL: &str = "todoql_todo_events";
/// Events an instance buffers for a user's slowest subscriber before that subscriber is cut
/// off.
pub const BUFFER: usize = 256;
/// PostgreSQL refuses notification payloads of 8000 bytes or more: larger changes are sent
/// in parts of at most this many bytes ([`postgres::parts`]).
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
    /// The todo as committed; `None` for deletions.
    pub todo: Option<entity::Model>,
}

impl Change {
    /// The change a write of `kind` made, leaving `todo` as it is now.
    pub fn of(kind: TodoEventKind, todo: &entity::Model) -> Self {
        Self {
            kind,
            todo_id: todo.id.clone(),
            owner_id: todo.owner_id.clone(),
            todo: (kind != TodoEventKind::Deleted).then(|| todo.clone()),
        }
    }
}

/// What subscribers receive, in commit order.
#[derive(Clone, Debug)]
pub enum Event {
    /// A committed change.
    Committed(Arc<Change>),
    /// Changes may have been missed (PostgreSQL: the listening connection was lost): every
    /// subscription should end, and its client refetch.
    Interrupted,
}

/// The per-instance event hub.
#[derive(Clone)]
pub struct Events {
    fanout: Arc<Fanout>,
    backend: DatabaseBackend,
    /// Held across a write and its broadcast on SQLite: commit order is publish order.
    write_order: Arc<Mutex<()>>,
    /// `Some(n)` while the n-th `LISTEN` session is up (always `Some(0)` on SQLite); `None`
    /// while this instance would miss changes.
    listening: Arc<watch::Sender<Option<u64>>>,
}

impl Events {
    /// The hub for `db`; on PostgreSQL also starts this instance's listener.
    pub fn start(db: &DatabaseConnection) -> Self {
        let fanout = Arc::new(Fanout::default());
        let backend = db.get_database_backend();
        let postgres = backend == DatabaseBackend::Postgres;
        let listening = Arc::new(watch::Sender::new((!postgres).then_some(0)));
        if postgres {
            postgres::spawn_listener(db.clone(), fanout.clone(), listening.clone());
        }
        Self { fanout, backend, write_order: Arc::new(Mutex::new(())), listening }
    }

    /// Receives every change to `owner`'s todos committed from now on, or
    /// [`Event::Interrupted`] if some may be missed. On PostgreSQL this waits until the
    /// instance listens, so that no change committed after it returns goes unnoticed.
    pub async fn subscribe(&self, owner: &str) -> broadcast::Receiver<Event> {
        let mut listening = self.listening.subscribe();
        loop {
            let Ok(session) = listening.wait_for(Option::is_some).await.map(|s| *s) else {
                // The sender lives in `self`: this cannot happen.
                return self.fanout.subscribe(owner);
            };
            let receiver = self.fanout.subscribe(owner);
            // Still the same session: an interruption after this point reaches `receiver`.
            if *self.listening.borrow() == session {
                return receiver;
            }
        }
    }

    /// Begins a write that will publish a change: hold the returned guard until `committed`.
    pub async fn begin(&self) -> Option<MutexGuard<'_, ()>> {
        match self.backend {
            DatabaseBackend::Postgres => None,
            _ => Some(self.write_order.lock().await),
        }
    }

    /// Whether a write must stage its change inside its transaction ([`Events::stage`]):
    /// on PostgreSQL; on SQLite a single statement may commit on its own.
    pub fn stages_in_transaction(&self) -> bool {
        self.backend == DatabaseBackend::Postgres
    }

    /// `write` (one statement `RETURNING` the row it writes) made to announce `change` itself
    /// when it writes a row, in the same statement, so in the same transaction: PostgreSQL
    /// runs a single statement in a transaction of its own, so the write and its notification
    /// commit together, in commit order, in one round trip instead of four (`BEGIN`, the
    /// write, `pg_notify`, `COMMIT`). For a write whose row is known before it runs (an
    /// insert). `None` on SQLite, or when the change needs more than one notification: then
    /// the write stages it in a transaction ([`Events::stage`]).
    pub fn announcing(&self, write: Statement, change: &Change) -> Option<Statement> {
        if self.backend != DatabaseBackend::Postgres {
            return None;
        }
        let payload = postgres::encode(change).ok()?;
        if postgres::parts(&payload).len() != 1 {
            return None;
        }
        let mut values = write.values.map(|values| values.0).unwrap_or_default();
        let (channel, text) = (values.len() + 1, values.len() + 2);
        values.extend([CHANNEL.into(), payload.into()]);
        // The lateral subquery runs once per row written: none written, nothing announced.
        let sql = format!(
            "WITH written AS ({}) SELECT written.* FROM written CROSS JOIN LATERAL (SELECT pg_notify(${channel}, ${text})) AS announced",
            write.sql
        );
        Some(Statement::from_sql_and_values(DatabaseBackend::Postgres, sql, values))
    }

    /// Stages `change` inside the writing transaction (PostgreSQL: `pg_notify`, in parts when
    /// it is too large for one notification).
    pub async fn stage(&self, txn: &DatabaseTransaction, change: &Change) -> Result<()> {
        if self.backend != DatabaseBackend::Postgres {
            return Ok(());
        }
        let payload = postgres::encode(change).map_err(|e| Error::Internal(format!("event encoding: {e}")))?;
        for part in postgres::parts(&payload) {
            let notify = Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [CHANNEL.into(), part.into()],
            );
            txn.execute_raw(notify).await.map_err(|error| announcing_failed(error, change))?;
        }
        Ok(())
    }

    /// Publishes a committed change to this instance (SQLite; PostgreSQL's listener does it).
    pub fn committed(&self, change: Change) {
        if self.backend != DatabaseBackend::Postgres {
            self.fanout.publish(Event::Committed(Arc::new(change)));
        }
    }
}

/// The error of a `pg_notify` that failed, or of a write that announces its own change
/// ([`Events::announcing`]). Its message may quote the payload — the user's todo text — so
/// what is kept (and logged) names the todo and the SQLSTATE only; a lost connection stays a
/// database error (`SERVICE_UNAVAILABLE`).
pub(crate) fn announcing_failed(error: sea_orm::DbErr, change: &Change) -> Error {
    let error = Error::from(error);
    if matches!(error.code(), "SERVICE_UNAVAILABLE" | "TIMEOUT") {
        return error;
    }
    let state = match &error {
        Error::Database(db) => crate::error::sql_state(db),
        _ => None,
    };
    let state = state.as_deref().unwrap_or("unknown");
    Error::Internal(format!(
        "could not announce the change of todo {} of user {} (SQLSTATE {state})",
        change.todo_id, change.owner_id
    ))
}
