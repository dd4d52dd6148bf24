//! Group commit of todo writes.
//!
//! A commit costs about the same whatever it holds. On SQLite: WAL frames for every page it
//! touched, the WAL-index locks, a share of the next checkpoint. On PostgreSQL: a WAL flush,
//! and, for a transaction that notifies (every todo write announces its change), a
//! heavyweight lock taken as it commits and held until after (`PreCommit_Notify` in
//! `async.c`: exclusive, on "database 0", cluster-wide), so that notifications queue in commit
//! order: commits that notify go one at a time, whoever sends them. So writes that arrive
//! together commit together. A write joins the queue,
//! then either its answer comes, or it takes the commit lock first and becomes the leader: it
//! takes every queued write (its own and those that arrived while the previous leader
//! committed), runs them in one transaction, answers each, and only then lets go. Nobody waits
//! for a batch to fill: a write that finds the lock free commits at once, alone.
//!
//! - On SQLite the lock is the write-order lock ([`Events::begin`]) and the transaction runs
//!   on the inline writer ([`Inline::transaction`]); changes are published in statement order
//!   once committed.
//! - On PostgreSQL the lock is the instance's write connection ([`Direct::writer`]), and only
//!   writes that announce their own change ([`Events::announcing`]: the inserts) queue: their
//!   notifications commit with them, in statement order. `BEGIN`, the statements and `COMMIT`
//!   go out in one pipeline ([`crate::db::Writer::commit`]). The statements are sorted by
//!   owner (writes of one owner keep their order): an insert locks its owner's row until the
//!   commit (`users.todo_count`), and two instances committing at once then take their locks
//!   in the same order, so they can wait for each other but never in a circle.
//!
//! An answer is sent after the commit, so an acknowledged write is as durable as one that
//! committed alone. A statement the transaction hands back (it failed, or the transaction
//! could not run) is run on the pool by the leader after the commit, still holding the lock,
//! so changes are still published in commit order. A PostgreSQL write connection lost while
//! its transaction was on its way is followed by a new one asking what became of the
//! transaction (`txid_status`): committed, each write's todo is read back for its answer;
//! rolled back, the writes run alone as above; still unknown (the old backend has not noticed
//! yet, or the database cannot be reached), they are answered `SERVICE_UNAVAILABLE`, as a pooled
//! statement whose connection is lost is.

use std::sync::Mutex;

use sea_orm::{DatabaseConnection, EntityTrait, Statement};
use tokio::sync::oneshot;

use super::entity;
use super::store::{announced, returned, todo_of_pg_row, todo_of_row};
use crate::db::{Committed, Direct, Inline, Writer};
use crate::error::{Error, Result};
use crate::events::{Change, Events, TodoEventKind};

/// The most writes one transaction commits: bounds the time a leader keeps the lock.
pub const MAX_BATCH: usize = 64;

/// Todo writes waiting for a leader.
#[derive(Default)]
pub struct WriteQueue {
    pending: Mutex<Vec<Pending>>,
}

struct Pending {
    kind: TodoEventKind,
    statement: Statement,
    /// On PostgreSQL, the change `statement` announces itself.
    announces: Option<Change>,
    answer: oneshot::Sender<Result<entity::Model>>,
}

impl WriteQueue {
    fn push(&self, pending: Pending) {
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(pending);
    }

    /// The Prometheus gauge of the writes waiting for a leader.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let queued = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len();
        let _ = write!(
            out,
            "# HELP todoql_writes_queued Todo writes waiting for the group commit in progress to end.\n\
             # TYPE todoql_writes_queued gauge\ntodoql_writes_queued {queued}\n"
        );
    }

    /// The oldest queued writes, at most [`MAX_BATCH`].
    fn take(&self) -> Vec<Pending> {
        let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = pending.len().min(MAX_BATCH);
        pending.drain(..count).collect()
    }
}

