//! The hot PostgreSQL reads on a few tokio-postgres connections shared by every request
//! (issue 17), as [`super::Inline`] is SQLite's: a page of todos, `totalCount`, "is there
//! anything before/after the cursor".
//!
//! Through sea-orm's sqlx pool a read lends a connection to one request: the statement, then
//! sqlx's unconditional ping when the connection is given back (two round trips, each costing
//! both processes a write and a wake-up), and every column decoded by name into a map first.
//! A tokio-postgres client instead pipelines the statements of concurrent requests on its one
//! connection: one message out, one answer back, no lending, no ping, rows read by position.
//! Statements are still built by sea-orm (`DbBackend::Postgres`); each is prepared once per
//! connection and kept ([`MAX_PREPARED`] of them).
//!
//! Narrow on purpose:
//! - only reads the caller knows to be short (an index range, a page): a pipelined
//!   connection answers in order, so a slow statement (a search over every description) would
//!   hold up the reads queued behind it; those run on the pool, each on a connection of its own;
//! - only plain-text connections that would be plain text anyway: `sslmode=disable`, a
//!   loopback address or a Unix socket. Over TLS (sqlx's default `prefer` negotiates it) the
//!   reads stay on the pool rather than go out unencrypted;
//! - anything it cannot do is handed back (`None`) for the pool to run, as the inline SQLite
//!   path does: a connection that is closed (its reopening starts in the background, at most
//!   every [`REOPEN_EVERY`]), a value of a type it does not bind, a statement PostgreSQL
//!   refused (the pool reports the error as it always has). A read is safe to run twice.
//!   The database being down is thus decided by the pool and [`super::Outage`], as before.
//!
//! A request that goes away mid-statement costs nothing here: its answer is read off the
//! connection and dropped, and the connection goes on (issue 17's item 4). Each connection has
//! the pool's `statement_timeout`; a statement stopped by it is `TIMEOUT`, as on the pool.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use sea_orm::{Statement, Value};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, SimpleQueryMessage};

use super::StatementCounter;
use crate::error::{Error, Result};

/// Statements kept prepared per connection; past them a statement is prepared for one use.
pub const MAX_PREPARED: usize = 256;
/// How often a closed connection's reopening may be tried.
pub const REOPEN_EVERY: Duration = Duration::from_millis(500);
/// How long opening a connection may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(2);
/// How the reading connections name themselves in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "todoql-direct";
/// How the write connection names itself in `pg_stat_activity`.
pub const WRITER_APPLICATION_NAME: &str = "todoql-writer";
/// How much longer than `statement_timeout` a group commit may take before its connection is
/// given up: the time a lost network takes to show, not a statement's.
const COMMIT_GRACE: Duration = Duration::from_secs(2);

/// The shared connections.
pub struct Direct {
    config: tokio_postgres::Config,
    writer_config: tokio_postgres::Config,
    /// How long a group commit may take ([`COMMIT_GRACE`] past the statements' limit).
    commit_timeout: Duration,
    slots: Vec<Slot>,
    next: AtomicUsize,
    statements: Arc<StatementCounter>,
    served: AtomicU64,
    handed_over: AtomicU64,
    /// The connection group commits run on, held by the committing write ([`Direct::writer`]).
    writer: tokio::sync::Mutex<WriterSlot>,
    group_commits: AtomicU64,
}

/// The write connection, once open, and when its opening was last tried.
#[derive(Default)]
struct WriterSlot {
    link: Option<Link>,
    last_try: Option<Instant>,
}

/// One connection, once open, and its reopening.
#[derive(Default)]
struct Slot {
    live: RwLock<Option<Arc<Link>>>,
    reopening: AtomicBool,
    last_try: Mutex<Option<Instant>>,
}

