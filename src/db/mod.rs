//! Opening the database: the pool settings for each backend, migrations and readiness.

mod deadline;
mod direct;
mod inline;
mod outage;

pub use direct::{Committed, Direct, Writer, select_direct};
pub use inline::{Inline, Kind, Rows, Snapshot, select};
pub use outage::Outage;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

use crate::config::Config;

/// The page cache each pooled SQLite connection may keep, KiB (SQLite's default is 2,000 KiB).
///
/// A connection keeps what it read until its cache is full, and a search reads every row of
/// its owner: with the default, each of the pool's eight connections that had run one search
/// held 2 MiB for good (16 of the 24 MiB a dozen searches left, issue 13). A search runs on
/// the pool once it outlasts its inline budget, as do other long statements; the hot reads run
/// inline ([`Inline`]), whose few connections keep SQLite's default: with 256 KiB there too,
/// reads after the load benchmark's writes (a deeper table) took 133 µs of CPU instead of 88.
/// Inline connections past one per runtime thread and one more keep this one.
pub const SQLITE_CACHE_KIB: u32 = 256;

/// How long a pooled connection may sit idle before the pool pings it when lending it.
pub const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// Counts the SQL statements the server issues; exposed on `/metrics`.
#[derive(Debug, Default)]
pub struct StatementCounter(AtomicU64);

impl StatementCounter {
    /// Statements issued so far.
    pub fn total(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Counts one statement.
    fn count(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL names no backend todoql speaks.
    #[error("DATABASE_URL must start with sqlite:// or postgres://, got {0:?}")]
    UnsupportedUrl(String),
    /// The database refused or did not answer (the driver's text, with any URL password
    /// redacted).
    #[error("cannot open the database: {0}")]
    Connect(String),
    /// A migration failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(sea_orm::DbErr),
}

/// Connects to the configured database with settings suited to its backend: the pool every
/// request uses, each statement bounded by [`Config::statement_limit`].
pub async fn connect(config: &Config) -> Result<(DatabaseConnection, Arc<StatementCounter>), OpenError> {
    let mut db = open(config, Some(config.statement_limit())).await?;
    let counter = Arc::new(StatementCounter::default());
    let counting = counter.clone();
    db.set_metric_callback(move |_| counting.count());
    Ok((db, counter))
}

/// Applies every pending migration, on a connection of its own: a migration may rightly take
/// longer than any request's statement.
pub async fn migrate(config: &Config) -> Result<(), OpenError> {
    let mut single = config.clone();
    single.database_max_connections = Some(1);
    // Start-up, not a request: a busy machine may take a while to open the file.
    single.database_acquire_timeout = single.database_acquire_timeout.max(10);
    let db = open(&single, None).await?;
    let migrated = Migrator::up(&db, None).await.map_err(OpenError::Migrate);
    db.close().await.ok();
    migrated
}

/// A pool for the configured database; each statement bounded by `limit` when given.
async fn open(config: &Config, limit: Option<Duration>) -> Result<DatabaseConnection, OpenError> {
    let url = &config.database.database_url;
    let is_sqlite = url.starts_with("sqlite:");
    if !is_sqlite && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        return Err(OpenError::UnsupportedUrl(scheme_of(url)));
    }
    let mut options = ConnectOptions::new(url.clone());
    options
        .max_connections(config.database_max_connections.unwrap_or(if is_sqlite { 8 } else { 16 }))
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(config.database_acquire_timeout.max(1)))
        // sqlx pings a connection before lending it, a round trip of its own on PostgreSQL:
        // with it, a read there was three round trips (ping, statement, sqlx's ping on
        // release) where the statement is one. A connection in steady use is known to work;
        // one idle for a second (after an outage, a restart, a proxy's idle cut) is pinged.
        .test_before_acquire_if_idle_for(IDLE_BEFORE_PING)
        // sqlx logs every statement at INFO otherwise.
        .sqlx_logging(false)
        // WAL lets readers run beside the single writer; NORMAL sync in WAL mode survives a
        // process crash (only an OS crash or power loss can drop the last transactions).
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .pragma("cache_size", format!("-{SQLITE_CACHE_KIB}"))
        });
    if let Some(limit) = limit {
        // No statement outlives a request: the server stops it on PostgreSQL, a progress
        // handler on SQLite.
        options
            .map_sqlx_postgres_opts(move |opts| {
                opts.options([("statement_timeout", format!("{}ms", limit.as_millis().max(1)))])
            })
            .map_sqlx_sqlite_pool_opts(move |pool| {
                pool.after_connect(move |connection, _| Box::pin(deadline::limit_statements(connection, limit)))
            });
    }
    Database::connect(options).await.map_err(|e| OpenError::Connect(redact(&e.to_string(), url)))
}

/// `text` with the password of `url`, if it has one, replaced.
fn redact(text: &str, url: &str) -> String {
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(credentials, _)| credentials.split_once(':'))
        .map(|(_, password)| password)
        .filter(|password| !password.is_empty());
    match password {
        Some(password) => text.replace(password, "<redacted>"),
        None => text.to_owned(),
    }
}

/// The scheme of a URL, for an error message that must not echo credentials.
fn scheme_of(url: &str) -> String {
    url.split_once(':').map_or("<no scheme>", |(scheme, _)| scheme).to_owned()
}

/// Whether the database answers a trivial query.
pub async fn is_ready(db: &DatabaseConnection) -> bool {
    let ping = db.execute_unprepared("SELECT 1");
    matches!(tokio::time::timeout(Duration::from_secs(2), ping).await, Ok(Ok(_)))
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Statement};

    #[tokio::test]
    async fn every_pooled_sqlite_connection_keeps_a_small_page_cache() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
        let (db, _) = super::connect(&crate::config::Config::for_database(url)).await.expect("connect");
        let pragma = Statement::from_string(db.get_database_backend(), "PRAGMA cache_size");
        let row = db.query_one_raw(pragma).await.expect("pragma").expect("a row");
        assert_eq!(row.try_get_by_index::<i64>(0).expect("size"), -i64::from(super::SQLITE_CACHE_KIB));
    }
}
