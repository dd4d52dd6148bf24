//! The hottest SQLite statements, on rusqlite connections run inline.
//!
//! Every authenticated request checks that its user exists, most read a page of todos, and
//! the rest mostly write one todo. Through sqlx-sqlite each statement crosses to the
//! connection's worker thread and back, row by row; on two cores that thread hand-off was
//! about half the CPU time of a read (see README, Performance). Here the same statements,
//! built by the same sea-query code and scoped by the same functions, run on the calling
//! thread with a cached prepared statement: reads on read-only connections, todo writes on
//! one read-write connection (todo writes already go one at a time, in commit order, under
//! [`Events::begin`](crate::events::Events::begin)).
//!
//! Two shapes share that machinery: a query's reads run in one read transaction kept for the
//! request ([`Snapshot`]), and the todo writes that queue while one commits are committed
//! together, in one transaction ([`Inline::transaction`], driven by
//! [`crate::todos::commit`]).
//!
//! Running inline must never stall the runtime, so every statement has a budget of SQLite
//! virtual-machine steps ([`Config::sqlite_inline_steps`](crate::config::Config)) and never
//! waits for a lock: one that goes over its budget (a search through a very long list, say)
//! is interrupted, and one that would wait is refused at once; either is handed back to the
//! caller, which runs it on the sqlx pool like any other statement. So is one whose values
//! this module does not bind, or one SQLite fails. That is safe because a statement here
//! is a read, or a single write that commits on its own: one that fails or is interrupted
//! has changed nothing. (A row that does not map does not stop the statement: it is reported
//! as an error once the statement has finished, never handed over.) The pool path then waits or reports the failure the usual way. In
//! WAL mode each statement reads the last committed state, whichever connection wrote it.
//!
//! The inline writer never checkpoints the WAL by itself (a checkpoint waits on the disk, a
//! runtime thread must not): every [`WRITES_PER_CHECKPOINT`] writes, the writing task runs
//! one on the blocking pool ([`Inline::checkpoint_if_due`]) while it still holds the
//! write-order lock. With writes paused the checkpoint catches up, and the next write
//! starts the WAL over. (A checkpoint on a timer, beside steady writes, never caught up, so
//! the WAL never restarted: 6 GB in 18 s of the load benchmark's writes.)

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use rusqlite::types::Value as SqliteValue;
use rusqlite::{Connection, OpenFlags, Row};
use sea_orm::sea_query::Value;
use sea_orm::sqlx::sqlite::SqliteConnectOptions;
use sea_orm::{DbBackend, QueryTrait, Statement};

use super::StatementCounter;
use crate::error::{Error, Result};

/// Inline writes between two checkpoints. A todo write adds a page per index and one for the
/// row to the WAL, more once the tables are deep: in the load benchmark (90,000 todos) 200
/// writes grew the WAL file to about 12 MiB, so 400 keep it near 25 MiB. A checkpoint costs
/// two fsyncs whatever its size: measured with `scripts/load`, 100 writes per checkpoint gave
/// about a tenth less write throughput than 200, and 400 about a twelfth more.
pub const WRITES_PER_CHECKPOINT: u64 = 400;

/// The most [`Snapshot`]s open at once; past it a request reads statement by statement. A
/// request that runs inline from start to end holds one for no longer than one poll, so about
/// one per runtime thread is ever open: the bound is for requests that wait on the pool.
pub const MAX_SNAPSHOTS: usize = 8;

/// The progress handler runs at most every this many virtual-machine steps: a step can
/// compare a search against a whole row, so a few dozen rows between two looks at the clock.
const STEPS_PER_TICK: u64 = 100;

/// The longest a statement runs inline, on a runtime thread, before it is interrupted and
/// handed to the pool (whose threads are not the runtime's): a page takes a few dozen
/// microseconds, so this is only ever reached by a statement that would hold the thread.
pub const MAX_INLINE_TIME: std::time::Duration = std::time::Duration::from_millis(5);

/// How many connections of each kind keep SQLite's default page cache (2 MiB): one per
/// runtime thread running hot statements, and one more. Past them, a connection — such as one
/// a [`Snapshot`] holds while its request waits on the pool, a search's — keeps the pool's
/// small cache ([`super::SQLITE_CACHE_KIB`]). Ten connections that had each begun a search
/// inline filled 2 MiB of cache apiece and kept it (issue 13: a server under a search attack
/// held 20 MiB more). All are kept when idle (closing one would make the next request open
/// and prepare anew: reads beside a search attack cost six times their CPU so), at most
/// [`max_idle`].
fn full_cache_connections() -> usize {
    crate::threads::cores() + 1
}

/// The most idle connections kept: as many as can be busy at once, the runtime's threads'
/// and the snapshots'.
fn max_idle() -> usize {
    full_cache_connections() + MAX_SNAPSHOTS
}

