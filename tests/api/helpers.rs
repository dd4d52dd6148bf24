//! `TestApp`: starts the real todoql router on port 0 with a fresh database, and speaks to
//! it over HTTP.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use todoql::config::Config;

/// The HS256 key every test server signs with (tests forge tokens with it).
pub const SECRET: &str = "test-secret-that-is-at-least-32-bytes-long!";
/// The password every test user signs up with.
pub const PASSWORD: &str = "correct horse battery";

/// A running server with its own database.
pub struct TestApp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// A client without cookies or default headers.
    pub client: reqwest::Client,
    /// The configuration it started with.
    pub config: Config,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A signed-up user.
#[derive(Clone, Debug)]
pub struct TestUser {
    /// User id.
    pub id: String,
    /// Email as signed up.
    pub email: String,
    /// Access token.
    pub token: String,
    /// Refresh token.
    pub refresh: String,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A string no other test in this run uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A fresh database URL: a SQLite file in `dir`, or a new PostgreSQL database when
/// `TODOQL_TEST_DATABASE` names a server.
pub async fn fresh_database(dir: &std::path::Path) -> String {
    match std::env::var("TODOQL_TEST_DATABASE") {
        Ok(base) if base.starts_with("postgres") => {
            use sea_orm::ConnectionTrait;
            let name = unique("todoql_test").replace('-', "_");
            let admin = sea_orm::Database::connect(&base).await.expect("connect to TODOQL_TEST_DATABASE");
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
            admin.close().await.ok();
            let (server, _) = base.rsplit_once('/').expect("a database URL with a path");
            format!("{server}/{name}")
        }
        _ => format!("sqlite://{}?mode=rwc", dir.join("todoql.db").display()),
    }
}

impl TestApp {
    /// A server with the default test configuration.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// A server whose configuration `adjust` may change first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_database(fresh_database(dir.path()).await);
        config.jwt_secret = Some(SECRET.to_owned());
        config.bind_addr = "127.0.0.1:0".parse().expect("address");
        adjust(&mut config);
        Self::start(config, dir).await
    }

    /// Another server on this one's database (which lives as long as this one), with this
    /// one's configuration adjusted: for a test whose setup must not run under its limits.
    pub async fn beside(&self, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = self.config.clone();
        config.bind_addr = "127.0.0.1:0".parse().expect("address");
        adjust(&mut config);
        Self::start(config, tempfile::tempdir().expect("temp dir")).await
    }

    async fn start(config: Config, dir: tempfile::TempDir) -> Self {
        let listener = todoql::app::bind(&config).await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let router = todoql::app::build(config.clone()).await.expect("build app");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(todoql::app::serve(
            listener,
            router,
            async move {
                let _ = stopped.await;
            },
            std::time::Duration::from_secs(1),
        ));
        let client = reqwest::Client::builder().build().expect("client");
        Self { addr, client, config, _dir: dir, _stop: stop }
    }

    /// The URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// POSTs a GraphQL request, with a bearer token when given; returns status and body.
    pub async fn post(&self, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
        let mut request =
            self.client.post(self.url("/graphql")).json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    /// Runs an anonymous operation; returns the body.
    pub async fn anonymous(&self, query: &str, variables: Value) -> Value {
        self.post(None, query, variables).await.1
    }

    /// Runs an operation as `user`; returns the body.
    pub async fn as_user(&self, user: &TestUser, query: &str, variables: Value) -> Value {
        self.post(Some(&user.token), query, variables).await.1
    }

    /// Signs up a new user with a unique email.
    pub async fn sign_up(&self) -> TestUser {
        let email = format!("{}@example.com", unique("user"));
        let body = self
            .anonymous(
                "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken refreshToken user { id } } }",
                json!({ "input": { "email": email, "password": PASSWORD, "name": "Test User" } }),
            )
            .await;
        let payload = &body["data"]["signUp"];
        assert!(payload.is_object(), "sign up failed: {body}");
        TestUser {
            id: payload["user"]["id"].as_str().expect("id").to_owned(),
            email,
            token: payload["accessToken"].as_str().expect("token").to_owned(),
            refresh: payload["refreshToken"].as_str().expect("refresh").to_owned(),
        }
    }

    /// Gives `owner` `count` todos whose descriptions are 2,000 zeros, straight through SQL: a
    /// fixture of the largest account, in a moment rather than thousands of requests. Ids are
    /// random, so any number of owners may be seeded in one database.
    pub async fn seed_long_todos(&self, owner: &str, count: u32) {
        use sea_orm::ConnectionTrait;
        let db = sea_orm::Database::connect(&self.config.database.database_url).await.expect("connect");
        let sql = match db.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => format!(
                "INSERT INTO todos (id, owner_id, title, description, completed, created_at, updated_at, title_folded, \
                 description_folded) SELECT gen_random_uuid()::text, '{owner}', 't' || x, repeat('0', 2000), false, x, x, 't' || x, \
                 repeat('0', 2000) FROM generate_series(1, {count}) AS x"
            ),
            _ => format!(
                "INSERT INTO todos (id, owner_id, title, description, completed, created_at, updated_at, title_folded, \
                 description_folded) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {count}) \
                 SELECT lower(hex(randomblob(16))), '{owner}', 't' || x, hex(zeroblob(1000)), 0, x, x, 't' || x, hex(zeroblob(1000)) \
                 FROM c"
            ),
        };
        db.execute_unprepared(&sql).await.expect("seed");
        db.close().await.ok();
    }

    /// Creates a todo for `user`; returns its id.
    pub async fn create_todo(&self, user: &TestUser, title: &str) -> String {
        let body = self
            .as_user(
                user,
                "mutation($title: String!) { createTodo(input: { title: $title }) { id } }",
                json!({ "title": title }),
            )
            .await;
        body["data"]["createTodo"]["id"].as_str().unwrap_or_else(|| panic!("create failed: {body}")).to_owned()
    }

    /// SQL statements the server has issued so far (from `/metrics`).
    pub async fn statements(&self) -> u64 {
        self.metric("todoql_db_statements_total").await
    }

    /// The value of one series of `/metrics`, named with its labels as the server writes it.
    pub async fn metric(&self, series: &str) -> u64 {
        let text = self.client.get(self.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in /metrics"))
    }
}

/// A body without `extensions.cost`, which every signed-in response carries and which changes
/// from one request to the next (the budget left): for comparing whole answers.
pub fn without_cost(mut body: Value) -> Value {
    if let Some(extensions) = body.get_mut("extensions").and_then(Value::as_object_mut) {
        extensions.remove("cost");
        if extensions.is_empty() {
            body.as_object_mut().map(|b| b.remove("extensions"));
        }
    }
    body
}

/// The `extensions.code` of the first error of a body.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_else(|| panic!("no error code in {body}"))
}

/// Signs an arbitrary claim set with `key` (HS256), for forging tokens.
pub fn sign(claims: &Value, key: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(key.as_bytes()),
    )
    .expect("sign")
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}
