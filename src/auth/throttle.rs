//! Sign-in brute-force limits: failed attempts counted per email and per client address in
//! a table, so that every instance sharing the database shares the budget.

use std::net::IpAddr;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, Value};

use crate::clock;
use crate::config::Config;
use crate::error::{Error, Result};

/// The address a request came from, as far as the proxy configuration lets us trust it.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub IpAddr);

/// The counters a sign-in attempt is charged to.
pub struct Attempt {
    email_key: String,
    client_key: Option<String>,
}

impl Attempt {
    /// An attempt to sign in as `email` from `client`.
    pub fn new(email: &str, client: Option<ClientAddr>) -> Self {
        Self { email_key: format!("email:{email}"), client_key: client.map(|c| format!("client:{}", c.0)) }
    }

    fn keys(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.email_key.as_str()).chain(self.client_key.as_deref())
    }
}

/// `RATE_LIMITED` (before any hashing) when the email or the client used up its failures.
pub async fn check(db: &DatabaseConnection, config: &Config, attempt: &Attempt) -> Result<()> {
    let now = clock::now_micros();
    let window = window_micros(config);
    for key in attempt.keys() {
        let limit = if key.starts_with("email:") {
            config.sign_in_max_failures_per_email
        } else {
            config.sign_in_max_failures_per_client
        };
        let row = db
            .query_one_raw(statement(db, "SELECT window_start, failures FROM rate_limits WHERE key = ?", vec![key.into()]))
            .await?;
        if let Some(row) = row {
            let start: i64 = row.try_get("", "window_start")?;
            let failures: i32 = row.try_get("", "failures")?;
            let ends = start.saturating_add(window);
            if ends > now && failures >= i32::try_from(limit).unwrap_or(i32::MAX) {
                let retry_after = u64::try_from((ends - now + 999_999) / 1_000_000).unwrap_or(1).max(1);
                return Err(Error::RateLimited { retry_after });
            }
        }
    }
    Ok(())
}

/// Counts a failed attempt against the email and the client.
pub async fn record_failure(db: &DatabaseConnection, config: &Config, attempt: &Attempt) -> Result<()> {
    let now = clock::now_micros();
    let expired_before = now - window_micros(config);
    for key in attempt.keys() {
        // One atomic upsert: a window that has passed starts over at one failure.
        let sql = "INSERT INTO rate_limits (key, window_start, failures) VALUES (?, ?, 1) \
                   ON CONFLICT (key) DO UPDATE SET \
                   failures = CASE WHEN rate_limits.window_start <= ? THEN 1 ELSE rate_limits.failures + 1 END, \
                   window_start = CASE WHEN rate_limits.window_start <= ? THEN ? ELSE rate_limits.window_start END";
        let values = vec![key.into(), now.into(), expired_before.into(), expired_before.into(), now.into()];
        db.execute_raw(statement(db, sql, values)).await?;
    }
    Ok(())
}

/// A successful sign-in clears the email's failures (not the client's).
pub async fn record_success(db: &DatabaseConnection, attempt: &Attempt) -> Result<()> {
    db.execute_raw(statement(db, "DELETE FROM rate_limits WHERE key = ?", vec![attempt.email_key.as_str().into()]))
        .await?;
    Ok(())
}

fn window_micros(config: &Config) -> i64 {
    i64::try_from(config.sign_in_window).unwrap_or(i64::MAX / 1_000_000).saturating_mul(1_000_000)
}

/// A statement with `?` placeholders, numbered for PostgreSQL.
fn statement(db: &DatabaseConnection, sql: &str, values: Vec<Value>) -> Statement {
    let backend = db.get_database_backend();
    let sql = if backend == DatabaseBackend::Postgres {
        let mut numbered = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                numbered.push_str(&format!("${n}"));
            } else {
                numbered.push(c);
            }
        }
        numbered
    } else {
        sql.to_owned()
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// The client address of a request: the socket peer, or with `trust_proxy = n` the n-th
/// address from the right of `X-Forwarded-For` (each trusted proxy appends the one it saw).
pub fn client_addr(peer: Option<IpAddr>, forwarded_for: Option<&str>, trust_proxy: usize) -> Option<ClientAddr> {
    if trust_proxy > 0
        && let Some(header) = forwarded_for
    {
        let hops: Vec<&str> = header.split(',').map(str::trim).filter(|h| !h.is_empty()).collect();
        if let Some(hop) = hops.len().checked_sub(trust_proxy).and_then(|i| hops.get(i))
            && let Ok(ip) = hop.parse()
        {
            return Some(ClientAddr(ip));
        }
    }
    peer.map(ClientAddr)
}
