//! PostgreSQL in production: several stateless instances on one database, and outages.
//!
//! These tests need `TODOQL_TEST_DATABASE=postgres://…` (as `scripts/test` sets); on SQLite
//! they return at once, saying so.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{TestApp, TestUser, error_code, fresh_database, unique, without_cost};

const REFRESH: &str = "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }";

fn on_postgres() -> bool {
    let postgres = std::env::var("TODOQL_TEST_DATABASE").is_ok_and(|url| url.starts_with("postgres"));
    if !postgres {
        eprintln!("skipped: needs TODOQL_TEST_DATABASE=postgres://… (scripts/test sets it)");
    }
    postgres
}

/// Two servers on one fresh database.
async fn two_instances() -> (TestApp, TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(dir.path()).await;
    let a = TestApp::spawn_with(|c| c.database.database_url = url.clone()).await;
    let b = TestApp::spawn_with(|c| c.database.database_url = url.clone()).await;
    (a, b)
}

#[tokio::test]
async fn two_instances_share_tokens_data_and_refresh_rotation() {
    if !on_postgres() {
        return;
    }
    let (a, b) = two_instances().await;
    let user = a.sign_up().await;
    // A token issued by A is honoured by B, and writes through A are read through B.
    let id = a.create_todo(&user, "written through A").await;
    let read = b.as_user(&user, "query($id: ID!) { todo(id: $id) { title } }", json!({ "id": id })).await;
    assert_eq!(read["data"]["todo"]["title"], "written through A", "{read}");

    // Rotation on A, replay of the rotated token on B: the family is revoked everywhere.
    let rotated = a.anonymous(REFRESH, json!({ "t": user.refresh })).await;
    let successor = rotated["data"]["refreshSession"]["refreshToken"].as_str().expect("rotated").to_owned();
    let replay = b.anonymous(REFRESH, json!({ "t": user.refresh })).await;
    assert_eq!(error_code(&replay), "INVALID_REFRESH_TOKEN");
    let after = a.anonymous(REFRESH, json!({ "t": successor })).await;
    assert_eq!(error_code(&after), "INVALID_REFRESH_TOKEN");

    // Sign-in failures count against one budget, whichever instance sees them.
    let wrong = "mutation($e: String!) { signIn(input: { email: $e, password: \"wrong password\" }) { accessToken } }";
    for attempt in 0..5 {
        let app = if attempt % 2 == 0 { &a } else { &b };
        assert_eq!(error_code(&app.anonymous(wrong, json!({ "e": user.email })).await), "INVALID_CREDENTIALS");
    }
    assert_eq!(error_code(&b.anonymous(wrong, json!({ "e": user.email })).await), "RATE_LIMITED");
}

/// Creates of several owners through two instances at once: each instance commits the creates
/// that queue together (src/todos/commit.rs), every one of them lands, and the two instances'
/// group commits, which lock the owners' rows, never deadlock (each takes them in owner order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_through_two_instances_lose_nothing() {
    if !on_postgres() {
        return;
    }
    let (a, b) = two_instances().await;
    let url = a.config.database.database_url.clone();
    let mut users = Vec::new();
    for _ in 0..4 {
        users.push(a.sign_up().await);
    }
    let deadlocks = deadlocks(&url).await;
    let commits = group_commits(&a).await + group_commits(&b).await;
    let writes = (0..80).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        let user = &users[(i / 2) % 4];
        async move { (user.id.clone(), app.create_todo(user, &format!("todo {i}")).await) }
    });
    let created = futures::future::join_all(writes).await;
    for user in &users {
        let listed = b.as_user(user, "{ todos(first: 100) { totalCount nodes { id } } }", json!({})).await;
        assert_eq!(listed["data"]["todos"]["totalCount"], 20, "{listed}");
        let seen: Vec<&str> =
            listed["data"]["todos"]["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
        assert!(created.iter().filter(|(owner, _)| *owner == user.id).all(|(_, id)| seen.contains(&id.as_str())));
    }
    let batches = group_commits(&a).await + group_commits(&b).await - commits;
    assert!((1..80).contains(&batches), "80 creates at once in {batches} group commits");
    assert_eq!(self::deadlocks(&url).await, deadlocks, "group commits of two instances deadlocked");
}

