//! Group commit of todo writes on SQLite.
//!
//! SQLite commits one transaction at a time, and each commit costs the same whatever it
//! holds: WAL frames for every page it touched, the WAL-index locks, a share of the next
//! checkpoint. So writes that arrive together commit together. A write joins the queue,
//! then either its answer comes, or it takes the write-order lock
//! ([`Events::begin`]) first and becomes the leader: it takes every queued write (its own
//! and those that arrived while the previous leader committed), runs them in one transaction
//! on the inline writer ([`Inline::transaction`]), publishes their changes in statement
//! order, answers each, and only then releases the lock. Nobody waits for a batch to fill:
//! a write that finds the lock free commits at once, alone.
//!
//! An answer is sent after the commit, so an acknowledged write is as durable as one that
//! committed alone. A statement the transaction hands back (it failed, or the transaction
//! could not run) is run on the pool by the leader after the commit, still under the lock,
//! so changes are still published in commit order.

use std::sync::Mutex;

use sea_orm::{DatabaseConnection, Statement};
use tokio::sync::oneshot;

use super::entity;
use super::store::{returned, todo_of_row};
use crate::db::Inline;
use crate::error::{Error, Result};
use crate::events::{Change, Events, TodoEventKind};

/// The most writes one transaction commits: bounds the time a leader keeps its thread.
pub const MAX_BATCH: usize = 64;

/// Todo writes waiting for a leader.
#[derive(Default)]
pub struct WriteQueue {
    pending: Mutex<Vec<Pending>>,
}

struct Pending {
    kind: TodoEventKind,
    statement: Statement,
    answer: oneshot::Sender<Result<entity::Model>>,
}

impl WriteQueue {
    fn push(&self, pending: Pending) {
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(pending);
    }

    /// The oldest queued writes, at most [`MAX_BATCH`].
    fn take(&self) -> Vec<Pending> {
        let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = pending.len().min(MAX_BATCH);
        pending.drain(..count).collect()
    }
}

/// Commits `statement` (one todo write, `RETURNING` the row) with whatever other writes are
/// queued, and publishes its change once committed.
pub async fn write(
    queue: &WriteQueue,
    writer: &Inline,
    events: &Events,
    db: &DatabaseConnection,
    kind: TodoEventKind,
    statement: Statement,
) -> Result<entity::Model> {
    let (answer, mut answered) = oneshot::channel();
    queue.push(Pending { kind, statement, answer });
    loop {
        tokio::select! {
            biased;
            answer = &mut answered => {
                return answer.map_err(|_| Error::Internal("a group commit ended without an answer".into()))?;
            }
            order = events.begin() => {
                // The lock's holder answers before it lets go: an empty queue means this
                // write was committed by an earlier leader, and its answer is waiting.
                let batch = queue.take();
                if !batch.is_empty() {
                    commit(batch, writer, events, db).await;
                    // Still holding the write-order lock: no write runs beside the checkpoint.
                    writer.checkpoint_if_due().await;
                }
                drop(order);
            }
        }
    }
}

/// Commits `batch` in one transaction, publishes and answers; what the transaction hands
/// back then runs on the pool, one statement at a time.
async fn commit(batch: Vec<Pending>, writer: &Inline, events: &Events, db: &DatabaseConnection) {
    let statements: Vec<&Statement> = batch.iter().map(|p| &p.statement).collect();
    let outcomes = writer.transaction(&statements, todo_of_row);
    let mut handed_back = Vec::new();
    for (pending, outcome) in batch.into_iter().zip(outcomes) {
        match outcome {
            Some(rows) => {
                let result = rows.and_then(|rows| rows.into_iter().next().ok_or(Error::NotFound));
                publish(events, pending.kind, pending.answer, result);
            }
            None => handed_back.push(pending),
        }
    }
    for Pending { kind, statement, answer } in handed_back {
        let result = returned(db, statement).await;
        publish(events, kind, answer, result);
    }
}

/// Publishes a committed write's change and answers its writer.
fn publish(
    events: &Events,
    kind: TodoEventKind,
    answer: oneshot::Sender<Result<entity::Model>>,
    result: Result<entity::Model>,
) {
    if let Ok(model) = &result {
        events.committed(Change::of(kind, model));
    }
    // A writer that is gone (it cannot be: writes run in their own task) needs no answer.
    let _ = answer.send(result);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::auth::AuthenticatedUser;
    use crate::config::Config;
    use crate::events::Event;
    use crate::todos::store::TodoStore;
    use crate::users::store::{self as users, NewUser};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_that_queue_while_one_commits_commit_together_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_database(format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display()));
        config.jwt_secret = Some("a test secret of at least thirty-two bytes".to_owned());
        let state = crate::app::open(config).await.expect("state");
        let new = NewUser { email: "c@example.test".into(), name: "C".into(), password_hash: "x".into() };
        let owner = AuthenticatedUser::trusted(users::create(&state.db, new).await.expect("user").id);
        let writer = state.writer.clone().expect("an inline writer on a SQLite file");
        let mut events = state.events.subscribe(&owner.id).await;

        // A write is committing: the next ones queue behind it.
        let order = state.events.begin().await;
        let writes: Vec<_> = (0..10)
            .map(|i| {
                let (state, owner) = (state.clone(), owner.clone());
                tokio::spawn(async move { TodoStore::of(&state, &owner).create(format!("todo {i}"), None).await })
            })
            .collect();
        while state.writes.pending.lock().unwrap().len() < 10 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        drop(order);
        let mut created = Vec::new();
        for write in writes {
            created.push(write.await.expect("task").expect("created").id);
        }
        assert_eq!(writer.group_commits(), 1, "ten writes, one transaction");

        // Published once committed, each once, in the order they were written.
        let mut published = Vec::new();
        while let Ok(Ok(Event::Committed(change))) = tokio::time::timeout(Duration::from_secs(1), events.recv()).await {
            published.push(change.todo_id.clone());
            if published.len() == 10 {
                break;
            }
        }
        let file = rusqlite::Connection::open(dir.path().join("c.db")).expect("open");
        let mut statement = file.prepare("SELECT id FROM todos ORDER BY rowid").expect("prepare");
        let inserted: Vec<String> =
            statement.query_map([], |row| row.get(0)).expect("query").collect::<Result<_, _>>().expect("rows");
        assert_eq!(published, inserted, "events in the order the rows were written");
        created.sort();
        published.sort();
        assert_eq!(published, created);
    }
}