/// An open connection and the statements prepared on it.
struct Link {
    client: Client,
    prepared: Mutex<HashMap<String, tokio_postgres::Statement>>,
    /// The task that drives the connection: a link dropped closes its socket.
    connection: tokio::task::AbortHandle,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

impl Direct {
    /// `count` direct connections (default: twice the cores) for `url`, each statement
    /// bounded by `limit`; `None` when `url` is not PostgreSQL, `count` is 0, the URL does not
    /// parse as tokio-postgres reads URLs, or the connection would be encrypted (see the
    /// module's documentation). Connections that cannot be opened now are opened on first use.
    pub async fn open(
        url: &str,
        count: Option<u32>,
        limit: Duration,
        statements: Arc<StatementCounter>,
    ) -> Option<Arc<Self>> {
        let count = count.map_or(2 * crate::threads::cores(), |n| usize::try_from(n).unwrap_or(usize::MAX));
        if !url.starts_with("postgres") || count == 0 {
            return None;
        }
        let mut config: tokio_postgres::Config = match url.parse() {
            Ok(config) => config,
            Err(error) => {
                tracing::info!(%error, "PostgreSQL reads stay on the pool: the URL is not one tokio-postgres reads");
                return None;
            }
        };
        if !plain_text_is_what_sqlx_would_use(&config) {
            tracing::info!("PostgreSQL reads stay on the pool: the connection may be encrypted");
            return None;
        }
        let timeout = format!("-c statement_timeout={}", limit.as_millis().max(1));
        let options = match config.get_options() {
            Some(given) if !given.is_empty() => format!("{given} {timeout}"),
            _ => timeout,
        };
        config.options(options).connect_timeout(OPEN_TIMEOUT);
        let mut writer_config = config.clone();
        writer_config.application_name(WRITER_APPLICATION_NAME);
        config.application_name(APPLICATION_NAME);
        let direct = Arc::new(Self {
            config,
            writer_config,
            commit_timeout: limit + COMMIT_GRACE,
            slots: (0..count).map(|_| Slot::default()).collect(),
            next: AtomicUsize::new(0),
            statements,
            served: AtomicU64::new(0),
            handed_over: AtomicU64::new(0),
            writer: tokio::sync::Mutex::default(),
            group_commits: AtomicU64::new(0),
        });
        let reads = futures_util::future::join_all((0..count).map(|index| direct.reopen(index)));
        tokio::join!(reads, async { direct.writer().await.open().await });
        Some(direct)
    }

    /// Runs `statement` (built for PostgreSQL; a read) and maps its rows; `None` hands it
    /// back, to run on the pool.
    pub async fn rows<T>(
        self: &Arc<Self>,
        statement: &Statement,
        mut map: impl FnMut(&Row) -> std::result::Result<T, tokio_postgres::Error>,
    ) -> Option<Result<Vec<T>>> {
        let answer = self.try_rows(statement, &mut map).await;
        let counter = if answer.is_some() { &self.served } else { &self.handed_over };
        counter.fetch_add(1, Ordering::Relaxed);
        answer
    }