/// Deadlocks PostgreSQL has detected in `url`'s database.
async fn deadlocks(url: &str) -> i64 {
    scalar(url, "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()").await
}

/// The one value `sql` selects, on a connection of its own to `url`.
async fn scalar(url: &str, sql: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let db = sea_orm::Database::connect(url).await.unwrap();
    let row = db.query_one_raw(Statement::from_string(sea_orm::DatabaseBackend::Postgres, sql)).await.unwrap();
    db.close().await.ok();
    row.expect("a row").try_get_by_index(0).expect("a number")
}

/// Transactions the instance's write connection has committed (`/metrics`).
pub(crate) async fn group_commits(app: &TestApp) -> u64 {
    app.metric("todoql_postgres_group_commits_total").await
}

/// Issue 17: creates that arrive while a group commit is under way wait for it, then commit
/// together, in one transaction: the owner's limit still holds within it, and every write is
/// answered after the commit. The first create is held up by an owner's row locked from
/// outside, so the others are seen queued (`todoql_writes_queued`) before it lets go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_that_arrive_while_one_commits_are_committed_together() {
    if !on_postgres() {
        return;
    }
    let app = TestApp::spawn_with(|c| {
        c.max_todos_per_user = 8;
        c.user_max_in_flight = 64;
        c.cost_budget = 0;
    })
    .await;
    let url = app.config.database.database_url.clone();
    let (held, full, other) = (app.sign_up().await, app.sign_up().await, app.sign_up().await);
    app.create_todo(&other, "the first, alone").await;
    let before = group_commits(&app).await;

    let lock = hold_row(&url, &held.id).await;
    let create = async |user: &TestUser, title: String| {
        let query = "mutation($t: String!) { createTodo(input: { title: $t }) { id } }";
        app.as_user(user, query, json!({ "t": title })).await
    };
    let others = async {
        wait_for("the write connection to wait for the held row", async || writer_waiting_for_a_lock(&url).await).await;
        let full = (0..10).map(|i| create(&full, format!("full {i}")));
        let other = (0..4).map(|i| create(&other, format!("other {i}")));
        futures::future::join_all(full.chain(other)).await
    };
    let release = async {
        wait_for("the write connection to wait for the held row", async || writer_waiting_for_a_lock(&url).await).await;
        wait_for("14 creates queued", async || app.metric("todoql_writes_queued").await == 14).await;
        lock.commit().await.unwrap();
    };
    let (first, others, ()) = tokio::join!(create(&held, "held up".into()), others, release);

    assert!(first["errors"].is_null(), "{first}");
    let refused: Vec<&serde_json::Value> = others.iter().filter(|body| !body["errors"].is_null()).collect();
    assert_eq!(refused.len(), 2, "the limit of 8 holds within one transaction: {others:?}");
    assert!(refused.iter().all(|body| error_code(body) == "TODO_LIMIT_REACHED"), "{refused:?}");
    assert_eq!(group_commits(&app).await - before, 2, "the held create, then the 14 that queued behind it");
    assert_eq!(app.metric("todoql_writes_queued").await, 0);
    for (user, count) in [(&held, 1), (&full, 8), (&other, 5)] {
        let listed = app.as_user(user, "{ todos { totalCount } }", json!({})).await;
        assert_eq!(listed["data"]["todos"]["totalCount"], count, "{listed}");
    }
}

