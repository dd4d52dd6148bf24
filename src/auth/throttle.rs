//! Sign-in brute-force limits: attempts counted per email and per client address in a
//! table, so that every instance sharing the database shares the budget.
//!
//! An attempt is charged as a failure when it is admitted, before its password is hashed, and
//! forgiven when it succeeds. Charging only once the hash said "wrong" would let a burst of
//! concurrent guesses all pass the check before the first of them is counted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, Value};
use sha2::{Digest, Sha256};

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
        Self { email_key: email_key(email), client_key: client.map(|c| client_key(c.0)) }
    }
}

/// The email's key is a digest: the table then holds no addresses (nor the passwords people
/// type into the email field), and any input fits the key column.
fn email_key(email: &str) -> String {
    let digest: String = Sha256::digest(email.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    format!("email:{digest}")
}

/// The client's key: an IPv4 address, or the /64 network of an IPv6 one, since a single
/// subscriber is handed a whole /64 and may use any address of it.
pub(crate) fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("client:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("client:{v4}"),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("client:{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
        },
    }
}

/// Admits the attempt, charging it to the client and the email as a failure until
/// [`record_success`] forgives it; `RATE_LIMITED` (before any hashing) when either has used
/// up its failures.
pub async fn check(db: &DatabaseConnection, config: &Config, spent: &Spent, attempt: &Attempt) -> Result<()> {
    // The client first: an address over its budget is refused without charging the email.
    if let Some(client) = &attempt.client_key {
        charge(db, config, spent, client, config.sign_in_max_failures_per_client).await?;
    }
    charge(db, config, spent, &attempt.email_key, config.sign_in_max_failures_per_email).await
}

/// A successful sign-in clears the email's failures and takes back this attempt's charge to
/// the client (the client's earlier failures stay).
pub async fn record_success(db: &DatabaseConnection, attempt: &Attempt) -> Result<()> {
    db.execute_raw(statement(db, "DELETE FROM rate_limits WHERE key = ?", vec![attempt.email_key.as_str().into()]))
        .await?;
    if let Some(client) = &attempt.client_key {
        forgive(db, client).await?;
    }
    Ok(())
}

/// Takes back this attempt's charge to the email and the client: it was refused before any
/// password was checked (hashing saturated, `SERVICE_UNAVAILABLE`), so it was not a failure —
/// a user retrying through someone else's flood must not lock themselves out.
pub async fn refund(db: &DatabaseConnection, attempt: &Attempt) -> Result<()> {
    forgive(db, &attempt.email_key).await?;
    if let Some(client) = &attempt.client_key {
        forgive(db, client).await?;
    }
    Ok(())
}

/// Counts a sign-up from `client` (every one, whatever its outcome: an `EMAIL_TAKEN` answer
/// tells whether an address has an account, so it is rationed too); `RATE_LIMITED` past
/// `SIGN_UP_MAX_PER_CLIENT` within `SIGN_IN_WINDOW`. Charged before any hashing or lookup.
pub async fn check_sign_up(
    db: &DatabaseConnection,
    config: &Config,
    spent: &Spent,
    client: Option<ClientAddr>,
) -> Result<()> {
    match client {
        Some(client) => charge(db, config, spent, &sign_up_key(client), config.sign_up_max_per_client).await,
        None => Ok(()),
    }
}

/// Takes back a sign-up's charge: it was refused before anything was created (hashing
/// saturated, `SERVICE_UNAVAILABLE`).
pub async fn refund_sign_up(db: &DatabaseConnection, client: Option<ClientAddr>) -> Result<()> {
    if let Some(client) = client {
        forgive(db, &sign_up_key(client)).await?;
    }
    Ok(())
}

/// Takes one attempt off `key`'s count.
async fn forgive(db: &DatabaseConnection, key: &str) -> Result<()> {
    let sql = "UPDATE rate_limits SET failures = failures - 1 WHERE key = ? AND failures > 0";
    db.execute_raw(statement(db, sql, vec![key.into()])).await?;
    Ok(())
}

fn sign_up_key(client: ClientAddr) -> String {
    format!("signup:{}", client_key(client.0))
}

