//! A time limit on every statement of the pool (issue 13).
//!
//! A statement a client can make long — a search through every todo of a large account — must
//! not hold a connection, a thread or the database for longer than a request may last. On
//! PostgreSQL the server enforces it: each connection starts with `statement_timeout`. SQLite
//! has no such setting, only a progress handler, called every so many virtual-machine steps
//! with no word of which statement runs or when it started. So each pooled connection gets a
//! statement trace too: SQLite calls it when a statement begins to run, and it notes the time
//! in a thread-local — both callbacks run inside `sqlite3_step`, on the thread stepping the
//! statement (sqlx-sqlite's worker of that connection). The progress handler interrupts a
//! statement once that time is `limit` past; the query then fails with `SQLITE_INTERRUPT`,
//! which [`crate::error`] answers as `TIMEOUT`.

use std::cell::Cell;
use std::ffi::{c_int, c_uint, c_void};
use std::time::{Duration, Instant};

use rusqlite::ffi;
use sea_orm::sqlx::sqlite::SqliteConnection;

/// The pool's progress handler runs about every this many virtual-machine steps: one step can
/// compare a search against a whole row, so a few hundred rows at most between two looks at
/// the clock.
const STEPS_PER_CHECK: i32 = 1_000;

thread_local! {
    /// When the statement running on this thread began.
    static STARTED: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Makes every statement `connection` runs from now on fail once it has run for `limit`.
pub async fn limit_statements(connection: &mut SqliteConnection, limit: Duration) -> sea_orm::sqlx::Result<()> {
    let mut handle = connection.lock_handle().await?;
    // SAFETY: the handle is live and locked for us; the callback captures nothing, so it
    // stays valid for as long as the connection exists.
    unsafe {
        ffi::sqlite3_trace_v2(
            handle.as_raw_handle().as_ptr(),
            ffi::SQLITE_TRACE_STMT as c_uint,
            Some(statement_began),
            std::ptr::null_mut(),
        );
    }
    handle.set_progress_handler(STEPS_PER_CHECK, move || STARTED.get().is_none_or(|began| began.elapsed() < limit));
    Ok(())
}

/// SQLite's statement trace: a statement begins to run on this thread — a pool connection's
/// worker, which runs what the request's thread handed over for being long, and the rest of
/// the pool's statements, none of them on a request's critical path as a short inline read is.
/// Its priority is lowered once, so such work yields the CPU to the runtime's threads.
unsafe extern "C" fn statement_began(_: c_uint, _: *mut c_void, _: *mut c_void, _: *mut c_void) -> c_int {
    STARTED.set(Some(Instant::now()));
    crate::threads::lower_this_thread();
    0
}

#[cfg(test)]
mod tests {
    use sea_orm::sqlx::{Connection, Executor};

    use super::*;

    /// Counts to a hundred million: seconds of work in one statement.
    const LONG: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000000) \
                        SELECT count(*) FROM c";

    #[tokio::test]
    async fn a_statement_past_its_limit_is_interrupted_and_the_next_one_gets_a_fresh_clock() {
        let mut connection = SqliteConnection::connect("sqlite::memory:").await.expect("connect");
        limit_statements(&mut connection, Duration::from_millis(100)).await.expect("limit");
        let started = Instant::now();
        let error = connection.execute(LONG).await.expect_err("interrupted");
        let code = error.as_database_error().and_then(|e| e.code()).map(|c| c.into_owned());
        assert_eq!(code.as_deref(), Some("9"), "SQLITE_INTERRUPT: {error}");
        assert!(started.elapsed() < Duration::from_secs(30), "not interrupted in time");
        // Short statements spread over more than the limit, each far within it, all run: the
        // clock starts with each statement, not with the connection.
        let spread = Instant::now();
        for _ in 0..20 {
            let quick = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100) \
                         SELECT count(*) FROM c";
            connection.execute(quick).await.expect("a short statement runs");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(spread.elapsed() > Duration::from_millis(100), "the statements spanned more than the limit");
        // The connection is fit for more, and the long one is interrupted again.
        assert!(connection.execute(LONG).await.is_err());
        connection.execute("SELECT 1").await.expect("fit");
    }
}
