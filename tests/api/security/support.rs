//! What the security tests share: requests, outcomes, and a server run as its own process.

#![allow(unused_imports)]

pub(super) use std::net::{SocketAddr, TcpListener};
pub(super) use std::path::Path;
pub(super) use std::process::{Child, Command, Stdio};
pub(super) use std::time::{Duration, Instant};

pub(super) use serde_json::{Value, json};

pub(super) use crate::helpers::{
    PASSWORD, SECRET, TestApp, error_code, fresh_database, now, sign, unique, without_cost,
};

pub(super) const SIGN_IN: &str =
    "mutation($input: SignInInput!) { signIn(input: $input) { accessToken refreshToken } }";
pub(super) const WRONG: &str = "not the password";
/// How long any one request may take before the test calls it a hang.
pub(super) const HANG: Duration = Duration::from_secs(30);

/// An email no account has.
pub(super) fn stranger() -> String {
    format!("{}@example.com", unique("stranger"))
}

/// Signs in from the test's own address.
pub(super) async fn sign_in(app: &TestApp, email: &str, password: &str) -> Value {
    sign_in_as(app, email, password, &[]).await
}

/// Signs in with a wrong password, through a proxy that forwarded for `forwarded_for` (one
/// `X-Forwarded-For` line each).
pub(super) async fn sign_in_from(app: &TestApp, email: &str, forwarded_for: &[&str]) -> Value {
    sign_in_as(app, email, WRONG, forwarded_for).await
}

pub(super) async fn sign_in_as(app: &TestApp, email: &str, password: &str, forwarded_for: &[&str]) -> Value {
    let variables = json!({ "input": { "email": email, "password": password } });
    let mut request = app.client.post(app.url("/graphql")).json(&json!({ "query": SIGN_IN, "variables": variables }));
    for line in forwarded_for {
        request = request.header("x-forwarded-for", *line);
    }
    let response = within(HANG, request.send()).await.expect("sign-in request");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON body")
}

/// `OK` for a sign-in that returned a token, else the error code.
pub(super) fn outcome(body: &Value) -> &str {
    if body["data"]["signIn"]["accessToken"].is_string() { "OK" } else { error_code(body) }
}

/// The error code of a body, or `OK` when it has none.
pub(super) fn outcome_of(body: &Value) -> &str {
    if body.get("errors").is_none() { "OK" } else { error_code(body) }
}

/// `extensions.retryAfter`, which must be a whole number of seconds above zero.
pub(super) fn retry_after(body: &Value) -> u64 {
    let seconds = body["errors"][0]["extensions"]["retryAfter"].as_u64();
    seconds.filter(|s| *s > 0).unwrap_or_else(|| panic!("no positive integer retryAfter: {body}"))
}

/// The access and refresh tokens of an `AuthPayload`.
pub(super) fn tokens(payload: &Value) -> (String, String) {
    let token = |key: &str| payload[key].as_str().unwrap_or_else(|| panic!("no {key} in {payload}")).to_owned();
    (token("accessToken"), token("refreshToken"))
}

/// POSTs a raw JSON body; returns the status and the body (`null` when it is not JSON).
pub(super) async fn post_json(app: &TestApp, body: String) -> (u16, Value) {
    let request = app.client.post(app.url("/graphql")).header("content-type", "application/json").body(body);
    let response = within(HANG, request.send()).await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The `Access-Control-Allow-Origin` a CORS preflight from `origin` gets.
pub(super) async fn preflight(app: &TestApp, origin: &str) -> Option<String> {
    let request = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/graphql"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type");
    allow_origin(&request.send().await.expect("preflight"))
}

/// The `Access-Control-Allow-Origin` a POST from `origin` gets.
pub(super) async fn cross_origin_post(app: &TestApp, origin: &str) -> Option<String> {
    let request =
        app.client.post(app.url("/graphql")).header("origin", origin).json(&json!({ "query": "{ __typename }" }));
    allow_origin(&request.send().await.expect("request"))
}

pub(super) fn allow_origin(response: &reqwest::Response) -> Option<String> {
    let value = response.headers().get("access-control-allow-origin")?;
    Some(value.to_str().expect("ASCII header").to_owned())
}

/// Awaits `future`, failing the test if it takes longer than `limit`.
pub(super) async fn within<T>(limit: Duration, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(limit, future).await.unwrap_or_else(|_| panic!("no answer within {limit:?}"))
}

/// `todoql serve` as a child process on a free port, its output captured in a file.
pub(super) struct Server {
    pub(super) child: Child,
    pub(super) addr: SocketAddr,
    pub(super) log: std::path::PathBuf,
    pub(super) client: reqwest::Client,
}

impl Server {
    /// Starts the binary with the test secret and `env`.
    pub(super) fn start(dir: &Path, database_url: &str, env: &[(&str, &str)]) -> Self {
        let mut all = vec![("JWT_SECRET", SECRET)];
        all.extend_from_slice(env);
        Self::start_with(dir, database_url, &all)
    }

    /// Starts the binary with exactly `env` (and its address and database).
    pub(super) fn start_with(dir: &Path, database_url: &str, env: &[(&str, &str)]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = dir.join(format!("todoql-{port}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_todoql"))
            .arg("serve")
            .env_clear()
            .env("NO_COLOR", "1")
            .env("BIND_ADDR", addr.to_string())
            .env("DATABASE_URL", database_url)
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .expect("start todoql");
        let client = reqwest::Client::builder().timeout(HANG).build().expect("client");
        Self { child, addr, log, client }
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Waits (bounded) until `/healthz` answers.
    pub(super) async fn ready(&self) {
        let deadline = Instant::now() + HANG;
        while !matches!(self.client.get(self.url("/healthz")).send().await, Ok(r) if r.status() == 200) {
            assert!(Instant::now() < deadline, "todoql never became ready:\n{}", self.output());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(super) async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
        let mut request =
            self.client.post(self.url("/graphql")).json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("request failed: {e}\n{}", self.output()));
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    /// Signs up a new account with `password`; returns its access token and email.
    pub(super) async fn sign_up(&self, password: &str) -> (String, String) {
        let email = stranger();
        let query = "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }";
        let (_, body) =
            self.graphql(None, query, json!({ "input": { "email": email, "password": password, "name": "N" } })).await;
        let token = body["data"]["signUp"]["accessToken"].as_str().unwrap_or_else(|| panic!("sign up: {body}"));
        (token.to_owned(), email)
    }

    pub(super) fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the process with SIGTERM, waits (bounded) for it, and returns all it wrote.
    pub(super) async fn stop(mut self) -> String {
        let status = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + HANG;
        while self.child.try_wait().expect("poll todoql").is_none() {
            assert!(Instant::now() < deadline, "todoql did not stop");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.output()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