/// Issue 17: a group commit whose connection dies before the `COMMIT` is answered is not
/// left unknown. A new connection asks `txid_status`: here, the backend was terminated while
/// the batch waited for a held row, so the transaction rolled back, and its creates run again,
/// alone, and succeed once the row is free — none answered `SERVICE_UNAVAILABLE`, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_commit_whose_backend_is_killed_runs_its_creates_again() {
    if !on_postgres() {
        return;
    }
    let app = TestApp::spawn_with(|c| c.cost_budget = 0).await;
    let url = app.config.database.database_url.clone();
    let user = app.sign_up().await;
    app.create_todo(&user, "before").await;
    let lock = hold_row(&url, &user.id).await;
    let query = "mutation($t: String!) { createTodo(input: { title: $t }) { id } }";
    let kill = async {
        wait_for("the write connection to wait for the held row", async || writer_waiting_for_a_lock(&url).await).await;
        assert_eq!(backends_named(&url, "todoql-writer", true).await.len(), 1);
        // The batch's transaction is gone; the create now runs alone on the pool, and waits.
        wait_for("the terminated write connection to be replaced", async || {
            backends_named(&url, "todoql-writer", false).await.len() == 1
        })
        .await;
        lock.commit().await.unwrap();
    };
    let (body, ()) = tokio::join!(app.as_user(&user, query, json!({ "t": "killed mid-commit" })), kill);
    assert!(body["errors"].is_null(), "{body}");
    let listed = app.as_user(&user, "{ todos { totalCount nodes { title } } }", json!({})).await;
    assert_eq!(listed["data"]["todos"]["totalCount"], 2, "{listed}");
    // The next creates commit on the new write connection.
    let before = group_commits(&app).await;
    app.create_todo(&user, "after").await;
    assert_eq!(group_commits(&app).await - before, 1);
}

/// Issue 17: a group commit that committed but whose `COMMIT` answer was lost with its
/// connection (a proxy between todoql and PostgreSQL drops it, then closes) is answered as
/// committed: `txid_status` on a new connection says so, and each create's todo is read back.
/// Without that, the client would be told `SERVICE_UNAVAILABLE` and retry a create that exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_commit_whose_commit_answer_is_lost_is_answered_as_committed() {
    if !on_postgres() {
        return;
    }
    let proxy = LossyProxy::start(b"answer lost").await;
    let app = TestApp::spawn_with(|c| {
        c.cost_budget = 0;
        c.database.database_url = proxy.route(&c.database.database_url);
    })
    .await;
    let user = app.sign_up().await;
    app.create_todo(&user, "before").await;
    let before = group_commits(&app).await;
    let query = "mutation($t: String!) { createTodo(input: { title: $t }) { id title } }";
    let body = app.as_user(&user, query, json!({ "t": "answer lost" })).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(body["data"]["createTodo"]["title"], "answer lost", "{body}");
    assert!(proxy.dropped(), "the proxy never dropped a COMMIT's answer");
    assert_eq!(group_commits(&app).await - before, 1);
    let listed = app.as_user(&user, "{ todos { totalCount nodes { id } } }", json!({})).await;
    assert_eq!(listed["data"]["todos"]["totalCount"], 2, "created once: {listed}");
    let ids: Vec<&str> =
        listed["data"]["todos"]["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&body["data"]["createTodo"]["id"].as_str().unwrap()), "{listed}");
    app.create_todo(&user, "after").await;
}