    async fn try_rows<T>(
        self: &Arc<Self>,
        statement: &Statement,
        map: &mut impl FnMut(&Row) -> std::result::Result<T, tokio_postgres::Error>,
    ) -> Option<Result<Vec<T>>> {
        let values = values_of(statement)?;
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let link = self.slots[index].live.read().ok()?.clone();
        let Some(link) = link.filter(|link| !link.client.is_closed()) else {
            self.start_reopening(index);
            return None;
        };
        let prepared = link.prepared(&statement.sql).await;
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err(error) => return self.hand_over(index, &link, &statement.sql, &error),
        };
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|value| value.as_ref() as _).collect();
        self.statements.count();
        let rows = match link.client.query(&prepared, &params).await {
            Ok(rows) => rows,
            Err(error) if is_timeout(&error) => return Some(Err(Error::StatementTimedOut)),
            Err(error) => return self.hand_over(index, &link, &statement.sql, &error),
        };
        let mapped = rows.iter().map(map).collect::<std::result::Result<Vec<T>, _>>();
        Some(mapped.map_err(|e| Error::Internal(format!("a PostgreSQL row did not map: {e}"))))
    }

    /// After `error`: forgets the statement (the schema may have changed under it), starts
    /// reopening a closed connection, and hands the read back.
    fn hand_over<T>(
        self: &Arc<Self>,
        index: usize,
        link: &Link,
        sql: &str,
        error: &tokio_postgres::Error,
    ) -> Option<T> {
        if let Ok(mut prepared) = link.prepared.lock() {
            prepared.remove(sql);
        }
        if link.client.is_closed() {
            self.start_reopening(index);
        } else {
            tracing::debug!(%error, "a direct PostgreSQL read was handed to the pool");
        }
        None
    }

    /// Reopens connection `index` in the background, unless that is under way or was tried
    /// less than [`REOPEN_EVERY`] ago.
    fn start_reopening(self: &Arc<Self>, index: usize) {
        let slot = &self.slots[index];
        {
            let Ok(mut last) = slot.last_try.lock() else { return };
            if last.is_some_and(|at| at.elapsed() < REOPEN_EVERY) || slot.reopening.swap(true, Ordering::AcqRel) {
                return;
            }
            *last = Some(Instant::now());
        }
        let direct = self.clone();
        tokio::spawn(async move {
            direct.reopen(index).await;
            direct.slots[index].reopening.store(false, Ordering::Release);
        });
    }

    /// Opens connection `index`; on failure the slot stays empty (its reads go to the pool).
    async fn reopen(&self, index: usize) {
        let link = connect(&self.config).await.map(Arc::new);
        if let Ok(mut live) = self.slots[index].live.write() {
            *live = link;
        }
    }

    /// The write connection, once every write committing before has let go of it: who holds
    /// it commits the writes queued by then ([`crate::todos::commit`]).
    pub async fn writer(&self) -> Writer<'_> {
        Writer { direct: self, slot: self.writer.lock().await }
    }

    /// The `HELP` and `TYPE` lines of [`Direct::render`]'s samples.
    pub const METRIC_HEADER: &str = "# HELP todoql_postgres_direct_statements_total PostgreSQL reads run on the \
        shared direct connections, by outcome (handed_over: run on the pool instead).\n# TYPE \
        todoql_postgres_direct_statements_total counter\n";

    /// Prometheus samples: reads served directly and handed over to the pool, and the group
    /// commits of the write connection.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        out.push_str(Self::METRIC_HEADER);
        for (outcome, count) in [("served", &self.served), ("handed_over", &self.handed_over)] {
            let count = count.load(Ordering::Relaxed);
            let _ = writeln!(out, "todoql_postgres_direct_statements_total{{outcome=\"{outcome}\"}} {count}");
        }
        let _ = write!(
            out,
            "# HELP todoql_postgres_group_commits_total Transactions that committed todo writes together on the \
             write connection.\n# TYPE todoql_postgres_group_commits_total counter\n\
             todoql_postgres_group_commits_total {}\n",
            self.group_commits.load(Ordering::Relaxed)
        );
    }
}

/// What a group commit did ([`Writer::commit`]).
pub enum Committed<T> {
    /// Every statement ran and the transaction committed: each statement's rows, in order.
    Rows(Vec<Vec<T>>),
    /// Nothing was committed: there is no write connection, a value could not be bound, or a
    /// statement failed and the transaction rolled back. Each statement may run again alone.
    HandedBack,
    /// The connection was lost once the transaction was sent, and a new one found that it
    /// committed (`txid_status`): its rows were lost with the connection, so the caller reads
    /// what it wrote again.
    CommittedUnread,
    /// The connection was lost once the transaction was sent: whether it committed is unknown.
    Unknown,
}

/// Begins a group commit's transaction and asks for its id, in one simple query (as many
/// messages as `BEGIN` alone): the id is what [`Writer::outcome`] looks up when the connection
/// is lost before the `COMMIT`'s answer.
const BEGIN: &str = "BEGIN; SELECT txid_current()";