/// Connections to the SQLite database file, shared by the runtime's threads.
pub struct Inline {
    path: PathBuf,
    kind: Kind,
    /// Connections not in use, at most [`max_idle`].
    idle: Mutex<Vec<Held>>,
    /// Connections open, idle or not.
    open: Arc<AtomicUsize>,
    /// The progress handler runs every this many steps…
    steps_per_tick: i32,
    /// …and interrupts a read on its this-many-th run.
    ticks: u32,
    statements: Arc<StatementCounter>,
    served: AtomicU64,
    /// Writes since the last checkpoint.
    unchecked: AtomicU64,
    handed_over: AtomicU64,
    /// Group commits ([`Inline::transaction`]).
    transactions: AtomicU64,
    /// Connections held by [`Snapshot`]s now.
    snapshots: AtomicUsize,
}

/// What the connections may do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Read-only connections.
    Read,
    /// Read-write connections.
    Write,
}

/// A connection and the budget of the statement running on it.
struct Held {
    connection: Connection,
    budget: Arc<Budget>,
    /// Whether it keeps SQLite's default page cache: taken first when idle.
    full_cache: bool,
    /// Counts it among the open connections while it lives.
    _open: Opened,
}

/// One open connection in [`Inline::open`]'s count, until dropped.
struct Opened(Arc<AtomicUsize>);

impl Drop for Opened {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the statement running on a connection has used: progress-handler ticks, and time
/// since it began. Restarted before each statement.
#[derive(Default)]
struct Budget {
    ticks: AtomicU32,
    /// When the statement began: nanoseconds since [`epoch`].
    began: AtomicU64,
}

impl Budget {
    fn restart(&self) {
        self.ticks.store(0, Ordering::Relaxed);
        self.began.store(since_epoch(), Ordering::Relaxed);
    }

    /// Counts a tick; whether the statement is now over `ticks`, or (when `timed`) over
    /// [`MAX_INLINE_TIME`].
    fn spent(&self, ticks: u32, timed: bool) -> bool {
        let over_steps = self.ticks.fetch_add(1, Ordering::Relaxed) + 1 >= ticks;
        over_steps
            || timed
                && since_epoch().saturating_sub(self.began.load(Ordering::Relaxed)) > MAX_INLINE_TIME.as_nanos() as u64
    }
}

/// A fixed instant of this process, for times kept in atomics.
fn epoch() -> std::time::Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}

