//! Better Auth interoperability, against a real Better Auth 1.7 server: the Node project in
//! `tests/better-auth` (email/password sign-in, the `jwt` and `bearer` plugins, the memory
//! adapter). Users sign up there over HTTP and take a JWT from `/api/auth/token`; todoql,
//! told only `BETTER_AUTH_URL`, must accept it, and refuse everything that merely looks
//! like it.
//!
//! Needs `npm ci --prefix tests/better-auth` once: without it these tests fail, never skip.

use std::io::{BufRead, BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::{PASSWORD, SECRET, TestApp, TestUser, error_code, now, sign, unique};

const ME: &str = "{ me { id email name } }";
const LIST: &str = "{ todos { totalCount nodes { id title } } }";
/// How long todoql may take to pick up a new key: its refetch cooldown (5 s) and some slack.
const REFETCH_DEADLINE: Duration = Duration::from_secs(20);

/// A running Better Auth server, stopped on drop.
pub(crate) struct BetterAuth {
    url: String,
    client: reqwest::Client,
    child: Child,
}

/// A user signed up on Better Auth.
pub(crate) struct BaUser {
    pub(crate) email: String,
    /// The Better Auth session token (`set-auth-token`, for the `bearer` plugin).
    session: String,
    /// A JWT from `/api/auth/token`.
    pub(crate) jwt: String,
}

impl BetterAuth {
    /// A server signing with Better Auth's default key (EdDSA).
    pub(crate) async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// A server with `BA_*` settings (see `tests/better-auth/server.mjs`).
    async fn start_with(env: &[(&str, &str)]) -> Self {
        let dir = project_dir();
        assert!(
            dir.join("node_modules").join("better-auth").is_dir(),
            "Better Auth is not installed: {} is missing.\n\
             Run `npm ci --prefix tests/better-auth` (from {}) once, then rerun the tests.",
            dir.join("node_modules").display(),
            env!("CARGO_MANIFEST_DIR"),
        );
        let mut logs = tempfile::tempfile().expect("log file");
        let mut command = Command::new("node");
        command
            .arg(dir.join("server.mjs"))
            .current_dir(&dir)
            .env_remove("BETTER_AUTH_URL")
            .env_remove("BETTER_AUTH_SECRET")
            .env("BETTER_AUTH_TELEMETRY", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(logs.try_clone().expect("log file"));
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap_or_else(|e| panic!("could not run `node` (is Node.js on PATH?): {e}"));
        // Read the first line, then keep draining stdout so the server never writes to a
        // closed pipe.
        let stdout = child.stdout.take().expect("stdout");
        let (first_line, line) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = first_line.send(lines.next());
            lines.for_each(drop);
        });
        let line =
            tokio::task::spawn_blocking(move || line.recv_timeout(Duration::from_secs(30))).await.expect("reader");
        let url = line.ok().flatten().and_then(Result::ok).and_then(|line| {
            serde_json::from_str::<Value>(&line).ok().and_then(|v| v["url"].as_str().map(str::to_owned))
        });
        let Some(url) = url else {
            let _ = child.kill();
            let _ = child.wait();
            let mut text = String::new();
            let _ = logs.rewind().and_then(|()| logs.read_to_string(&mut text));
            panic!("the Better Auth server did not start:\n{text}");
        };
        Self { url, client: reqwest::Client::new(), child }
    }

    /// Signs a new user up over HTTP and takes a JWT for them.
    pub(crate) async fn sign_up(&self) -> BaUser {
        self.sign_up_as(&format!("{}@example.com", unique("ba"))).await
    }

    async fn sign_up_as(&self, email: &str) -> BaUser {
        let response = self
            .client
            .post(format!("{}/api/auth/sign-up/email", self.url))
            .json(&json!({ "email": email, "password": PASSWORD, "name": "Ada Lovelace" }))
            .send()
            .await
            .expect("sign up on Better Auth");
        let status = response.status();
        let session = response.headers().get("set-auth-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body: Value = response.json().await.expect("JSON");
        let session = session.unwrap_or_else(|| panic!("Better Auth sign-up failed ({status}): {body}"));
        let jwt = self.jwt(&session).await;
        BaUser { email: email.to_owned(), session, jwt }
    }

    /// A fresh JWT for a signed-in session, from the `jwt` plugin.
    async fn jwt(&self, session: &str) -> String {
        let response =
            self.client.get(format!("{}/api/auth/token", self.url)).bearer_auth(session).send().await.expect("token");
        let body: Value = response.json().await.expect("JSON");
        body["token"].as_str().unwrap_or_else(|| panic!("no token from Better Auth: {body}")).to_owned()
    }

    /// Adds a new signing key, which later tokens use.
    async fn rotate_key(&self) -> String {
        let response = self.client.post(format!("{}/test/rotate-key", self.url)).send().await.expect("rotate");
        let body: Value = response.json().await.expect("JSON");
        body["kid"].as_str().expect("kid").to_owned()
    }

    /// How many JWKS requests it has served.
    async fn jwks_requests(&self) -> u64 {
        let response = self.client.get(format!("{}/test/stats", self.url)).send().await.expect("stats");
        response.json::<Value>().await.expect("JSON")["jwksRequests"].as_u64().expect("count")
    }
}

impl Drop for BetterAuth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn project_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("better-auth")
}