/// Where queued writes commit.
#[derive(Clone, Copy)]
pub enum Committer<'a> {
    /// SQLite: the inline writer, under the write-order lock.
    Sqlite(&'a Inline),
    /// PostgreSQL: the instance's write connection; the statements announce their changes.
    Postgres(&'a Direct),
}

/// The lock a leader holds while it commits, and where it commits.
enum Leader<'a> {
    Sqlite(Option<tokio::sync::MutexGuard<'a, ()>>, &'a Inline),
    Postgres(Writer<'a>),
}

impl<'a> Committer<'a> {
    async fn lead(self, events: &'a Events) -> Leader<'a> {
        match self {
            Self::Sqlite(writer) => Leader::Sqlite(events.begin().await, writer),
            Self::Postgres(direct) => Leader::Postgres(direct.writer().await),
        }
    }
}

/// Commits `statement` (one todo write, `RETURNING` the row; on PostgreSQL one that
/// announces `announces` itself) with whatever other writes are queued, and publishes its
/// change once committed.
pub async fn write(
    queue: &WriteQueue,
    committer: Committer<'_>,
    events: &Events,
    db: &DatabaseConnection,
    kind: TodoEventKind,
    statement: Statement,
    announces: Option<Change>,
) -> Result<entity::Model> {
    let (answer, mut answered) = oneshot::channel();
    queue.push(Pending { kind, statement, announces, answer });
    loop {
        tokio::select! {
            biased;
            answer = &mut answered => {
                return answer.map_err(|_| Error::Internal("a group commit ended without an answer".into()))?;
            }
            leader = committer.lead(events) => {
                // The lock's holder answers before it lets go: an empty queue means this
                // write was committed by an earlier leader, and its answer is waiting.
                let batch = queue.take();
                if batch.is_empty() {
                    continue;
                }
                match leader {
                    Leader::Sqlite(order, writer) => {
                        commit(batch, writer, events, db).await;
                        // Still holding the write-order lock: no write runs beside the checkpoint.
                        writer.checkpoint_if_due().await;
                        drop(order);
                    }
                    Leader::Postgres(mut writer) => commit_postgres(batch, &mut writer, events, db).await,
                }
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
    for Pending { kind, statement, answer, .. } in handed_back {
        let result = returned(db, statement).await;
        publish(events, kind, answer, result);
    }
}

/// Commits `batch` in one transaction on PostgreSQL's write connection, its statements in
/// owner order, and answers; a batch handed back runs on the pool, one statement at a time.
async fn commit_postgres(mut batch: Vec<Pending>, writer: &mut Writer<'_>, events: &Events, db: &DatabaseConnection) {
    // Stable: writes of one owner keep the order they came in.
    batch.sort_by(|a, b| owner(a).cmp(owner(b)));
    let statements: Vec<&Statement> = batch.iter().map(|p| &p.statement).collect();
    match writer.commit(&statements, todo_of_pg_row).await {
        Committed::Rows(rows) => {
            for (pending, rows) in batch.into_iter().zip(rows) {
                let result = rows.into_iter().next().ok_or(Error::NotFound);
                publish(events, pending.kind, pending.answer, result);
            }
        }
        Committed::HandedBack => {
            for Pending { kind, statement, announces, answer } in batch {
                let result = match &announces {
                    Some(change) => announced(db, statement, change).await,
                    None => returned(db, statement).await,
                };
                publish(events, kind, answer, result);
            }
        }
        Committed::CommittedUnread => {
            // Each insert's id is its change's: what it wrote is read back (none: it wrote
            // nothing, as when the owner's limit was reached, or the todo is already gone).
            for Pending { kind, announces, answer, .. } in batch {
                let result = match announces {
                    Some(change) => entity::Entity::find_by_id(change.todo_id)
                        .one(db)
                        .await
                        .map_err(Error::from)
                        .and_then(|found| found.ok_or(Error::NotFound)),
                    None => Err(Error::ServiceUnavailable { retry_after: None }),
                };
                publish(events, kind, answer, result);
            }
        }
        Committed::Unknown => {
            for pending in batch {
                let _ = pending.answer.send(Err(Error::ServiceUnavailable { retry_after: None }));
            }
        }
    }
}

/// The owner whose row a queued PostgreSQL write locks.
fn owner(pending: &Pending) -> &str {
    pending.announces.as_ref().map_or("", |change| change.owner_id.as_str())
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