fn since_epoch() -> u64 {
    u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl Inline {
    /// Inline connections of `kind` to the database at `url`; `None` when it is not a SQLite
    /// file (PostgreSQL, an in-memory database) or `steps` is 0 (inline statements turned off).
    pub fn new(url: &str, kind: Kind, steps: u64, statements: Arc<StatementCounter>) -> Option<Self> {
        if steps == 0 || !url.starts_with("sqlite:") || url.contains(":memory:") || url.contains("mode=memory") {
            return None;
        }
        let path = SqliteConnectOptions::from_str(url).ok()?.get_filename().to_path_buf();
        let steps_per_tick = steps.min(STEPS_PER_TICK);
        Some(Self {
            path,
            kind,
            steps_per_tick: i32::try_from(steps_per_tick).unwrap_or(1),
            ticks: u32::try_from(steps / steps_per_tick).unwrap_or(u32::MAX),
            idle: Mutex::default(),
            open: Arc::default(),
            statements,
            served: AtomicU64::new(0),
            unchecked: AtomicU64::new(0),
            handed_over: AtomicU64::new(0),
            transactions: AtomicU64::new(0),
            snapshots: AtomicUsize::new(0),
        })
    }

    /// A read transaction for one request's reads ([`Snapshot`]); `None` on the writer, when
    /// [`MAX_SNAPSHOTS`] are open, or when no connection opens.
    pub fn snapshot(self: &Arc<Self>) -> Option<Snapshot> {
        if self.kind != Kind::Read || self.snapshots.fetch_add(1, Ordering::Relaxed) >= MAX_SNAPSHOTS {
            self.snapshots.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        // Deferred: the snapshot is taken by the first statement that reads.
        match self.take().and_then(|held| control(&held.connection, "BEGIN").map(|()| held)) {
            Ok(held) => Some(Snapshot { inline: self.clone(), held: Mutex::new(Some(held)) }),
            Err(error) => {
                self.snapshots.fetch_sub(1, Ordering::Relaxed);
                self.hand_over::<()>(&error);
                None
            }
        }
    }

    /// Runs `statements`, writes each, in one transaction (a group commit): one commit, and
    /// one set of WAL frames for the pages they share, instead of one per statement.
    ///
    /// Returns what each statement returned once the transaction has committed, or `None`
    /// for one handed back to the caller to run on the pool; a statement handed back changed
    /// nothing. A statement that fails (a constraint, a value this module does not bind) is
    /// undone on its own by SQLite, which keeps the transaction, and is handed back while
    /// the others commit. When the transaction cannot begin (another connection writes) or is
    /// lost (over budget, an I/O error), every statement is handed back.
    pub fn transaction<T>(
        &self,
        statements: &[&Statement],
        mut map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Vec<Option<Result<Vec<T>>>> {
        let none = || statements.iter().map(|_| None).collect();
        let held = match self.take() {
            Ok(held) => held,
            Err(error) => return self.hand_over_all(&error, statements.len(), none()),
        };
        let connection = &held.connection;
        held.budget.restart();
        if let Err(error) = control(connection, "BEGIN IMMEDIATE") {
            // Busy: another connection holds the write lock. The connection stays fit.
            self.give_back(held);
            return self.hand_over_all(&error, statements.len(), none());
        }
        let mut done: Vec<Option<Vec<rusqlite::Result<T>>>> = Vec::with_capacity(statements.len());
        for statement in statements {
            held.budget.restart();
            let Some(values) = values_of(statement) else {
                self.handed_over.fetch_add(1, Ordering::Relaxed);
                done.push(None);
                continue;
            };
            self.statements.count();
            let changes = connection.total_changes();
            match step(connection, &statement.sql, values, &mut map) {
                Ok(mapped) => done.push(Some(mapped)),
                Err(error) if connection.total_changes() != changes && !connection.is_autocommit() => {
                    // It failed, yet its change stands: it cannot be handed back alone, so
                    // nothing of the transaction is kept.
                    let _ = connection.execute_batch("ROLLBACK");
                    return self.hand_over_all(&error, statements.len(), none());
                }
                Err(error) if connection.is_autocommit() => {
                    // SQLite rolled the whole transaction back (interrupted, I/O): nothing
                    // of it was written. The connection is dropped unless merely interrupted.
                    if is_interrupt(&error) {
                        self.give_back(held);
                    }
                    return self.hand_over_all(&error, statements.len(), none());
                }
                Err(error) => {
                    // Only this statement was undone; the transaction goes on.
                    self.hand_over::<()>(&error);
                    done.push(None);
                }
            }
        }
        if let Err(error) = control(connection, "COMMIT") {
            if !connection.is_autocommit() {
                let _ = connection.execute_batch("ROLLBACK");
            }
            return self.hand_over_all(&error, statements.len(), none());
        }
        self.give_back(held);
        let committed = done.iter().filter(|d| d.is_some()).count() as u64;
        self.served.fetch_add(committed, Ordering::Relaxed);
        self.unchecked.fetch_add(committed, Ordering::Relaxed);
        self.transactions.fetch_add(1, Ordering::Relaxed);
        done.into_iter().map(|mapped| mapped.map(collected)).collect()
    }

    /// Runs `read` on an idle connection (opened when none is); `None` when it went over
    /// budget or failed.
    fn run<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Option<T> {
        let inline = match self.take() {
            Ok(inline) => inline,
            Err(error) => return self.hand_over(&error),
        };
        inline.budget.restart();
        self.statements.count();
        match read(&inline.connection) {
            Ok(value) => {
                self.give_back(inline);
                self.served.fetch_add(1, Ordering::Relaxed);
                if self.kind == Kind::Write {
                    self.unchecked.fetch_add(1, Ordering::Relaxed);
                }
                Some(value)
            }
            Err(error) => {
                // An interrupted statement is reset when its cached handle is reused, so the
                // connection stays fit; any other failure drops it, to be reopened.
                if is_interrupt(&error) {
                    self.give_back(inline);
                }
                self.hand_over(&error)
            }
        }
    }

    /// After a write, with the write-order lock still held: every [`WRITES_PER_CHECKPOINT`]
    /// writes, checkpoints the WAL on the blocking pool. PASSIVE: it never waits for a lock,
    /// and one the pool's connections are running already does the work.
    pub async fn checkpoint_if_due(&self) {
        if self.kind != Kind::Write || self.unchecked.load(Ordering::Relaxed) < WRITES_PER_CHECKPOINT {
            return;
        }
        self.unchecked.store(0, Ordering::Relaxed);
        let Ok(held) = self.take() else { return };
        let checkpoint = tokio::task::spawn_blocking(move || {
            // Not bounded by the step budget: the handler is off while it runs.
            held.connection.progress_handler(0, None::<fn() -> bool>).ok();
            let done = held.connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get::<_, i64>(0));
            (held, done)
        });
        match checkpoint.await {
            Ok((held, done)) => {
                if let Err(error) = done {
                    tracing::warn!(%error, "could not checkpoint the SQLite WAL");
                }
                if self.budget(&held).is_ok() {
                    self.give_back(held);
                }
            }
            Err(error) => tracing::warn!(%error, "the WAL checkpoint task failed"),
        }
    }

    /// An idle connection (one with the full cache if any is), or a new one when none is.
    fn take(&self) -> rusqlite::Result<Held> {
        let idle = self.idle.lock().ok().and_then(|mut idle| match idle.iter().rposition(|held| held.full_cache) {
            Some(full) => Some(idle.swap_remove(full)),
            None => idle.pop(),
        });
        idle.map_or_else(|| self.open(), Ok)
    }

    /// Keeps a connection for the next statement (closes it past [`max_idle`]).
    fn give_back(&self, held: Held) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < max_idle()
        {
            idle.push(held);
        }
    }

    /// Hands back all `count` statements of a transaction that did not commit.
    fn hand_over_all<T>(&self, error: &rusqlite::Error, count: usize, none: Vec<Option<T>>) -> Vec<Option<T>> {
        self.hand_over::<()>(error);
        self.handed_over.fetch_add(count.saturating_sub(1) as u64, Ordering::Relaxed);
        none
    }

    fn hand_over<T>(&self, error: &rusqlite::Error) -> Option<T> {
        if !is_interrupt(error) {
            tracing::debug!(%error, kind = ?self.kind, "an inline SQLite statement was refused; running it on the pool");
        }
        self.handed_over.fetch_add(1, Ordering::Relaxed);
        None
    }

    fn open(&self) -> rusqlite::Result<Held> {
        let access = match self.kind {
            Kind::Read => OpenFlags::SQLITE_OPEN_READ_ONLY,
            Kind::Write => OpenFlags::SQLITE_OPEN_READ_WRITE,
        };
        let opened = Opened(self.open.clone());
        let full_cache = self.open.fetch_add(1, Ordering::Relaxed) < full_cache_connections();
        let connection = Connection::open_with_flags(&self.path, access | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        if !full_cache {
            connection.execute_batch(&format!("PRAGMA cache_size = -{}", super::SQLITE_CACHE_KIB))?;
        }
        // A statement that would wait for a lock goes to the pool, where waiting does not
        // block a runtime thread.
        connection.busy_timeout(std::time::Duration::ZERO)?;
        if self.kind == Kind::Write {
            // As the pool's connections write (src/db/mod.rs), checkpointing apart (above).
            connection.execute_batch(
                "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;",
            )?;
        }
        // Plans stay fixed whatever the values bound: otherwise a statement whose plan could
        // depend on a bound value (sea-orm binds the LIMIT) is prepared again on every run.
        connection.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        // Room for every shape of page (order, direction, cursor, filter) besides the rest.
        connection.set_prepared_statement_cache_capacity(64);
        let held = Held { connection, budget: Arc::default(), full_cache, _open: opened };
        self.budget(&held)?;
        Ok(held)
    }

    /// Interrupts what runs on `held` once it has taken its budget of steps, or for a read
    /// [`MAX_INLINE_TIME`].
    ///
    /// Writes are bounded by steps alone: each writes one row (found by key, or, for an insert,
    /// after counting at most the owner's todo limit), so its steps bound its time. And a write
    /// interrupted on its last step — SQLite has made its change, and is handing back the row
    /// it `RETURNING`s — keeps that change, which a clock could stop at any moment.
    fn budget(&self, held: &Held) -> rusqlite::Result<()> {
        let (budget, limit, timed) = (held.budget.clone(), self.ticks, self.kind == Kind::Read);
        held.connection.progress_handler(self.steps_per_tick, Some(move || budget.spent(limit, timed)))
    }

    /// The `HELP` and `TYPE` lines of [`Inline::render`]'s samples.
    pub const METRIC_HEADER: &str = "# HELP todoql_sqlite_inline_statements_total SQLite statements run inline, by kind and \
        outcome (handed_over: rerun on the pool).\n# TYPE todoql_sqlite_inline_statements_total counter\n";

    /// Prometheus samples: statements served inline and handed over to the pool.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let kind = match self.kind {
            Kind::Read => "read",
            Kind::Write => "write",
        };
        for (outcome, count) in [("served", &self.served), ("handed_over", &self.handed_over)] {
            let count = count.load(Ordering::Relaxed);
            let _ =
                writeln!(out, "todoql_sqlite_inline_statements_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} {count}");
        }
    }

    /// Group commits so far ([`Inline::transaction`]).
    pub fn group_commits(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed)
    }

    /// Prometheus lines for the group commits of [`Inline::transaction`] (the writer's).
    pub fn render_commits(&self, out: &mut String) {
        use std::fmt::Write;
        let count = self.transactions.load(Ordering::Relaxed);
        let _ = write!(
            out,
            "# HELP todoql_sqlite_group_commits_total Transactions that committed inline writes together.\n\
             # TYPE todoql_sqlite_group_commits_total counter\ntodoql_sqlite_group_commits_total {count}\n"
        );
    }
}