/// todoql trusting `better_auth`.
pub(crate) async fn todoql_for(better_auth: &BetterAuth) -> TestApp {
    let url = better_auth.url.clone();
    TestApp::spawn_with(|c| c.better_auth_url = Some(url)).await
}

/// The todoql user a Better Auth user's JWT is linked to.
pub(crate) async fn on_todoql(app: &TestApp, user: &BaUser) -> TestUser {
    let (status, body) = app.post(Some(&user.jwt), ME, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let id = body["data"]["me"]["id"].as_str().unwrap_or_else(|| panic!("me failed: {body}")).to_owned();
    TestUser { id, email: user.email.clone(), token: user.jwt.clone(), refresh: String::new() }
}

/// Asserts that todoql refuses `token` with 401 `UNAUTHENTICATED`; returns the message.
async fn assert_refused(app: &TestApp, token: &str) -> String {
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": ME }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 401);
    let challenge = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(challenge.as_deref(), Some("Bearer error=\"invalid_token\""));
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    body["errors"][0]["message"].as_str().expect("message").to_owned()
}

/// A JSON part of a JWT.
pub(crate) fn part(token: &str, index: usize) -> Value {
    let bytes = URL_SAFE_NO_PAD.decode(token.split('.').nth(index).expect("part")).expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

fn encode(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// `token` with its payload changed and its signature kept.
fn tamper(token: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut payload = part(token, 1);
    change(&mut payload);
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", parts[0], encode(&payload), parts[2])
}

/// Polls until todoql accepts `token`; panics after [`REFETCH_DEADLINE`].
async fn accepted_eventually(app: &TestApp, token: &str) -> Value {
    let deadline = Instant::now() + REFETCH_DEADLINE;
    loop {
        let (status, body) = app.post(Some(token), ME, json!({})).await;
        if status == 200 {
            return body;
        }
        assert!(Instant::now() < deadline, "todoql never accepted the token: {status} {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_better_auth_user_creates_and_lists_todos_with_their_better_auth_token() {
    let better_auth = BetterAuth::start().await;
    let app = todoql_for(&better_auth).await;
    let user = better_auth.sign_up().await;
    assert_eq!(part(&user.jwt, 0)["alg"], "EdDSA", "Better Auth's default algorithm");

    let me = app.post(Some(&user.jwt), ME, json!({})).await.1;
    assert_eq!(me["data"]["me"]["email"], user.email.as_str(), "{me}");
    assert_eq!(me["data"]["me"]["name"], "Ada Lovelace");
    let todoql_user = on_todoql(&app, &user).await;
    let id = app.create_todo(&todoql_user, "Written from Next.js").await;
    let list = app.as_user(&todoql_user, LIST, json!({})).await;
    assert_eq!(list["data"]["todos"]["totalCount"], 1, "{list}");
    assert_eq!(list["data"]["todos"]["nodes"][0], json!({ "id": id, "title": "Written from Next.js" }));

    // A later token of the same Better Auth user is the same todoql user.
    let later = better_auth.jwt(&user.session).await;
    let me_again = app.post(Some(&later), ME, json!({})).await.1;
    assert_eq!(me_again["data"]["me"]["id"], todoql_user.id.as_str(), "{me_again}");
}

#[tokio::test]
async fn a_better_auth_token_with_a_scope_claim_is_limited_to_those_scopes() {
    // Better Auth signs `scope` into every token; todoql keeps the scopes it knows.
    let better_auth = BetterAuth::start_with(&[("BA_SCOPE", "openid todos:read")]).await;
    let app = todoql_for(&better_auth).await;
    let user = better_auth.sign_up().await;
    assert_eq!(part(&user.jwt, 1)["scope"], "openid todos:read", "the claim is in the token");
    let (status, list) = app.post(Some(&user.jwt), LIST, json!({})).await;
    assert_eq!((status, &list["data"]["todos"]["totalCount"]), (200, &json!(0)), "{list}");
    let (status, me) = app.post(Some(&user.jwt), ME, json!({})).await;
    assert_eq!(status, 403, "{me}");
    assert_eq!(me["errors"][0]["extensions"]["requiredScopes"], json!([["profile:read"]]), "{me}");
    let create = "mutation { createTodo(input: { title: \"no\" }) { id } }";
    let (status, created) = app.post(Some(&user.jwt), create, json!({})).await;
    assert_eq!((status, error_code(&created)), (403, "FORBIDDEN"), "{created}");
    // Without the claim (every other test here), a Better Auth token keeps full access.
}

#[tokio::test]
async fn two_better_auth_users_see_only_their_own_todos() {
    let better_auth = BetterAuth::start().await;
    let app = todoql_for(&better_auth).await;
    let alice = on_todoql(&app, &better_auth.sign_up().await).await;
    let bob = on_todoql(&app, &better_auth.sign_up().await).await;
    assert_ne!(alice.id, bob.id);
    let id = app.create_todo(&alice, "Alice's secret").await;

    let list = app.as_user(&bob, LIST, json!({})).await;
    assert_eq!(list["data"]["todos"]["totalCount"], 0, "{list}");
    let one = app.as_user(&bob, "query($id: ID!) { todo(id: $id) { id } }", json!({ "id": id })).await;
    assert_eq!(one["data"]["todo"], Value::Null, "{one}");
    let update = "mutation($id: ID!) { updateTodo(id: $id, input: { title: \"mine\" }) { id } }";
    assert_eq!(error_code(&app.as_user(&bob, update, json!({ "id": id })).await), "NOT_FOUND");
    let alices = app.as_user(&alice, LIST, json!({})).await;
    assert_eq!(alices["data"]["todos"]["nodes"][0]["title"], "Alice's secret");
}

#[tokio::test]
async fn the_first_requests_of_a_new_identity_racing_each_other_provision_one_user() {
    let better_auth = BetterAuth::start().await;
    let app = todoql_for(&better_auth).await;
    let user = better_auth.sign_up().await;
    let requests = (0..6).map(|_| app.post(Some(&user.jwt), ME, json!({})));
    let ids: std::collections::HashSet<String> = futures::future::join_all(requests)
        .await
        .into_iter()
        .map(|(status, body)| {
            assert_eq!(status, 200, "{body}");
            body["data"]["me"]["id"].as_str().expect("id").to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
}

#[tokio::test]
async fn tokens_from_another_better_auth_instance_are_rejected() {
    let trusted = BetterAuth::start().await;
    let app = todoql_for(&trusted).await;
    on_todoql(&app, &trusted.sign_up().await).await;

    // Another deployment: its own issuer and keys.
    let other = BetterAuth::start().await;
    let message = assert_refused(&app, &other.sign_up().await.jwt).await;
    assert!(message.contains("algorithm"), "routed to todoql's own HS256 key, which refuses it: {message}");

    // An impostor claiming the trusted issuer, with keys of its own.
    let impostor = BetterAuth::start_with(&[("BA_BASE_URL", &trusted.url)]).await;
    let forged = impostor.sign_up().await.jwt;
    assert_eq!(part(&forged, 1)["iss"], trusted.url.as_str());
    let message = assert_refused(&app, &forged).await;
    assert!(message.contains("signing key"), "{message}");
}

#[tokio::test]
async fn tampered_tokens_are_rejected() {
    let better_auth = BetterAuth::start().await;
    let app = todoql_for(&better_auth).await;
    let alice = better_auth.sign_up().await;
    let bob = better_auth.sign_up().await;
    on_todoql(&app, &alice).await;
    let bob_id = part(&bob.jwt, 1)["sub"].clone();

    let as_bob = tamper(&alice.jwt, |p| p["sub"] = bob_id);
    assert!(assert_refused(&app, &as_bob).await.contains("signature"));
    let longer = tamper(&alice.jwt, |p| p["exp"] = json!(now() + 86_400 * 365));
    assert_refused(&app, &longer).await;
    let other_audience = tamper(&alice.jwt, |p| p["aud"] = json!("https://elsewhere.example"));
    assert_refused(&app, &other_audience).await;

    // Alice's header and payload under Bob's signature.
    let parts: Vec<&str> = alice.jwt.split('.').collect();
    let spliced = format!("{}.{}.{}", parts[0], parts[1], bob.jwt.split('.').nth(2).expect("signature"));
    assert_refused(&app, &spliced).await;
    // `alg: none`, keeping the issuer.
    let unsigned = format!("{}.{}.", encode(&json!({ "alg": "none", "kid": part(&alice.jwt, 0)["kid"] })), parts[1]);
    assert_refused(&app, &unsigned).await;
}

#[tokio::test]
async fn an_hs256_token_claiming_the_better_auth_issuer_is_rejected_whatever_its_key() {
    let better_auth = BetterAuth::start().await;
    let app = todoql_for(&better_auth).await;
    let native = app.sign_up().await;
    let jwks: Value = better_auth
        .client
        .get(format!("{}/api/auth/jwks", better_auth.url))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("JSON");
    let public_key = jwks["keys"][0]["x"].as_str().expect("x").to_owned();
    let claims = |sub: &str| json!({ "sub": sub, "iss": better_auth.url, "aud": better_auth.url, "exp": now() + 600 });

    // With todoql's own secret: the issuer, not the algorithm, picks the verifier.
    let message = assert_refused(&app, &sign(&claims(&native.id), SECRET)).await;
    assert!(message.contains("algorithm"), "{message}");
    // With the published public key as an HMAC secret (the classic confusion attack).
    assert_refused(&app, &sign(&claims("any-better-auth-id"), &public_key)).await;

    // todoql's own tokens keep working beside Better Auth's.
    app.create_todo(&native, "Still mine").await;
}

#[tokio::test]
async fn after_better_auth_rotates_its_key_todoql_accepts_tokens_signed_with_the_new_one() {
    let better_auth = BetterAuth::start().await;
    let app = todoql_for(&better_auth).await;
    let user = better_auth.sign_up().await;
    let before = on_todoql(&app, &user).await;

    let new_kid = better_auth.rotate_key().await;
    let rotated = better_auth.jwt(&user.session).await;
    assert_eq!(part(&rotated, 0)["kid"], new_kid.as_str(), "Better Auth signs with its newest key");
    assert_ne!(part(&rotated, 0)["kid"], part(&user.jwt, 0)["kid"]);

    let me = accepted_eventually(&app, &rotated).await;
    assert_eq!(me["data"]["me"]["id"], before.id.as_str(), "{me}");
    // The old key is still published, so tokens it signed still work.
    assert_eq!(app.post(Some(&user.jwt), ME, json!({})).await.0, 200);
}

#[tokio::test]
async fn tokens_naming_random_kids_do_not_make_todoql_hammer_the_jwks() {
    let better_auth = BetterAuth::start().await;
    let app = todoql_for(&better_auth).await;
    on_todoql(&app, &better_auth.sign_up().await).await;
    let fetched = better_auth.jwks_requests().await;

    let claims = json!({ "sub": "x", "iss": better_auth.url, "aud": better_auth.url, "exp": now() + 600 });
    let forged: Vec<String> = (0..30)
        .map(|i| {
            format!(
                "{}.{}.{}",
                encode(&json!({ "alg": "EdDSA", "kid": format!("random-{i}") })),
                encode(&claims),
                URL_SAFE_NO_PAD.encode([0u8; 64])
            )
        })
        .collect();
    // A burst: the requests that arrive during the cooldown share one fetch at its end.
    futures::future::join_all(forged.iter().map(|token| assert_refused(&app, token))).await;
    let refetches = better_auth.jwks_requests().await - fetched;
    assert!(refetches <= 1, "30 unknown kids caused {refetches} JWKS fetches");
    // And a second burst right after: still no more than one fetch per cooldown.
    let started = Instant::now();
    futures::future::join_all(forged.iter().map(|token| assert_refused(&app, token))).await;
    let refetches = better_auth.jwks_requests().await - fetched;
    assert!(refetches <= 2, "60 unknown kids caused {refetches} JWKS fetches");
    assert!(started.elapsed() < Duration::from_secs(15), "each request waits for at most one cooldown");
}

#[tokio::test]
async fn every_algorithm_better_auth_offers_that_todoql_implements_is_accepted() {
    for alg in ["ES256", "RS256", "PS256"] {
        let better_auth = BetterAuth::start_with(&[("BA_ALG", alg)]).await;
        let app = todoql_for(&better_auth).await;
        let user = better_auth.sign_up().await;
        assert_eq!(part(&user.jwt, 0)["alg"], alg);
        let todoql_user = on_todoql(&app, &user).await;
        app.create_todo(&todoql_user, alg).await;
    }
}

#[tokio::test]
async fn an_es512_token_is_refused_with_a_message_naming_the_supported_algorithms() {
    let better_auth = BetterAuth::start_with(&[("BA_ALG", "ES512")]).await;
    let app = todoql_for(&better_auth).await;
    let message = assert_refused(&app, &better_auth.sign_up().await.jwt).await;
    assert!(message.contains("EdDSA, ES256, RS256 and PS256"), "{message}");
}

#[tokio::test]
async fn a_better_auth_email_already_used_on_todoql_never_merges_the_accounts() {
    let better_auth = BetterAuth::start().await;
    let app = todoql_for(&better_auth).await;
    let native = app.sign_up().await;
    app.create_todo(&native, "Native secret").await;

    let same_email = better_auth.sign_up_as(&native.email).await;
    let me = app.post(Some(&same_email.jwt), ME, json!({})).await.1;
    let id = me["data"]["me"]["id"].as_str().unwrap_or_else(|| panic!("{me}"));
    assert_ne!(id, native.id, "a separate user");
    assert_ne!(me["data"]["me"]["email"], native.email.as_str(), "the address stays the native account's");
    let list = app.post(Some(&same_email.jwt), LIST, json!({})).await.1;
    assert_eq!(list["data"]["todos"]["totalCount"], 0, "{list}");
    // The native account still signs in with its password, as itself.
    let sign_in = "mutation($i: SignInInput!) { signIn(input: $i) { user { id } } }";
    let body = app.anonymous(sign_in, json!({ "i": { "email": native.email, "password": PASSWORD } })).await;
    assert_eq!(body["data"]["signIn"]["user"]["id"], native.id.as_str(), "{body}");
}

#[tokio::test]
async fn todoql_without_better_auth_configured_rejects_better_auth_tokens() {
    let better_auth = BetterAuth::start().await;
    let app = TestApp::spawn().await;
    assert_refused(&app, &better_auth.sign_up().await.jwt).await;
}

#[tokio::test]
async fn todoql_serves_while_the_jwks_is_unreachable_and_picks_it_up_once_it_answers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let url = format!("http://127.0.0.1:{port}");
    let app = TestApp::spawn_with(|c| c.better_auth_url = Some(url.clone())).await;

    // todoql's own tokens work meanwhile.
    let native = app.sign_up().await;
    app.create_todo(&native, "Better Auth is down").await;
    // A token for the unreachable issuer cannot be checked: 503, not a verdict on the token.
    let claims = json!({ "sub": "x", "iss": url, "aud": url, "exp": now() + 600 });
    let pending = format!(
        "{}.{}.{}",
        encode(&json!({ "alg": "EdDSA", "kid": "k" })),
        encode(&claims),
        URL_SAFE_NO_PAD.encode([0u8; 64])
    );
    let (status, body) = app.post(Some(&pending), ME, json!({})).await;
    assert_eq!((status, error_code(&body)), (503, "SERVICE_UNAVAILABLE"), "{body}");

    let port = port.to_string();
    let better_auth = BetterAuth::start_with(&[("BA_PORT", &port)]).await;
    assert_eq!(better_auth.url, url);
    let user = better_auth.sign_up().await;
    accepted_eventually(&app, &user.jwt).await;
}

#[tokio::test]
async fn a_better_auth_token_authenticates_a_subscription() {
    let better_auth = BetterAuth::start().await;
    let app = todoql_for(&better_auth).await;
    let user = on_todoql(&app, &better_auth.sign_up().await).await;

    let mut request = app.url("/graphql/ws").replacen("http", "ws", 1).into_client_request().expect("request");
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("connect");
    let bearer = format!("Bearer {}", user.token);
    let query = "subscription { todoEvents { kind todo { title owner { id } } } }";
    let ack = exchange(&mut socket, json!({ "type": "connection_init", "payload": { "Authorization": bearer } })).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    send(&mut socket, json!({ "id": "1", "type": "subscribe", "payload": { "query": query } })).await;
    // Messages are handled in order: once the pong is back, the subscription is live.
    let pong = exchange(&mut socket, json!({ "type": "ping" })).await;
    assert_eq!(pong["type"], "pong", "{pong}");

    app.create_todo(&user, "Seen live").await;
    let event = receive(&mut socket).await;
    assert_eq!(event["type"], "next", "{event}");
    let expected = json!({ "kind": "CREATED", "todo": { "title": "Seen live", "owner": { "id": user.id } } });
    assert_eq!(event["payload"]["data"]["todoEvents"], expected, "{event}");
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::text(message.to_string())).await.expect("send");
}

/// The next text message, as JSON.
async fn receive(socket: &mut Socket) -> Value {
    let message = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("a message in time");
    match message.expect("open").expect("message") {
        Message::Text(text) => serde_json::from_str(&text).expect("JSON"),
        other => panic!("unexpected message: {other:?}"),
    }
}

async fn exchange(socket: &mut Socket, message: Value) -> Value {
    send(socket, message).await;
    receive(socket).await
}