/// A TCP proxy in front of PostgreSQL. Every connection is passed through, except the write
/// connection (`todoql-writer` in its startup message): once `trigger` has appeared in what
/// it sent, the answer to its next `COMMIT` is dropped and both sides are closed.
struct LossyProxy {
    addr: std::net::SocketAddr,
    /// PostgreSQL's `host:port`, set by [`LossyProxy::route`].
    target: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    dropped: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl LossyProxy {
    async fn start(trigger: &'static [u8]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy =
            Self { addr: listener.local_addr().unwrap(), target: Default::default(), dropped: Default::default() };
        let (target, dropped) = (proxy.target.clone(), proxy.dropped.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Some(target) = target.lock().unwrap().clone() else { continue };
                tokio::spawn(pass(client, target, trigger, dropped.clone()));
            }
        });
        proxy
    }

    /// `url` with its host and port replaced by the proxy's (which then forwards to them).
    fn route(&self, url: &str) -> String {
        let (scheme_user, rest) = url.split_once('@').unwrap();
        let (host_port, path) = rest.split_once('/').unwrap();
        *self.target.lock().unwrap() = Some(host_port.to_owned());
        format!("{scheme_user}@{}/{path}", self.addr)
    }

    fn dropped(&self) -> bool {
        self.dropped.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// One proxied connection (see [`LossyProxy`]).
async fn pass(
    mut client: tokio::net::TcpStream,
    target: String,
    trigger: &'static [u8],
    dropped: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else { return };
    let mut first = vec![0; 8192];
    let Ok(n) = client.read(&mut first).await else { return };
    first.truncate(n);
    if server.write_all(&first).await.is_err() {
        return;
    }
    if !first.windows(b"todoql-writer".len()).any(|w| w == b"todoql-writer") {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        return;
    }
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watch = armed.clone();
    let upward = tokio::spawn(async move {
        let mut chunk = vec![0; 65536];
        loop {
            let n = match client_read.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if chunk[..n].windows(trigger.len()).any(|w| w == trigger) {
                watch.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            if server_write.write_all(&chunk[..n]).await.is_err() {
                return;
            }
        }
    });
    // Downward, message by message (a type byte, then a length that counts itself).
    let mut pending = Vec::new();
    let mut chunk = vec![0; 65536];
    loop {
        let n = match server_read.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&chunk[..n]);
        let mut sent = 0;
        while pending.len() - sent >= 5 {
            let length = u32::from_be_bytes(pending[sent + 1..sent + 5].try_into().unwrap()) as usize;
            let end = sent + 1 + length;
            if pending.len() < end {
                break;
            }
            let message = &pending[sent..end];
            if armed.load(std::sync::atomic::Ordering::SeqCst)
                && message[0] == b'C'
                && message[5..].starts_with(b"COMMIT")
            {
                dropped.store(true, std::sync::atomic::Ordering::SeqCst);
                upward.abort();
                return;
            }
            if client_write.write_all(message).await.is_err() {
                upward.abort();
                return;
            }
            sent = end;
        }
        pending.drain(..sent);
    }
    upward.abort();
}

/// A transaction on `url`'s database holding user `id`'s row (`FOR UPDATE`) until it ends: a
/// create for that user waits for it.
pub(crate) async fn hold_row(url: &str, id: &str) -> sea_orm::DatabaseTransaction {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let outside = sea_orm::Database::connect(url).await.unwrap();
    let held = outside.begin().await.unwrap();
    held.execute_unprepared(&format!("SELECT 1 FROM users WHERE id = '{id}' FOR UPDATE")).await.unwrap();
    held
}

/// Whether the instance's write connection (`todoql-writer`) on `url`'s database is waiting
/// for a lock.
pub(crate) async fn writer_waiting_for_a_lock(url: &str) -> bool {
    let sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
               AND application_name = 'todoql-writer' AND wait_event_type = 'Lock'";
    scalar(url, sql).await == 1
}

/// Runs `scripts/pg-cluster` for a private cluster on `port`.
fn cluster(action: &str, port: u16, dir: &std::path::Path) -> String {
    let output = std::process::Command::new("scripts/pg-cluster")
        .arg(action)
        .env("PGPORT", port.to_string())
        .env("PGCLUSTER_DIR", dir)
        .output()
        .expect("scripts/pg-cluster runs");
    assert!(output.status.success(), "pg-cluster {action}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

pub(crate) async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..120 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn a_database_outage_fails_fast_and_recovers_without_a_restart() {
    if !on_postgres() {
        return;
    }
    // A private cluster: stopping the shared one would break every other test.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(unique("todoql-outage"));
    let admin = cluster("start", port, &dir);
    let db_name = unique("outage").replace('-', "_");
    {
        use sea_orm::ConnectionTrait;
        let conn = sea_orm::Database::connect(&admin).await.unwrap();
        conn.execute_unprepared(&format!("CREATE DATABASE {db_name}")).await.unwrap();
        conn.close().await.ok();
    }
    let url = format!("{}/{db_name}", admin.rsplit_once('/').unwrap().0);
    // A pool that waits long for a connection: a request that waited on it could not answer
    // within a third of that.
    let app = TestApp::spawn_with(|c| {
        c.database.database_url = url.clone();
        c.database_acquire_timeout = 30;
    })
    .await;
    let user = app.sign_up().await;
    let acknowledged = app.create_todo(&user, "acknowledged before the outage").await;

    cluster("stop", port, &dir);
    let readyz = || async { app.client.get(app.url("/readyz")).send().await.map(|r| r.status().as_u16()).unwrap_or(0) };
    wait_for("/readyz to turn 503", async || readyz().await == 503).await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "the process is alive");
    // Once the outage is known, GraphQL and REST refuse at once with SERVICE_UNAVAILABLE: not
    // after the pool's 30 s, which is what each request waited before.
    let read = "{ todos { totalCount } }";
    wait_for("the outage to be known", async || {
        let attempt = tokio::time::timeout(Duration::from_secs(10), app.post(Some(&user.token), read, json!({})));
        matches!(attempt.await, Ok((503, _)))
    })
    .await;
    for _ in 0..5 {
        let attempt = tokio::time::timeout(Duration::from_secs(10), app.post(Some(&user.token), read, json!({})));
        let (status, body) = attempt.await.expect("refused at once, not after the pool's timeout");
        assert_eq!(status, 503, "{body}");
        assert_eq!(error_code(&body), "SERVICE_UNAVAILABLE");
        assert_eq!(body["errors"][0]["extensions"]["retryAfter"], 1, "{body}");
        let rest = app.client.get(app.url(&format!("/api/{}/tasks", user.id))).bearer_auth(&user.token).send();
        let rest = tokio::time::timeout(Duration::from_secs(10), rest).await.expect("REST refused at once").unwrap();
        assert_eq!(rest.status(), 503);
    }
    let anonymous = app
        .anonymous(
            "mutation { signIn(input: { email: \"a@b.c\", password: \"whatever1\" }) { accessToken } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&anonymous), "SERVICE_UNAVAILABLE", "{anonymous}");
    assert!(anonymous["errors"][0]["extensions"]["retryAfter"].is_number());

    cluster("start", port, &dir);
    wait_for("/readyz to turn 200", async || readyz().await == 200).await;
    let listed = app.as_user(&user, "{ todos { nodes { id } } }", json!({})).await;
    assert_eq!(listed["data"]["todos"]["nodes"][0]["id"], acknowledged.as_str(), "{listed}");
    let _ = app.sign_up().await;
    cluster("destroy", port, &dir);
}

/// The process ids of the backends serving `url`'s database, apart from the asking one.
pub(crate) async fn backends(url: &str) -> std::collections::BTreeSet<i32> {
    use sea_orm::{ConnectionTrait, Statement};
    let db = sea_orm::Database::connect(url).await.unwrap();
    let name = url.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
    let sql = "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()";
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(sea_orm::DatabaseBackend::Postgres, sql, [name.into()]))
        .await
        .unwrap();
    db.close().await.ok();
    rows.iter().map(|row| row.try_get::<i32>("", "pid").unwrap()).collect()
}

/// The fixture of the tests of operations abandoned mid-statement: a server whose pool has
/// been opened and used, eight users (a user's searches run one at a time) each with todos to
/// scan, and the pool's backends before anything was abandoned.
pub(crate) struct Abandoning {
    pub(crate) app: TestApp,
    pub(crate) users: Vec<TestUser>,
    before: std::collections::BTreeSet<i32>,
}

/// A search that scans every description: long enough to be cut off in the middle.
pub(crate) const SCAN: &str = "query($s: String) { todos(filter: { search: $s }) { totalCount } }";

/// [`SCAN`]'s variables.
pub(crate) fn scan_variables() -> serde_json::Value {
    json!({ "s": format!("1{}", "0".repeat(199)) })
}

impl Abandoning {
    pub(crate) async fn start() -> Self {
        let app = TestApp::spawn_with(|c| {
            c.user_max_in_flight = 64;
            c.cost_budget = 0;
        })
        .await;
        let mut users = Vec::new();
        for _ in 0..8 {
            let user = app.sign_up().await;
            app.seed_long_todos(&user.id, 800).await;
            users.push(user);
        }
        // Every connection of the pool open and in use once.
        let warm =
            futures::future::join_all((0..48).map(|n| app.post(Some(&users[n % 8].token), SCAN, scan_variables())))
                .await;
        assert!(warm.iter().all(|(status, _)| *status == 200));
        let before = backends(&app.config.database.database_url).await;
        Self { app, users, before }
    }

    /// Once the abandoned statements have finished on their own: no connection was closed
    /// under them, and the next request is served.
    pub(crate) async fn assert_no_connection_was_closed(&self) {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let after = backends(&self.app.config.database.database_url).await;
        let closed: Vec<_> = self.before.difference(&after).collect();
        let before = &self.before;
        assert!(closed.is_empty(), "connections closed by hang-ups: {closed:?} (before {before:?}, after {after:?})");
        let (status, body) = self.app.post(Some(&self.users[0].token), SCAN, scan_variables()).await;
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_abandoned_mid_statement_leave_the_pools_connections_open() {
    if !on_postgres() {
        return;
    }
    let fixture = Abandoning::start().await;
    let (app, users) = (&fixture.app, &fixture.users);
    let search = json!({ "query": SCAN, "variables": scan_variables() });
    // Clients that hang up while their statements run, again and again.
    for round in 0..6u64 {
        let cut = futures::future::join_all((0..32u64).map(|n| {
            let wait = Duration::from_millis(2 + (n + round) % 20);
            app.client
                .post(app.url("/graphql"))
                .bearer_auth(&users[n as usize % 8].token)
                .json(&search)
                .timeout(wait)
                .send()
        }));
        let answered = cut.await.iter().filter(|r| r.is_ok()).count();
        assert!(answered < 32, "round {round}: no request was cut off; make the search slower");
    }
    fixture.assert_no_connection_was_closed().await;
}

/// On PostgreSQL the user check is a round trip of its own; an account seen to exist is taken
/// to exist for a second (`users::Known`), so a read within it is one statement. An account
/// deleted out of band is refused once that second has passed.
#[tokio::test]
async fn the_user_check_is_made_once_a_second_per_account_and_a_deleted_account_is_refused_after() {
    if !on_postgres() {
        return;
    }
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let read = "{ todos(first: 1) { nodes { id } } }";
    // Two reads in a row: the second is the page alone (a slow machine may let the second
    // pass between them, so a few tries).
    let mut statements = Vec::new();
    for _ in 0..5 {
        app.as_user(&user, read, json!({})).await;
        let before = app.statements().await;
        let body = app.as_user(&user, read, json!({})).await;
        assert!(body["errors"].is_null(), "{body}");
        statements.push(app.statements().await - before);
    }
    assert!(statements.contains(&1), "statements per read right after another: {statements:?}");
    // Deleted behind todoql's back: refused as soon as the remembered second is over.
    let db = sea_orm::Database::connect(&app.config.database.database_url).await.expect("connect");
    use sea_orm::ConnectionTrait;
    db.execute_unprepared(&format!("DELETE FROM users WHERE id = '{}'", user.id)).await.expect("delete");
    db.close().await.ok();
    wait_for("the deleted account to be refused", async || {
        let body = app.as_user(&user, read, json!({})).await;
        body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    })
    .await;
}

/// createTodo on PostgreSQL is one statement: the guarded insert announces its own change
/// (`Events::announcing`), where it took `BEGIN`, the insert, `pg_notify` and `COMMIT`. The
/// change still reaches subscribers (tests/api/subscriptions), and an insert refused at the
/// limit announces nothing.
#[tokio::test]
async fn a_todo_is_created_and_announced_in_one_statement() {
    if !on_postgres() {
        return;
    }
    let app = TestApp::spawn_with(|c| c.max_todos_per_user = 7).await;
    let user = app.sign_up().await;
    // Two in a row, three times (a slow machine may let the user check's second pass between
    // them): six todos.
    let mut statements = Vec::new();
    for i in 0..3 {
        app.create_todo(&user, &format!("warm {i}")).await;
        let before = app.statements().await;
        app.create_todo(&user, &format!("measured {i}")).await;
        statements.push(app.statements().await - before);
    }
    app.create_todo(&user, "the seventh, the last allowed").await;
    assert!(statements.contains(&1), "statements per createTodo right after another: {statements:?}");
    let body =
        app.as_user(&user, "mutation { createTodo(input: { title: \"one too many\" }) { id } }", json!({})).await;
    assert_eq!(error_code(&body), "TODO_LIMIT_REACHED", "{body}");
    let count = app.as_user(&user, "{ todos { totalCount } }", json!({})).await;
    assert_eq!(count["data"]["todos"]["totalCount"], 7, "{count}");
}

/// Reads on the shared direct connections (src/db/direct.rs), from `/metrics`: (served,
/// handed over to the pool); `None` when the server has none.
pub(crate) async fn direct(app: &TestApp) -> Option<(u64, u64)> {
    let text = app.client.get(app.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    let count = |outcome: &str| {
        let prefix = format!("todoql_postgres_direct_statements_total{{outcome=\"{outcome}\"}} ");
        text.lines().find_map(|line| line.strip_prefix(prefix.as_str())).map(|n| n.trim().parse().expect("a count"))
    };
    Some((count("served")?, count("handed_over")?))
}

/// The process ids of `url`'s direct connections (named `todoql-direct`), closing them too
/// when `terminate`.
async fn direct_backends(url: &str, terminate: bool) -> Vec<i32> {
    backends_named(url, "todoql-direct", terminate).await
}

/// The process ids of `url`'s connections named `name` in `pg_stat_activity`, closing them
/// too when `terminate`.
async fn backends_named(url: &str, name: &str, terminate: bool) -> Vec<i32> {
    use sea_orm::{ConnectionTrait, Statement};
    let db = sea_orm::Database::connect(url).await.unwrap();
    let database = url.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
    let sql = format!(
        "SELECT pid, {} AS done FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
        if terminate { "pg_terminate_backend(pid)" } else { "true" }
    );
    let values = [database.into(), name.to_owned().into()];
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(sea_orm::DatabaseBackend::Postgres, &sql, values))
        .await
        .unwrap();
    db.close().await.ok();
    rows.iter().map(|row| row.try_get::<i32>("", "pid").unwrap()).collect()
}

/// Issue 17: the short reads (and a personal access token's lookup) go to the shared
/// connections, a search to the pool; a direct
/// connection closed under the reads (a PostgreSQL restart, a proxy's cut) costs no read: the
/// reads it would have served run on the pool while it is reopened in the background. Reads
/// abandoned mid-flight close none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_reads_are_pipelined_on_direct_connections_that_outlive_closes_and_hang_ups() {
    if !on_postgres() {
        return;
    }
    let app = TestApp::spawn_with(|c| {
        c.database_direct_connections = Some(2);
        c.user_max_in_flight = 64;
        c.cost_budget = 0;
    })
    .await;
    let url = app.config.database.database_url.clone();
    let user = app.sign_up().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(app.create_todo(&user, &format!("t{n}")).await);
    }
    let read = "{ todos(first: 10) { totalCount nodes { id } } }";
    let answer = async || without_cost(app.as_user(&user, read, json!({})).await);
    let expected = answer().await;
    assert_eq!(expected["data"]["todos"]["totalCount"], 5, "{expected}");
    assert!(ids.iter().all(|id| expected.to_string().contains(id.as_str())));

    let (served, _) = direct(&app).await.expect("direct connections on PostgreSQL");
    app.as_user(&user, read, json!({})).await;
    let (after, handed_over) = direct(&app).await.unwrap();
    assert_eq!(after, served + 2, "the page and its totalCount, served directly (handed over: {handed_over})");
    let search = "{ todos(filter: { search: \"t1\" }) { totalCount } }";
    let found = app.as_user(&user, search, json!({})).await;
    assert_eq!(found["data"]["todos"]["totalCount"], 1, "{found}");
    assert_eq!(direct(&app).await.unwrap().0, after, "a search runs on the pool");
    // A personal access token is looked up there too, on every request (one indexed read).
    let (_, secret) = crate::scopes::support::pat(&app, &user, &["todos:read"]).await;
    let by_token = crate::scopes::support::with_token(&user, &secret);
    let before = direct(&app).await.unwrap().0;
    assert_eq!(without_cost(app.as_user(&by_token, read, json!({})).await), expected);
    assert_eq!(direct(&app).await.unwrap().0, before + 3, "the token, the page and its totalCount");
    let opened = direct_backends(&url, false).await;
    assert_eq!(opened.len(), 2, "{opened:?}");

    // Both closed: every read is answered, from the pool, until they are open again.
    assert_eq!(direct_backends(&url, true).await.len(), 2);
    for _ in 0..20 {
        assert_eq!(answer().await, expected);
    }
    wait_for("the direct connections to be reopened", async || {
        let before = direct(&app).await.unwrap().0;
        assert_eq!(answer().await, expected);
        direct(&app).await.unwrap().0 >= before + 2 && direct_backends(&url, false).await.len() == 2
    })
    .await;

    // Hang-ups mid-read: the connections stay.
    let reopened = direct_backends(&url, false).await;
    let body = json!({ "query": read });
    for round in 0..5u64 {
        futures::future::join_all((0..40u64).map(|n| {
            let wait = Duration::from_micros(300 + 200 * ((n + round) % 10));
            app.client.post(app.url("/graphql")).bearer_auth(&user.token).json(&body).timeout(wait).send()
        }))
        .await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(direct_backends(&url, false).await, reopened, "no direct connection closed by hang-ups");
    assert_eq!(answer().await, expected);
}

/// The write connection closed under the writes (a PostgreSQL restart, a proxy's cut): a
/// create finds it closed and runs on the pool while it is reopened; at worst a group commit
/// caught with its transaction on the way is answered `SERVICE_UNAVAILABLE` (when PostgreSQL
/// cannot yet say what became of it), never a false success; then creates are committed on a
/// new write connection. Every acknowledged todo is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_write_connection_is_reopened_and_no_acknowledged_create_is_lost() {
    if !on_postgres() {
        return;
    }
    let app = TestApp::spawn_with(|c| c.cost_budget = 0).await;
    let url = app.config.database.database_url.clone();
    let user = app.sign_up().await;
    let mut acknowledged = vec![app.create_todo(&user, "before").await];
    let writer = backends_named(&url, "todoql-writer", false).await;
    assert_eq!(writer.len(), 1, "one write connection: {writer:?}");
    assert_eq!(backends_named(&url, "todoql-writer", true).await, writer);

    let query = "mutation($t: String!) { createTodo(input: { title: $t }) { id } }";
    let mut unavailable = 0;
    let mut create = async |title: String| {
        let body = app.as_user(&user, query, json!({ "t": title })).await;
        match body["data"]["createTodo"]["id"].as_str() {
            Some(id) => acknowledged.push(id.to_owned()),
            None => {
                assert_eq!(error_code(&body), "SERVICE_UNAVAILABLE", "{body}");
                unavailable += 1;
            }
        }
    };
    for i in 0..20 {
        create(format!("after {i}")).await;
    }
    wait_for("creates to commit on a new write connection", async || {
        let before = group_commits(&app).await;
        create("reopened".into()).await;
        let reopened = backends_named(&url, "todoql-writer", false).await;
        group_commits(&app).await > before && reopened.len() == 1 && reopened != writer
    })
    .await;
    assert!(unavailable <= 1, "{unavailable} creates answered SERVICE_UNAVAILABLE");
    let listed = app.as_user(&user, "{ todos(first: 100) { totalCount nodes { id } } }", json!({})).await;
    let seen: Vec<&str> =
        listed["data"]["todos"]["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert!(acknowledged.iter().all(|id| seen.contains(&id.as_str())), "{listed}");
    // The connection was closed before the creates: nothing it was sent could commit.
    assert_eq!(listed["data"]["todos"]["totalCount"], acknowledged.len(), "{listed}");
}