/// The write connection, held: only its holder sends on it, so a transaction on it is never
/// interleaved with anybody's statements (the shared reading connections cannot hold one).
pub struct Writer<'a> {
    direct: &'a Direct,
    slot: tokio::sync::MutexGuard<'a, WriterSlot>,
}

impl Writer<'_> {
    /// Opens the write connection when it is not open and opening was not tried less than
    /// [`REOPEN_EVERY`] ago; whether it is open.
    async fn open(&mut self) -> bool {
        if self.slot.link.as_ref().is_some_and(|link| !link.client.is_closed()) {
            return true;
        }
        self.slot.link = None;
        if self.slot.last_try.is_some_and(|at| at.elapsed() < REOPEN_EVERY) {
            return false;
        }
        self.slot.last_try = Some(Instant::now());
        self.slot.link = connect(&self.direct.writer_config).await;
        self.slot.link.is_some()
    }

    /// Runs `statements` (writes; each a single statement, built for PostgreSQL) in one
    /// transaction and maps their rows: `BEGIN`, the statements and `COMMIT` go out together
    /// and come back together, one round trip and one commit for all of them.
    ///
    /// A statement that fails rolls everything back (PostgreSQL answers the `COMMIT` of a
    /// failed transaction with a rollback), and the batch is handed back for each statement to
    /// run alone; so is a batch that could not be sent. Row locks are taken in the order of
    /// `statements`: callers that lock rows order their statements the same way every time, so
    /// that two instances' group commits never wait on each other in a circle.
    pub async fn commit<T>(
        &mut self,
        statements: &[&Statement],
        mut map: impl FnMut(&Row) -> std::result::Result<T, tokio_postgres::Error>,
    ) -> Committed<T> {
        let Some(values) = statements.iter().map(|statement| values_of(statement)).collect::<Option<Vec<_>>>() else {
            return Committed::HandedBack;
        };
        if !self.open().await {
            return Committed::HandedBack;
        }
        let Some(link) = self.slot.link.as_ref() else { return Committed::HandedBack };
        let mut prepared = Vec::with_capacity(statements.len());
        for statement in statements {
            match link.prepared(&statement.sql).await {
                Ok(statement) => prepared.push(statement),
                Err(error) => {
                    tracing::debug!(%error, "a group commit's statement could not be prepared");
                    return Committed::HandedBack;
                }
            }
        }
        let params: Vec<Vec<&(dyn ToSql + Sync)>> =
            values.iter().map(|values| values.iter().map(|value| value.as_ref() as _).collect()).collect();
        for _ in statements {
            self.direct.statements.count();
        }
        // Each request is sent when first polled, and `join!` polls in order: one pipeline.
        let mut id = None;
        let pipeline = async {
            tokio::join!(
                async {
                    let answers = link.client.simple_query(BEGIN).await?;
                    // Kept as soon as it arrives: the connection may be lost after.
                    id = answers.iter().find_map(|answer| match answer {
                        SimpleQueryMessage::Row(row) => row.get(0)?.parse::<i64>().ok(),
                        _ => None,
                    });
                    Ok::<_, tokio_postgres::Error>(())
                },
                futures_util::future::join_all(
                    prepared.iter().zip(&params).map(|(statement, params)| link.client.query(statement, params))
                ),
                link.client.batch_execute("COMMIT"),
            )
        };
        let answered = tokio::time::timeout(self.direct.commit_timeout, pipeline).await;
        let Ok((begun, written, committed)) = answered else {
            // No answer in time: a lost network, not a slow statement (`statement_timeout`
            // stops those). The connection is given up, which closes it.
            tracing::warn!("a group commit went unanswered; its connection is closed");
            self.slot.link = None;
            return self.outcome(id).await;
        };
        let written: std::result::Result<Vec<Vec<Row>>, _> = written.into_iter().collect();
        match (begun, written, committed) {
            (Ok(()), Ok(written), Ok(())) => {
                self.direct.group_commits.fetch_add(1, Ordering::Relaxed);
                let mapped = written.iter().map(|rows| rows.iter().map(&mut map).collect()).collect();
                match mapped {
                    Ok(rows) => Committed::Rows(rows),
                    // Committed, but not readable as asked: nobody can be told what was written.
                    Err(error) => {
                        tracing::error!(%error, "a group commit's rows did not map");
                        Committed::Unknown
                    }
                }
            }
            _ if link.client.is_closed() => {
                self.slot.link = None;
                self.outcome(id).await
            }
            (begun, written, committed) => {
                let error = begun.err().or(written.err()).or(committed.err());
                tracing::debug!(error = ?error, "a group commit rolled back; its writes run alone");
                // The `COMMIT` of a failed transaction rolls it back; this makes sure of it
                // whatever failed (a warning when no transaction is open).
                if link.client.batch_execute("ROLLBACK").await.is_err() {
                    self.slot.link = None;
                    return self.outcome(id).await;
                }
                Committed::HandedBack
            }
        }
    }

    /// What became of transaction `id`, whose connection was lost before its `COMMIT` was
    /// answered, asked on a new write connection: committed, rolled back (then its statements
    /// may run again), or unknown (no id, no connection, or still running after
    /// [`COMMIT_GRACE`] on a backend that has not noticed its client is gone). Writes queue
    /// meanwhile: the writer is held.
    async fn outcome<T>(&mut self, id: Option<i64>) -> Committed<T> {
        let Some(id) = id else { return Committed::Unknown };
        self.slot.last_try = Some(Instant::now());
        self.slot.link = connect(&self.direct.writer_config).await;
        let Some(link) = self.slot.link.as_ref() else { return Committed::Unknown };
        let asked = Instant::now();
        loop {
            let status = link.client.query_one("SELECT txid_status($1)", &[&id]).await;
            match status.ok().and_then(|row| row.get::<_, Option<String>>(0)).as_deref() {
                Some("committed") => {
                    self.direct.group_commits.fetch_add(1, Ordering::Relaxed);
                    return Committed::CommittedUnread;
                }
                Some("aborted") => return Committed::HandedBack,
                // A terminated backend takes a moment to roll back and exit.
                Some("in progress") if asked.elapsed() < COMMIT_GRACE => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                status => {
                    tracing::warn!(?status, "a group commit's connection was lost; its outcome is unknown");
                    return Committed::Unknown;
                }
            }
        }
    }
}