/// One request's reads in one read transaction, on one read-only connection: each statement
/// sees the state the first one saw (a page and its `totalCount` agree), and the transaction
/// is begun and ended once per request instead of once per statement (on the load
/// benchmark's read, the user check and the page, about a third of SQLite's time went to
/// beginning and ending read transactions, their WAL-index locks included; sharing one saved
/// a few percent of the request's CPU time).
///
/// Statements keep their budget; one that goes over it or fails is handed back as with
/// [`Inline::rows`], and a snapshot SQLite ended (it cannot be relied on) gives way to
/// statement-by-statement reads. Dropped with the request: the transaction ends, and the
/// connection goes back to the others.
pub struct Snapshot {
    inline: Arc<Inline>,
    held: Mutex<Option<Held>>,
}

/// What runs statements inline: [`Inline`] statement by statement, or a request's
/// [`Snapshot`].
pub trait Rows {
    /// Runs `statement` (built for SQLite) and maps its rows; `None` hands it back to the
    /// caller to run on the pool.
    fn rows<T>(
        &self,
        statement: &Statement,
        map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Option<Result<Vec<T>>>;

    /// Runs `query` and maps its rows; `None` hands it back to the caller to run on the pool.
    fn select<T>(
        &self,
        query: &impl QueryTrait,
        map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Option<Result<Vec<T>>> {
        self.rows(&query.build(DbBackend::Sqlite), map)
    }
}

/// Runs `query` inline: in `snapshot` when the request has one, else on `reader`; `None` when
/// there is neither (not SQLite) or the statement is handed back, to run on the pool.
pub fn select<T>(
    snapshot: Option<&Snapshot>,
    reader: Option<&Inline>,
    query: &impl QueryTrait,
    map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Option<Result<Vec<T>>> {
    match (snapshot, reader) {
        (Some(snapshot), _) => snapshot.select(query, map),
        (None, Some(reader)) => reader.select(query, map),
        (None, None) => None,
    }
}

impl Rows for Inline {
    /// A write must be a single statement (it commits on its own).
    ///
    /// The statement always runs to its end: a row that does not map (a bug) is an error once
    /// the statement has done its work, never a reason to run a write a second time on the
    /// pool.
    fn rows<T>(
        &self,
        statement: &Statement,
        mut map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Option<Result<Vec<T>>> {
        let values = values_of(statement)?;
        let mapped = self.run(|connection| step(connection, &statement.sql, values, &mut map))?;
        Some(collected(mapped))
    }
}

impl Rows for Snapshot {
    /// In the snapshot; as [`Inline`] does once SQLite has ended it.
    fn rows<T>(
        &self,
        statement: &Statement,
        mut map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Option<Result<Vec<T>>> {
        let inline = &self.inline;
        let mut slot = self.held.lock().ok()?;
        let Some(held) = slot.as_ref() else {
            drop(slot);
            return inline.rows(statement, map);
        };
        let values = values_of(statement)?;
        held.budget.restart();
        inline.statements.count();
        match step(&held.connection, &statement.sql, values, &mut map) {
            Ok(mapped) => {
                inline.served.fetch_add(1, Ordering::Relaxed);
                Some(collected(mapped))
            }
            Err(error) => {
                let fit = is_interrupt(&error);
                if !fit || held.connection.is_autocommit() {
                    // SQLite ended the transaction, or the connection is suspect: read the
                    // rest statement by statement.
                    if let Some(held) = slot.take()
                        && fit
                    {
                        inline.give_back(held);
                    }
                }
                inline.hand_over(&error)
            }
        }
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let held = self.held.get_mut().ok().and_then(Option::take);
        if let Some(held) = held
            && (held.connection.is_autocommit() || control(&held.connection, "COMMIT").is_ok())
        {
            self.inline.give_back(held);
        }
        self.inline.snapshots.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs a transaction control statement (`BEGIN`, `COMMIT`) from the connection's statement
/// cache: preparing it afresh each time cost more than running it.
fn control(connection: &Connection, sql: &str) -> rusqlite::Result<()> {
    connection.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// The values of `statement` as SQLite binds them; `None` when one is of a type this module
/// does not bind.
fn values_of(statement: &Statement) -> Option<Vec<SqliteValue>> {
    match &statement.values {
        Some(values) => values.0.iter().map(bindable).collect(),
        None => Some(Vec::new()),
    }
}

/// Runs `sql` with `values` to its end (a cached prepared statement), mapping every row.
fn step<T>(
    connection: &Connection,
    sql: &str,
    values: Vec<SqliteValue>,
    map: &mut impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<rusqlite::Result<T>>> {
    let mut prepared = connection.prepare_cached(sql)?;
    let mut rows = prepared.query(rusqlite::params_from_iter(values))?;
    let mut mapped = Vec::new();
    while let Some(row) = rows.next()? {
        mapped.push(map(row));
    }
    Ok(mapped)
}

/// The rows of a statement that ran to its end; one that did not map is an internal error.
fn collected<T>(mapped: Vec<rusqlite::Result<T>>) -> Result<Vec<T>> {
    mapped
        .into_iter()
        .collect::<rusqlite::Result<Vec<T>>>()
        .map_err(|e| Error::Internal(format!("an inline SQLite row did not map: {e}")))
}

fn is_interrupt(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted)
}

/// A sea-query value as SQLite binds it, for the types todoql's reads use.
fn bindable(value: &Value) -> Option<SqliteValue> {
    Some(match value {
        Value::Bool(v) => v.map_or(SqliteValue::Null, |b| SqliteValue::Integer(b.into())),
        Value::Int(v) => v.map_or(SqliteValue::Null, |n| SqliteValue::Integer(n.into())),
        Value::BigInt(v) => v.map_or(SqliteValue::Null, SqliteValue::Integer),
        Value::Unsigned(v) => v.map_or(SqliteValue::Null, |n| SqliteValue::Integer(n.into())),
        Value::BigUnsigned(v) => match v {
            Some(n) => SqliteValue::Integer(i64::try_from(*n).ok()?),
            None => SqliteValue::Null,
        },
        Value::String(v) => v.clone().map_or(SqliteValue::Null, SqliteValue::Text),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_reader_without_a_sqlite_file() {
        let counter = Arc::new(StatementCounter::default());
        assert!(Inline::new("postgres://localhost/todoql", Kind::Read, 1000, counter.clone()).is_none());
        assert!(Inline::new("sqlite::memory:", Kind::Read, 1000, counter.clone()).is_none());
        assert!(Inline::new("sqlite://todoql.db?mode=rwc", Kind::Write, 0, counter.clone()).is_none());
        let reader = Inline::new("sqlite:///tmp/a%20b.db?mode=rwc", Kind::Read, 1000, counter).expect("a file");
        assert_eq!(reader.path, PathBuf::from("/tmp/a b.db"));
    }

    #[test]
    fn binds_what_todoql_reads_use_and_hands_over_the_rest() {
        assert_eq!(bindable(&Value::Bool(Some(true))), Some(SqliteValue::Integer(1)));
        assert_eq!(bindable(&Value::BigUnsigned(Some(21))), Some(SqliteValue::Integer(21)));
        assert_eq!(bindable(&Value::BigUnsigned(Some(u64::MAX))), None);
        assert_eq!(bindable(&Value::String(None)), Some(SqliteValue::Null));
        assert_eq!(bindable(&Value::Double(Some(1.5))), None);
    }

    #[test]
    fn a_write_that_would_wait_is_handed_over_having_changed_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("w.db");
        let other = Connection::open(&path).unwrap();
        other.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t(n);").unwrap();
        let url = format!("sqlite://{}", path.display());
        let writer = Inline::new(&url, Kind::Write, 10_000, Arc::new(StatementCounter::default())).expect("writer");
        let insert = Statement::from_string(sea_orm::DbBackend::Sqlite, "INSERT INTO t VALUES (7) RETURNING n");
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        assert!(writer.rows(&insert, |row| row.get::<_, i64>(0)).is_none(), "the lock is taken: no waiting");
        other.execute_batch("COMMIT").unwrap();
        let count = |c: &Connection| c.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(count(&other), 0);
        assert_eq!(writer.rows(&insert, |row| row.get::<_, i64>(0)).map(Result::ok), Some(Some(vec![7])));
        assert_eq!(count(&other), 1, "committed on its own, visible to other connections");
        // A row that does not map is an error after the write, not a reason to write again.
        let unmapped = writer.rows(&insert, |row| row.get::<_, String>(0));
        assert!(matches!(unmapped, Some(Err(Error::Internal(_)))));
        assert_eq!(count(&other), 2);
    }

    /// A writer on a fresh database with a table `t(n UNIQUE)`, and another connection to it.
    fn writer_and_other(dir: &tempfile::TempDir, steps: u64) -> (Inline, Connection) {
        let path = dir.path().join("g.db");
        let other = Connection::open(&path).unwrap();
        other.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t(n UNIQUE);").unwrap();
        let url = format!("sqlite://{}", path.display());
        (Inline::new(&url, Kind::Write, steps, Arc::new(StatementCounter::default())).expect("writer"), other)
    }

    fn insert(n: i64) -> Statement {
        Statement::from_sql_and_values(sea_orm::DbBackend::Sqlite, "INSERT INTO t VALUES (?) RETURNING n", [n.into()])
    }

    fn count(connection: &Connection) -> i64 {
        connection.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_group_commit_commits_every_statement_but_the_one_that_fails() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (writer, other) = writer_and_other(&dir, 10_000);
        let (one, again, two) = (insert(1), insert(1), insert(2));
        let unbindable = Statement::from_sql_and_values(
            sea_orm::DbBackend::Sqlite,
            "INSERT INTO t VALUES (?) RETURNING n",
            [1.5f64.into()],
        );
        let outcomes = writer.transaction(&[&one, &again, &unbindable, &two], |row| row.get::<_, i64>(0));
        let outcomes: Vec<_> = outcomes.into_iter().map(|o| o.map(Result::ok)).collect();
        assert_eq!(outcomes, vec![Some(Some(vec![1])), None, None, Some(Some(vec![2]))]);
        assert_eq!(count(&other), 2, "the duplicate was undone alone, the rest committed");
        assert_eq!(writer.group_commits(), 1);
        let mut text = String::new();
        writer.render(&mut text);
        writer.render_commits(&mut text);
        assert!(text.contains("write\",outcome=\"served\"} 2\n"), "{text}");
        assert!(text.contains("write\",outcome=\"handed_over\"} 2\n"), "{text}");
        assert!(text.contains("todoql_sqlite_group_commits_total 1\n"), "{text}");
    }

    #[test]
    fn a_group_commit_that_cannot_begin_or_is_interrupted_hands_everything_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (writer, other) = writer_and_other(&dir, 10_000);
        let (one, two) = (insert(1), insert(2));
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let outcomes = writer.transaction(&[&one, &two], |row| row.get::<_, i64>(0));
        assert!(outcomes.iter().all(Option::is_none), "the write lock is taken: no waiting");
        other.execute_batch("COMMIT").unwrap();
        // The second statement goes over its budget: SQLite rolls the whole transaction back,
        // the first insert with it.
        let heavy = Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "INSERT INTO t WITH RECURSIVE c(x) AS (SELECT 10 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) \
             SELECT x FROM c RETURNING n",
        );
        let outcomes = writer.transaction(&[&one, &heavy, &two], |row| row.get::<_, i64>(0));
        assert!(outcomes.iter().all(Option::is_none));
        assert_eq!(count(&other), 0, "nothing of it was written");
        assert_eq!(writer.group_commits(), 0);
        // The connection is still fit.
        let outcomes = writer.transaction(&[&one, &two], |row| row.get::<_, i64>(0));
        assert!(outcomes.iter().all(Option::is_some));
        assert_eq!(count(&other), 2);
    }

    #[test]
    fn whatever_step_it_is_interrupted_at_a_statement_handed_back_has_written_nothing() {
        // Many rows `RETURNING`: SQLite writes them all on the first step, then hands them out
        // step by step. A budget that runs out while they are handed out interrupts a
        // statement whose change stands; the transaction must then keep nothing.
        let many = Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "INSERT INTO t WITH RECURSIVE c(x) AS (SELECT 100 UNION ALL SELECT x + 1 FROM c WHERE x < 2099) \
             SELECT x FROM c RETURNING n",
        );
        let one = insert(1);
        let mut interrupted = 0;
        for budget in (1..=120).map(|k| k * 500) {
            let dir = tempfile::tempdir().expect("temp dir");
            let (writer, other) = writer_and_other(&dir, budget);
            let outcomes = writer.transaction(&[&one, &many], |row| row.get::<_, i64>(0));
            let written = count(&other);
            match (&outcomes[0], &outcomes[1]) {
                (Some(Ok(_)), Some(Ok(rows))) => assert_eq!((rows.len(), written), (2000, 2001), "budget {budget}"),
                (Some(Ok(_)), None) => {
                    interrupted += 1;
                    assert_eq!(written, 1, "budget {budget}: handed back, yet its rows were kept");
                }
                (None, None) => {
                    interrupted += 1;
                    assert_eq!(written, 0, "budget {budget}: all handed back, yet rows were kept");
                }
                other => panic!("budget {budget}: {other:?}"),
            }
        }
        assert!(interrupted > 10, "the budgets cover the statement's steps");
    }

    #[test]
    fn a_read_within_its_steps_but_past_its_time_is_handed_over_and_the_connection_stays_fit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (_, other) = writer_and_other(&dir, 10_000);
        other.execute_batch("INSERT INTO t VALUES (1)").unwrap();
        let url = format!("sqlite://{}", dir.path().join("g.db").display());
        // A budget of steps no statement here reaches: only the clock can stop it.
        let reader = Inline::new(&url, Kind::Read, u64::from(u32::MAX), Arc::new(StatementCounter::default())).unwrap();
        // Each step hashes a long blob: few steps, much time.
        let slow = Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000) \
             SELECT count(*) FROM c WHERE instr(zeroblob(100000) || x, 'needle') > 0",
        );
        let started = std::time::Instant::now();
        assert!(reader.rows(&slow, |r| r.get::<_, i64>(0)).is_none(), "handed over for time");
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "stopped long before its end");
        let quick = Statement::from_string(sea_orm::DbBackend::Sqlite, "SELECT count(*) FROM t");
        assert_eq!(reader.rows(&quick, |r| r.get::<_, i64>(0)).map(Result::ok), Some(Some(vec![1])));
    }

    #[test]
    fn a_snapshot_sees_one_state_until_it_is_dropped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (writer, other) = writer_and_other(&dir, 10_000);
        let url = format!("sqlite://{}", dir.path().join("g.db").display());
        let reader = Arc::new(Inline::new(&url, Kind::Read, 10_000, Arc::new(StatementCounter::default())).unwrap());
        assert!(Arc::new(writer).snapshot().is_none(), "snapshots are for reads");
        let counted = Statement::from_string(sea_orm::DbBackend::Sqlite, "SELECT count(*) FROM t");
        let count_in = |snapshot: &Snapshot| snapshot.rows(&counted, |r| r.get::<_, i64>(0)).unwrap().unwrap()[0];
        let snapshot = reader.snapshot().expect("a snapshot");
        assert_eq!(count_in(&snapshot), 0);
        other.execute_batch("INSERT INTO t VALUES (1)").unwrap();
        assert_eq!(count_in(&snapshot), 0, "the state its first statement saw");
        assert_eq!(reader.rows(&counted, |r| r.get::<_, i64>(0)).unwrap().unwrap(), vec![1], "outside: the new state");
        // A statement over budget is handed back; the snapshot goes on.
        let heavy = Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) SELECT count(*) FROM c",
        );
        assert!(snapshot.rows(&heavy, |r| r.get::<_, i64>(0)).is_none());
        assert_eq!(count_in(&snapshot), 0);
        drop(snapshot);
        assert_eq!(reader.snapshots.load(Ordering::Relaxed), 0);
        let idle = reader.idle.lock().unwrap().len();
        assert_eq!(idle, 2, "its connection went back, beside the one opened for the read outside");
        // The transaction ended: a checkpoint can reset the WAL.
        let (busy, _, _): (i64, i64, i64) =
            other.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap();
        assert_eq!(busy, 0);
        assert_eq!(count_in(&reader.snapshot().unwrap()), 1);
        // At most MAX_SNAPSHOTS at once.
        let open: Vec<_> = (0..MAX_SNAPSHOTS).map(|_| reader.snapshot().expect("under the bound")).collect();
        assert!(reader.snapshot().is_none());
        drop(open);
        assert!(reader.snapshot().is_some());
    }

    #[test]
    fn past_one_connection_per_thread_and_one_more_a_connection_keeps_a_small_cache() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (_, other) = writer_and_other(&dir, 10_000);
        other.execute_batch("INSERT INTO t VALUES (1)").unwrap();
        let url = format!("sqlite://{}", dir.path().join("g.db").display());
        let reader = Arc::new(Inline::new(&url, Kind::Read, 10_000, Arc::new(StatementCounter::default())).unwrap());
        let cache = Statement::from_string(sea_orm::DbBackend::Sqlite, "PRAGMA cache_size");
        let cache_of = |s: &Snapshot| s.rows(&cache, |r| r.get::<_, i64>(0)).unwrap().unwrap()[0];
        // Requests waiting on the pool hold snapshots: as many as allowed at once.
        let open: Vec<_> = (0..MAX_SNAPSHOTS).map(|_| reader.snapshot().expect("under the bound")).collect();
        let caches: Vec<i64> = open.iter().map(cache_of).collect();
        let full = full_cache_connections();
        assert!(full < MAX_SNAPSHOTS, "the test needs more snapshots than full-cache connections");
        assert!(caches[..full].iter().all(|&c| c == -2000), "SQLite's default: {caches:?}");
        assert!(caches[full..].iter().all(|&c| c == -i64::from(crate::db::SQLITE_CACHE_KIB)), "{caches:?}");
        // A read beside them opens one more, small too.
        let counted = Statement::from_string(sea_orm::DbBackend::Sqlite, "SELECT count(*) FROM t");
        assert_eq!(reader.rows(&counted, |r| r.get::<_, i64>(0)).unwrap().unwrap(), vec![1]);
        assert_eq!(reader.open.load(Ordering::Relaxed), MAX_SNAPSHOTS + 1);
        drop(open);
        // All are kept for the next requests, which open none, and take a full cache first.
        assert_eq!(reader.idle.lock().unwrap().len(), MAX_SNAPSHOTS + 1);
        for _ in 0..3 * max_idle() {
            assert_eq!(cache_of(&reader.snapshot().unwrap()), -2000);
        }
        assert_eq!(reader.open.load(Ordering::Relaxed), MAX_SNAPSHOTS + 1);
    }

    #[test]
    fn a_read_over_budget_is_handed_over_and_the_connection_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("r.db");
        Connection::open(&path).and_then(|c| c.execute_batch("CREATE TABLE t(n); INSERT INTO t VALUES (1);")).unwrap();
        let url = format!("sqlite://{}", path.display());
        let reader = Inline::new(&url, Kind::Read, 10_000, Arc::new(StatementCounter::default())).expect("reader");
        let heavy = Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) SELECT count(*) FROM c",
        );
        assert!(reader.rows(&heavy, |row| row.get::<_, i64>(0)).is_none());
        let light = Statement::from_string(sea_orm::DbBackend::Sqlite, "SELECT n FROM t");
        assert_eq!(reader.rows(&light, |row| row.get::<_, i64>(0)).map(Result::ok), Some(Some(vec![1])));
        assert_eq!(reader.rows(&light, |row| row.get::<_, i64>(0)).map(Result::ok), Some(Some(vec![1])));
        assert_eq!(reader.idle.lock().unwrap().len(), 1, "one connection, reused after the interruption");
        let mut text = String::new();
        reader.render(&mut text);
        assert!(text.contains("read\",outcome=\"served\"} 2\n"), "{text}");
        assert!(text.contains("read\",outcome=\"handed_over\"} 1\n"), "{text}");
    }
}