/// Budgets this instance has seen the database refuse, and when their windows end: until
/// then an attempt charged to one is refused here, without the upsert (issue 13: a flood of
/// sign-ups from an address past its ration cost a database write each, 1,500 a second,
/// while the answer could not change). Counting those attempts would change nothing: past
/// its limit a budget is refused until its window ends, however many more it is charged.
/// Only a refusal the database gave is remembered, so instances sharing it stay in step.
#[derive(Default)]
pub struct Spent {
    /// Key → the end of its window, microseconds since the epoch.
    until: Mutex<HashMap<String, i64>>,
}

/// The most spent budgets remembered: past it, the passed ones are dropped, and if none has
/// passed a new one is not remembered (and is refused by the database as before).
const MAX_SPENT: usize = 10_000;

impl Spent {
    /// When `key` is known to be spent at `now`, the seconds until its window ends.
    fn retry_after(&self, key: &str, now: i64) -> Option<u64> {
        let until = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        until.get(key).filter(|&&ends| ends > now).map(|&ends| seconds_until(ends, now))
    }

    fn remember(&self, key: &str, ends: i64, now: i64) {
        let mut until = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        if until.len() >= MAX_SPENT {
            until.retain(|_, ends| *ends > now);
        }
        if until.len() < MAX_SPENT {
            until.insert(key.to_owned(), ends);
        }
    }
}

/// Whole seconds from `now` until `ends` (microseconds), at least one.
fn seconds_until(ends: i64, now: i64) -> u64 {
    u64::try_from((ends - now + 999_999) / 1_000_000).unwrap_or(1).max(1)
}

/// Counts one more attempt against `key` in one atomic upsert (a window that has passed
/// starts over), and refuses it when that makes more than `limit` — at once, without the
/// upsert, while `spent` knows the budget is used up.
async fn charge(db: &DatabaseConnection, config: &Config, spent: &Spent, key: &str, limit: u32) -> Result<()> {
    let now = clock::now_micros();
    if let Some(retry_after) = spent.retry_after(key, now) {
        return Err(Error::RateLimited { retry_after });
    }
    let window = window_micros(config);
    let expired_before = now - window;
    let sql = "INSERT INTO rate_limits (key, window_start, failures) VALUES (?, ?, 1) \
               ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN rate_limits.window_start <= ? THEN 1 ELSE rate_limits.failures + 1 END, \
               window_start = CASE WHEN rate_limits.window_start <= ? THEN ? ELSE rate_limits.window_start END \
               RETURNING window_start, failures";
    let values = vec![key.into(), now.into(), expired_before.into(), expired_before.into(), now.into()];
    let row = db
        .query_one_raw(statement(db, sql, values))
        .await?
        .ok_or_else(|| Error::Internal("the rate-limit upsert returned no row".to_owned()))?;
    let start: i64 = row.try_get("", "window_start")?;
    let failures: i32 = row.try_get("", "failures")?;
    if i64::from(failures) > i64::from(limit) {
        let ends = start.saturating_add(window);
        spent.remember(key, ends, now);
        return Err(Error::RateLimited { retry_after: seconds_until(ends, now) });
    }
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
///
/// Every `X-Forwarded-For` line counts, joined in order: a proxy that adds its own line
/// below the client's is still the last hop.
pub fn client_of(headers: &axum::http::HeaderMap, peer: IpAddr, trust_proxy: usize) -> Option<ClientAddr> {
    let lines: Vec<&str> = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
    let forwarded = (!lines.is_empty()).then(|| lines.join(","));
    client_addr(Some(peer), forwarded.as_deref(), trust_proxy)
}

/// The client address from the socket peer and an `X-Forwarded-For` value.
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

/// Deletes counters whose window has passed, so the table holds only live budgets.
pub async fn sweep(db: &DatabaseConnection, config: &Config) -> Result<u64> {
    let before = clock::now_micros() - window_micros(config);
    let swept =
        db.execute_raw(statement(db, "DELETE FROM rate_limits WHERE window_start < ?", vec![before.into()])).await?;
    Ok(swept.rows_affected())
}