/// A new connection; `None` when it cannot be opened within [`OPEN_TIMEOUT`].
async fn connect(config: &tokio_postgres::Config) -> Option<Link> {
    let opened = tokio::time::timeout(OPEN_TIMEOUT, config.connect(NoTls)).await;
    match opened {
        Ok(Ok((client, connection))) => {
            let connection = tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "a direct PostgreSQL connection closed");
                }
            });
            Some(Link { client, prepared: Mutex::default(), connection: connection.abort_handle() })
        }
        Ok(Err(error)) => {
            tracing::debug!(%error, "could not open a direct PostgreSQL connection");
            None
        }
        Err(_) => None,
    }
}

impl Link {
    /// `sql` prepared on this connection: kept from an earlier use, or prepared now (and kept
    /// while fewer than [`MAX_PREPARED`] are).
    async fn prepared(&self, sql: &str) -> std::result::Result<tokio_postgres::Statement, tokio_postgres::Error> {
        if let Some(prepared) = self.prepared.lock().ok().and_then(|kept| kept.get(sql).cloned()) {
            return Ok(prepared);
        }
        let prepared = self.client.prepare(sql).await?;
        if let Ok(mut kept) = self.prepared.lock()
            && kept.len() < MAX_PREPARED
        {
            kept.insert(sql.to_owned(), prepared.clone());
        }
        Ok(prepared)
    }
}

/// Runs `query` (a read) on `direct` when there are direct connections, and maps its rows;
/// `None` when there are none or the read is handed back, to run on the pool (as
/// [`super::select`] does for SQLite's inline connections).
pub async fn select_direct<T>(
    direct: Option<&Arc<Direct>>,
    query: &impl sea_orm::QueryTrait,
    map: impl FnMut(&Row) -> std::result::Result<T, tokio_postgres::Error>,
) -> Option<Result<Vec<T>>> {
    direct?.rows(&query.build(sea_orm::DbBackend::Postgres), map).await
}

/// Whether sqlx, given the same URL, would not encrypt the connection either: TLS is turned
/// off, or every host is this machine (a loopback address or a Unix socket).
fn plain_text_is_what_sqlx_would_use(config: &tokio_postgres::Config) -> bool {
    if config.get_ssl_mode() == SslMode::Disable {
        return true;
    }
    let hosts = config.get_hosts();
    !hosts.is_empty()
        && hosts.iter().all(|host| match host {
            Host::Tcp(name) => {
                let bare = name.trim_start_matches('[').trim_end_matches(']');
                name == "localhost" || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
            }
            #[cfg(unix)]
            Host::Unix(_) => true,
        })
}

/// Whether PostgreSQL stopped the statement for time (`statement_timeout`: `query_canceled`).
fn is_timeout(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED)
}

/// The values of `statement` as tokio-postgres binds them; `None` when one is of a type this
/// module does not bind.
fn values_of(statement: &Statement) -> Option<Vec<Box<dyn ToSql + Sync + Send>>> {
    match &statement.values {
        Some(values) => values.0.iter().map(bindable).collect(),
        None => Some(Vec::new()),
    }
}

/// A sea-query value as tokio-postgres binds it, for the types todoql's reads use. Its type
/// must be the one PostgreSQL inferred for the parameter; a mismatch is refused by
/// tokio-postgres before anything is sent, and the read handed back.
fn bindable(value: &Value) -> Option<Box<dyn ToSql + Sync + Send>> {
    Some(match value {
        Value::Bool(v) => Box::new(*v),
        Value::Int(v) => Box::new(*v),
        Value::BigInt(v) => Box::new(*v),
        Value::Unsigned(v) => Box::new(v.map(i64::from)),
        Value::BigUnsigned(Some(n)) => Box::new(Some(i64::try_from(*n).ok()?)),
        Value::BigUnsigned(None) => Box::new(None::<i64>),
        Value::String(v) => Box::new(v.clone()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> tokio_postgres::Config {
        url.parse().unwrap()
    }

    #[test]
    fn only_connections_that_would_be_plain_text_anyway_are_opened() {
        assert!(plain_text_is_what_sqlx_would_use(&config("postgres://u@127.0.0.1:5432/db")));
        assert!(plain_text_is_what_sqlx_would_use(&config("postgres://u@localhost/db")));
        assert!(plain_text_is_what_sqlx_would_use(&config("postgres://u@[::1]:5432/db")));
        assert!(plain_text_is_what_sqlx_would_use(&config("postgres://u@db.internal/db?sslmode=disable")));
        assert!(!plain_text_is_what_sqlx_would_use(&config("postgres://u@db.internal/db")));
        assert!(!plain_text_is_what_sqlx_would_use(&config("postgres://u@db.internal/db?sslmode=require")));
        assert!(!plain_text_is_what_sqlx_would_use(&config("postgres://u@127.0.0.1,db.internal/db")));
    }

    #[test]
    fn binds_what_todoql_reads_use_and_hands_back_the_rest() {
        let statement = |values: Vec<Value>| Statement::from_sql_and_values(sea_orm::DbBackend::Postgres, "", values);
        let bound =
            values_of(&statement(vec!["id".into(), true.into(), 7i64.into(), 20u64.into(), Value::String(None)]));
        assert_eq!(bound.map(|values| values.len()), Some(5));
        assert!(values_of(&statement(vec![u64::MAX.into()])).is_none(), "no bigint holds it");
        assert!(values_of(&statement(vec![Value::Double(Some(1.5))])).is_none());
    }
}
