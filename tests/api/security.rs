//! Abuse resistance (issue 3), each protection proven against the real server: sign-in rate
//! limits, the bounded hashing queue, hostile documents, transport limits, and secrets kept out
//! of the log.
//!
//! Timeouts here only turn a hang into a failure; no test asserts how fast anything is.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, SECRET, TestApp, error_code, fresh_database, now, sign, unique};

const SIGN_IN: &str = "mutation($input: SignInInput!) { signIn(input: $input) { accessToken refreshToken } }";
const WRONG: &str = "not the password";
/// How long any one request may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(30);

// --- Sign-in rate limits ----------------------------------------------------------------

#[tokio::test]
async fn after_five_wrong_passwords_even_the_right_one_is_rate_limited_before_any_hashing() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let mut failed_cost = 0;
    for attempt in 1..=5 {
        let before = app.statements().await;
        assert_eq!(outcome(&sign_in(&app, &user.email, WRONG).await), "INVALID_CREDENTIALS", "attempt {attempt}");
        failed_cost = app.statements().await - before;
    }

    let before = app.statements().await;
    let body = sign_in(&app, &user.email, PASSWORD).await;
    let refused_cost = app.statements().await - before;
    assert_eq!(outcome(&body), "RATE_LIMITED", "{body}");
    assert!(body["data"].is_null(), "{body}");
    assert!(retry_after(&body) <= app.config.sign_in_window, "{body}");
    // Hashing needs the user's stored hash, read with the user. A refused attempt stops at the
    // rate-limit bookkeeping: it issues fewer statements than a wrong password, which reads
    // the user and hashes. (Checking after the hash would cost at least as much.)
    assert!(refused_cost < failed_cost, "refused: {refused_cost} statements, failed: {failed_cost}");
}

#[tokio::test]
async fn concurrent_wrong_passwords_cannot_outrun_the_email_limit() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    // All at once: every one could pass a check made before the first failure is counted.
    let attempts = futures::future::join_all((0..10).map(|_| sign_in(&app, &user.email, WRONG))).await;
    let codes: Vec<&str> = attempts.iter().map(outcome).collect();
    let guessed = codes.iter().filter(|c| **c == "INVALID_CREDENTIALS").count();
    assert!(guessed <= 5, "{guessed} guesses were checked against the password: {codes:?}");
    assert!(codes.contains(&"RATE_LIMITED"), "{codes:?}");
    // Under load a guess may be shed before hashing; it must still have been counted.
    assert!(
        codes.iter().all(|c| ["INVALID_CREDENTIALS", "RATE_LIMITED", "SERVICE_UNAVAILABLE"].contains(c)),
        "{codes:?}"
    );
    assert_eq!(outcome(&sign_in(&app, &user.email, PASSWORD).await), "RATE_LIMITED");
}

#[tokio::test]
async fn a_successful_sign_in_resets_the_emails_failures() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    for _ in 0..4 {
        assert_eq!(outcome(&sign_in(&app, &user.email, WRONG).await), "INVALID_CREDENTIALS");
    }
    assert_eq!(outcome(&sign_in(&app, &user.email, PASSWORD).await), "OK");
    // Without the reset the second of these would be the sixth failure.
    for attempt in 1..=5 {
        assert_eq!(outcome(&sign_in(&app, &user.email, WRONG).await), "INVALID_CREDENTIALS", "attempt {attempt}");
    }
    assert_eq!(outcome(&sign_in(&app, &user.email, PASSWORD).await), "RATE_LIMITED");
}

#[tokio::test]
async fn the_email_may_try_again_once_its_window_has_passed() {
    let app = TestApp::spawn_with(|c| c.sign_in_window = 1).await;
    let user = app.sign_up().await;
    for _ in 0..5 {
        assert_eq!(outcome(&sign_in(&app, &user.email, WRONG).await), "INVALID_CREDENTIALS");
    }
    let deadline = Instant::now() + HANG;
    loop {
        let body = sign_in(&app, &user.email, PASSWORD).await;
        match outcome(&body) {
            "OK" => break,
            "RATE_LIMITED" => assert_eq!(retry_after(&body), 1, "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
        assert!(Instant::now() < deadline, "still rate limited long after a 1 s window");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn one_client_failing_across_many_emails_is_rate_limited() {
    let app = TestApp::spawn_with(|c| c.sign_in_max_failures_per_client = 3).await;
    let user = app.sign_up().await;
    for _ in 0..3 {
        assert_eq!(outcome(&sign_in(&app, &stranger(), WRONG).await), "INVALID_CREDENTIALS");
    }
    let body = sign_in(&app, &stranger(), WRONG).await;
    assert_eq!(outcome(&body), "RATE_LIMITED", "{body}");
    retry_after(&body);
    // The client is refused before hashing, whatever the credentials.
    assert_eq!(outcome(&sign_in(&app, &user.email, PASSWORD).await), "RATE_LIMITED");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let app = TestApp::spawn_with(|c| {
        c.trust_proxy = 1;
        c.sign_in_max_failures_per_client = 2;
    })
    .await;
    for _ in 0..2 {
        assert_eq!(outcome(&sign_in_from(&app, &stranger(), &["203.0.113.1"]).await), "INVALID_CREDENTIALS");
    }
    assert_eq!(outcome(&sign_in_from(&app, &stranger(), &["203.0.113.1"]).await), "RATE_LIMITED");
    assert_eq!(outcome(&sign_in_from(&app, &stranger(), &["203.0.113.2"]).await), "INVALID_CREDENTIALS");
    // Only the hop the proxy appended is trusted: what the client wrote before it is not.
    let spoofed = sign_in_from(&app, &stranger(), &["198.51.100.9, 203.0.113.1"]).await;
    assert_eq!(outcome(&spoofed), "RATE_LIMITED", "{spoofed}");
}

#[tokio::test]
async fn addresses_of_one_ipv6_slash_64_share_a_client_budget() {
    let app = TestApp::spawn_with(|c| {
        c.trust_proxy = 1;
        c.sign_in_max_failures_per_client = 2;
    })
    .await;
    // Anyone handed a /64 can send from any of its 2^64 addresses.
    for address in ["2001:db8:1:2::1", "2001:db8:1:2::2"] {
        assert_eq!(outcome(&sign_in_from(&app, &stranger(), &[address]).await), "INVALID_CREDENTIALS");
    }
    assert_eq!(outcome(&sign_in_from(&app, &stranger(), &["2001:db8:1:2:ffff::3"]).await), "RATE_LIMITED");
    assert_eq!(outcome(&sign_in_from(&app, &stranger(), &["2001:db8:1:3::1"]).await), "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn a_forwarded_for_line_the_proxy_adds_below_the_clients_is_the_one_trusted() {
    let app = TestApp::spawn_with(|c| {
        c.trust_proxy = 1;
        c.sign_in_max_failures_per_client = 2;
    })
    .await;
    // A proxy may add its own header line rather than extend the client's; the lines form
    // one list (RFC 9110 §5.3), whose last entry is still the trusted one.
    for n in 0..3 {
        let spoofed = format!("198.51.100.{n}");
        let body = sign_in_from(&app, &stranger(), &[spoofed.as_str(), "203.0.113.7"]).await;
        let expected = if n < 2 { "INVALID_CREDENTIALS" } else { "RATE_LIMITED" };
        assert_eq!(outcome(&body), expected, "attempt {n}: {body}");
    }
}

#[tokio::test]
async fn without_trust_proxy_the_forwarded_for_header_is_ignored() {
    let app = TestApp::spawn_with(|c| c.sign_in_max_failures_per_client = 2).await;
    assert_eq!(app.config.trust_proxy, 0);
    for address in ["203.0.113.1", "203.0.113.2"] {
        assert_eq!(outcome(&sign_in_from(&app, &stranger(), &[address]).await), "INVALID_CREDENTIALS");
    }
    // A new header value is no new client: the socket peer has used up its budget.
    assert_eq!(outcome(&sign_in_from(&app, &stranger(), &["203.0.113.3"]).await), "RATE_LIMITED");
}

#[tokio::test]
async fn two_instances_on_one_database_share_the_sign_in_budget() {
    let first = TestApp::spawn().await;
    let url = first.config.database.database_url.clone();
    let second = TestApp::spawn_with(|c| c.database.database_url = url).await;
    let user = first.sign_up().await;
    for app in [&first, &second, &first, &second, &first] {
        assert_eq!(outcome(&sign_in(app, &user.email, WRONG).await), "INVALID_CREDENTIALS");
    }
    assert_eq!(outcome(&sign_in(&second, &user.email, PASSWORD).await), "RATE_LIMITED");
}

#[tokio::test]
async fn an_overlong_email_is_just_wrong_credentials() {
    let app = TestApp::spawn().await;
    // Longer than any email may be, and than the rate-limit key column (300).
    let email = format!("{}@example.com", "a".repeat(400));
    let body = sign_in(&app, &email, WRONG).await;
    assert_eq!(outcome(&body), "INVALID_CREDENTIALS", "{body}");
}

// --- Password hashing cannot starve the server ---------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_sign_ins_is_shed_with_service_unavailable_while_reads_are_served() {
    // Its own process: the hashing queue is per process, and this flood must not starve the
    // sign-ups of tests running beside it.
    let dir = tempfile::tempdir().expect("temp dir");
    let server =
        Server::start(dir.path(), &fresh_database(dir.path()).await, &[("SIGN_IN_MAX_FAILURES_PER_CLIENT", "100000")]);
    server.ready().await;
    let (token, email) = server.sign_up(PASSWORD).await;

    // Twice the queue (cores × 8) and at least 200, all at once, each for an unknown email.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let flood_size = (cores * 16).max(200);
    let flooding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flood = {
        let (client, url, flooding) = (server.client.clone(), server.url("/graphql"), flooding.clone());
        tokio::spawn(async move {
            let attempts = (0..flood_size).map(|_| {
                let request = client.post(&url).json(
                    &json!({ "query": SIGN_IN, "variables": { "input": { "email": stranger(), "password": WRONG } } }),
                );
                async move {
                    let response = request.send().await.expect("sign-in request");
                    (response.status().as_u16(), response.json::<Value>().await.expect("JSON body"))
                }
            });
            let results = futures::future::join_all(attempts).await;
            flooding.store(false, std::sync::atomic::Ordering::SeqCst);
            results
        })
    };

    // Meanwhile a request that needs no hashing, and one that reads the database, are served.
    let mut answered_during_flood = 0;
    while flooding.load(std::sync::atomic::Ordering::SeqCst) {
        let (status, body) = server.graphql(None, "{ __typename }", json!({})).await;
        assert_eq!((status, &body), (200, &json!({ "data": { "__typename": "Query" } })));
        let (status, body) = server.graphql(Some(&token), "{ me { email } }", json!({})).await;
        assert_eq!((status, &body["data"]["me"]["email"]), (200, &json!(email)), "{body}");
        if flooding.load(std::sync::atomic::Ordering::SeqCst) {
            answered_during_flood += 1;
        }
    }
    assert!(answered_during_flood > 0, "the flood ended before any read was answered; make it larger");

    let results = flood.await.expect("flood");
    let mut shed = 0;
    for (status, body) in &results {
        assert_eq!(*status, 200, "{body}");
        match outcome(body) {
            "INVALID_CREDENTIALS" => {}
            "SERVICE_UNAVAILABLE" => {
                retry_after(body);
                shed += 1;
            }
            other => panic!("a flooded sign-in answered {other}: {body}"),
        }
    }
    // The queue holds cores × 8: a flood of twice that, all at once, cannot fit in it.
    assert!(shed > 0, "none of {flood_size} concurrent sign-ins was shed");
    // Once the flood has passed, signing in works again.
    let (_, body) = server.graphql(None, SIGN_IN, json!({ "input": { "email": email, "password": PASSWORD } })).await;
    assert!(body["data"]["signIn"]["accessToken"].is_string(), "{body}");
    server.stop().await;
}

// --- Hostile documents ------------------------------------------------------------------------

#[tokio::test]
async fn an_operation_with_more_than_twenty_root_fields_is_refused_before_anything_runs() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let twenty = format!("{{ {} }}", "__typename ".repeat(20));
    assert_eq!(app.as_user(&user, &twenty, json!({})).await, json!({ "data": { "__typename": "Query" } }));

    let creates: String =
        (0..21).map(|i| format!("t{i}: createTodo(input: {{ title: \"t{i}\" }}) {{ id }} ")).collect();
    // Written plainly, and wrapped in fragments, which must not hide them.
    let inline = format!("mutation {{ ... on Mutation {{ {creates} }} }}");
    let spread = format!("mutation {{ ...M }} fragment M on Mutation {{ {creates} }}");
    for document in [format!("mutation {{ {creates} }}"), inline, spread] {
        let (status, body) = app.post(Some(&user.token), &document, json!({})).await;
        assert_eq!((status, error_code(&body)), (200, "QUERY_TOO_COMPLEX"), "{document}: {body}");
        assert!(body.get("data").is_none(), "{body}");
    }
    let body = app.as_user(&user, "{ todos { totalCount } }", json!({})).await;
    assert_eq!(body["data"]["todos"]["totalCount"], 0, "a refused mutation ran: {body}");
}

#[tokio::test]
async fn a_document_with_more_than_thirty_aliases_is_refused() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let aliased = |n: usize| format!("{{ me {{ {} }} }}", (0..n).map(|i| format!("a{i}: id ")).collect::<String>());
    let body = app.as_user(&user, &aliased(30), json!({})).await;
    assert_eq!(body["data"]["me"]["a29"], user.id.as_str(), "{body}");
    let body = app.as_user(&user, &aliased(31), json!({})).await;
    assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX", "{body}");
    assert!(body.get("data").is_none(), "{body}");
}

#[tokio::test]
async fn more_than_four_directives_on_a_field_are_refused() {
    let app = TestApp::spawn().await;
    let directives = |n: usize| format!("{{ __typename {} }}", "@include(if: true) ".repeat(n));
    assert_eq!(app.anonymous(&directives(4), json!({})).await, json!({ "data": { "__typename": "Query" } }));
    let body = app.anonymous(&directives(5), json!({})).await;
    assert_eq!(error_code(&body), "TOO_MANY_DIRECTIVES", "{body}");
    assert!(body.get("data").is_none(), "{body}");
}

#[tokio::test]
async fn fragments_spreading_each_other_over_and_over_are_refused_without_expanding_them() {
    // Its own process: were the document expanded, a worker would spin for ever, and only a
    // process can be stopped from outside.
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path(), &fresh_database(dir.path()).await, &[]);
    server.ready().await;
    // About 1 KB that inlines to 10^12 fields: walked spread by spread, it never ends.
    let levels = 12;
    let mut bomb = String::from("{ ...F0 }\n");
    for i in 0..levels {
        bomb.push_str(&format!("fragment F{i} on Query {{ {} }}\n", format!("...F{} ", i + 1).repeat(10)));
    }
    bomb.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
    let (status, body) = server.graphql(None, &bomb, json!({})).await;
    assert_eq!((status, error_code(&body)), (200, "QUERY_TOO_COMPLEX"), "{body}");
    assert!(body.get("data").is_none(), "{body}");
    // A cycle is refused too, not followed for ever.
    let cycle = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
    let (_, body) = server.graphql(None, cycle, json!({})).await;
    assert!(["QUERY_TOO_DEEP", "GRAPHQL_VALIDATION_FAILED"].contains(&error_code(&body)), "{body}");
    assert!(body.get("data").is_none(), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn query_text_over_32_kib_is_refused_with_413() {
    let app = TestApp::spawn().await;
    let padded = |bytes: usize| {
        let query = "{ __typename }\n#";
        format!("{query}{}", "x".repeat(bytes - query.len()))
    };
    let (status, body) = app.post(None, &padded(32 * 1024), json!({})).await;
    assert_eq!((status, &body), (200, &json!({ "data": { "__typename": "Query" } })));
    let (status, body) = app.post(None, &padded(32 * 1024 + 1), json!({})).await;
    assert_eq!(status, 413, "{body}");
    assert!(body["errors"][0]["extensions"]["code"].is_string(), "{body}");
    assert!(body.get("data").is_none(), "{body}");
}

#[tokio::test]
async fn a_batch_of_requests_in_a_json_array_is_refused_with_400() {
    let app = TestApp::spawn().await;
    let batch = json!([{ "query": "{ __typename }" }, { "query": "{ __typename }" }]).to_string();
    let (status, body) = post_json(&app, batch).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["errors"][0]["extensions"]["code"].is_string(), "{body}");
    assert!(body.get("data").is_none(), "{body}");
}

#[tokio::test]
async fn a_body_over_max_body_bytes_is_refused_with_413() {
    let app = TestApp::spawn().await;
    assert_eq!(app.config.max_body_bytes, 1024 * 1024);
    // The padding rides in the variables: the query text itself stays small.
    let sized = |bytes: usize| {
        let body = json!({ "query": "{ __typename }", "variables": { "pad": "" } }).to_string();
        json!({ "query": "{ __typename }", "variables": { "pad": "x".repeat(bytes - body.len()) } }).to_string()
    };
    let (status, _) = post_json(&app, sized(1024 * 1024)).await;
    assert_eq!(status, 200);
    let (status, _) = post_json(&app, sized(1024 * 1024 + 1)).await;
    assert_eq!(status, 413);

    let small = TestApp::spawn_with(|c| c.max_body_bytes = 4096).await;
    assert_eq!(post_json(&small, sized(4096)).await.0, 200);
    assert_eq!(post_json(&small, sized(4097)).await.0, 413);
}

#[tokio::test]
async fn introspection_and_field_suggestions_are_on_by_default() {
    let app = TestApp::spawn().await;
    assert!(app.config.graphql_introspection);
    let body = app.anonymous("{ __schema { queryType { name } } }", json!({})).await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query", "{body}");
    let body = app.anonymous("{ todoz { totalCount } }", json!({})).await;
    assert!(body["errors"][0]["message"].as_str().unwrap_or("").contains("Did you mean"), "{body}");
}

#[tokio::test]
async fn with_introspection_off_the_schema_is_refused_and_errors_suggest_no_names() {
    let app = TestApp::spawn_with(|c| c.graphql_introspection = false).await;
    for document in [
        "{ __schema { queryType { name } } }",
        "{ __type(name: \"Todo\") { fields { name } } }",
        "{ ...F } fragment F on Query { __schema { types { name } } }",
    ] {
        let (status, body) = app.post(None, document, json!({})).await;
        assert_eq!((status, error_code(&body)), (200, "GRAPHQL_VALIDATION_FAILED"), "{document}: {body}");
        assert!(body.get("data").is_none(), "{document}: {body}");
    }
    let body = app.anonymous("{ __typename }", json!({})).await;
    assert_eq!(body, json!({ "data": { "__typename": "Query" } }));
    for typo in ["{ todoz { totalCount } }", "{ todos(frist: 1) { totalCount } }", "{ me { emial } }"] {
        let body = app.anonymous(typo, json!({})).await;
        assert!(body["errors"].is_array(), "{body}");
        assert!(!body.to_string().contains("Did you mean"), "{typo}: {body}");
    }
}

// --- Transport limits ---------------------------------------------------------------------------

#[tokio::test]
async fn a_request_running_past_request_timeout_is_stopped_with_timeout() {
    use sea_orm::{ConnectionTrait, TransactionTrait};

    let app = TestApp::spawn_with(|c| c.request_timeout = 1).await;
    // Signed up through a second instance on the same database, whose time limit is the
    // default: a sign-up slowed by a busy machine must not trip the one-second limit.
    let url = app.config.database.database_url.clone();
    let user = TestApp::spawn_with(|c| c.database.database_url = url).await.sign_up().await;
    // Hold the todos table from another connection so that a write waits behind it.
    let db = sea_orm::Database::connect(&app.config.database.database_url).await.expect("connect");
    let lock = db.begin().await.expect("begin");
    let sql = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => "LOCK TABLE todos IN EXCLUSIVE MODE",
        _ => "INSERT INTO rate_limits (key, window_start, failures) VALUES ('security-test-lock', 0, 0)",
    };
    lock.execute_unprepared(sql).await.expect("take the lock");

    let create = "mutation { createTodo(input: { title: \"stuck\" }) { id } }";
    let (status, body) = within(HANG, app.post(Some(&user.token), create, json!({}))).await;
    assert_eq!((status, error_code(&body)), (503, "TIMEOUT"), "{body}");

    lock.rollback().await.expect("release the lock");
    db.close().await.ok();
    let body = app.as_user(&user, "mutation { createTodo(input: { title: \"free\" }) { title } }", json!({})).await;
    assert_eq!(body["data"]["createTodo"]["title"], "free", "{body}");
}

#[tokio::test]
async fn a_websocket_message_over_64_kib_closes_the_socket_unread() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    // A one-shot query padded through its variables to `bytes` of JSON.
    let subscribe = |bytes: usize| {
        let message = |pad: String| json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ __typename }", "variables": { "pad": pad } } });
        let empty = message(String::new()).to_string().len();
        Message::text(message("x".repeat(bytes - empty)).to_string())
    };
    for (bytes, answered) in [(60 * 1024, true), (64 * 1024 + 1, false)] {
        let mut request = format!("ws://{}/graphql/ws", app.addr).into_client_request().expect("request");
        request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
        let (mut socket, _) = within(HANG, tokio_tungstenite::connect_async(request)).await.expect("connect");
        let init =
            json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", user.token) } });
        socket.send(Message::text(init.to_string())).await.expect("send init");
        let ack = within(HANG, socket.next()).await.expect("an answer").expect("a message");
        assert!(ack.to_text().unwrap_or("").contains("connection_ack"), "{ack:?}");
        // The server may close while the frame is still being written: that is the point.
        let _ = socket.send(subscribe(bytes)).await;
        let mut next = None;
        while let Some(Ok(message)) = within(HANG, socket.next()).await {
            if let Message::Text(text) = message {
                next = Some(text.to_string());
                break;
            }
        }
        assert_eq!(next.is_some(), answered, "{bytes} bytes: {next:?}");
    }
}

#[tokio::test]
async fn with_no_allowed_origins_no_origin_gets_cors_headers() {
    let app = TestApp::spawn().await;
    assert!(app.config.cors_allowed_origins.is_empty());
    assert_eq!(preflight(&app, "https://evil.example").await, None);
    assert_eq!(cross_origin_post(&app, "https://evil.example").await, None);
}

#[tokio::test]
async fn an_allowed_origin_gets_cors_headers_and_others_do_not() {
    let app = TestApp::spawn_with(|c| c.cors_allowed_origins = vec!["https://app.example".into()]).await;
    let allowed = Some("https://app.example".to_owned());
    assert_eq!(preflight(&app, "https://app.example").await, allowed);
    assert_eq!(cross_origin_post(&app, "https://app.example").await, allowed);
    assert_eq!(preflight(&app, "https://evil.example").await, None);
    assert_eq!(cross_origin_post(&app, "https://evil.example").await, None);
    // No wildcard, and no prefix or suffix match.
    assert_eq!(preflight(&app, "https://app.example.evil.example").await, None);
    assert_eq!(preflight(&app, "null").await, None);
}

// --- Secrets stay secret -------------------------------------------------------------------------

#[tokio::test]
async fn a_whole_session_logged_at_debug_shows_no_password_token_or_secret() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = format!("{}-{}", unique("log-secret"), "s".repeat(32));
    let server = Server::start_with(
        dir.path(),
        &fresh_database(dir.path()).await,
        &[("RUST_LOG", "debug"), ("JWT_SECRET", secret.as_str())],
    );
    server.ready().await;
    let password = format!("pw-{}", unique("right"));
    let wrong = format!("pw-{}", unique("wrong"));
    let short = "Zq7!x9#".to_owned();
    let mut secrets = vec![secret.clone(), SECRET.to_owned(), password.clone(), wrong.clone(), short.clone()];

    let (access, email) = server.sign_up(&password).await;
    secrets.push(access.clone());
    let sign_up = "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }";
    let input = json!({ "input": { "email": stranger(), "password": short, "name": "Short" } });
    assert_eq!(outcome_of(&server.graphql(None, sign_up, input).await.1), "BAD_USER_INPUT");
    let credentials = |password: &str| json!({ "input": { "email": email, "password": password } });
    assert_eq!(outcome_of(&server.graphql(None, SIGN_IN, credentials(&wrong)).await.1), "INVALID_CREDENTIALS");
    let (_, body) = server.graphql(None, SIGN_IN, credentials(&password)).await;
    let (access, refresh) = tokens(&body["data"]["signIn"]);
    secrets.extend([access.clone(), refresh.clone()]);
    assert!(server.graphql(Some(&access), "{ me { id } }", json!({})).await.1["data"]["me"]["id"].is_string());

    let refresh_session = "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }";
    let (_, body) = server.graphql(None, refresh_session, json!({ "t": refresh })).await;
    let (rotated_access, rotated_refresh) = tokens(&body["data"]["refreshSession"]);
    secrets.extend([rotated_access.clone(), rotated_refresh.clone()]);
    // Replaying the rotated token revokes the family: a warning is logged, without the token.
    let (_, body) = server.graphql(None, refresh_session, json!({ "t": refresh })).await;
    assert_eq!(outcome_of(&body), "INVALID_REFRESH_TOKEN");

    let tampered = format!("{}x", &rotated_access[..rotated_access.len() - 1]);
    let expired = sign(&json!({ "sub": "someone", "email": email, "iat": now() - 7200, "exp": now() - 3600 }), &secret);
    let forged = sign(&json!({ "sub": "someone", "email": email, "iat": now(), "exp": now() + 3600 }), SECRET);
    for token in [&tampered, &expired, &forged] {
        let (status, _) = server.graphql(Some(token), "{ me { id } }", json!({})).await;
        assert_eq!(status, 401);
        secrets.push(token.clone());
    }
    let sign_out = "mutation($t: String!) { signOut(refreshToken: $t) }";
    assert_eq!(server.graphql(None, sign_out, json!({ "t": rotated_refresh })).await.1["data"]["signOut"], true);

    let log = server.stop().await;
    // The log is there and detailed: the rejected tokens and the replay were noted.
    assert!(log.contains("DEBUG"), "no debug lines were captured:\n{log}");
    assert!(log.contains("rejected a bearer token"), "{log}");
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "the log shows {secret:?}:\n{log}");
        // Nor any part of a token long enough to matter, such as its signature.
        for part in secret.split('.').filter(|part| part.len() >= 16) {
            assert!(!log.contains(part), "the log shows {part:?} of {secret:?}:\n{log}");
        }
    }
}

// --- Helpers ------------------------------------------------------------------------------------

/// An email no account has.
fn stranger() -> String {
    format!("{}@example.com", unique("stranger"))
}

/// Signs in from the test's own address.
async fn sign_in(app: &TestApp, email: &str, password: &str) -> Value {
    sign_in_as(app, email, password, &[]).await
}

/// Signs in with a wrong password, through a proxy that forwarded for `forwarded_for` (one
/// `X-Forwarded-For` line each).
async fn sign_in_from(app: &TestApp, email: &str, forwarded_for: &[&str]) -> Value {
    sign_in_as(app, email, WRONG, forwarded_for).await
}

async fn sign_in_as(app: &TestApp, email: &str, password: &str, forwarded_for: &[&str]) -> Value {
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
fn outcome(body: &Value) -> &str {
    if body["data"]["signIn"]["accessToken"].is_string() { "OK" } else { error_code(body) }
}

/// The error code of a body, or `OK` when it has none.
fn outcome_of(body: &Value) -> &str {
    if body.get("errors").is_none() { "OK" } else { error_code(body) }
}

/// `extensions.retryAfter`, which must be a whole number of seconds above zero.
fn retry_after(body: &Value) -> u64 {
    let seconds = body["errors"][0]["extensions"]["retryAfter"].as_u64();
    seconds.filter(|s| *s > 0).unwrap_or_else(|| panic!("no positive integer retryAfter: {body}"))
}

/// The access and refresh tokens of an `AuthPayload`.
fn tokens(payload: &Value) -> (String, String) {
    let token = |key: &str| payload[key].as_str().unwrap_or_else(|| panic!("no {key} in {payload}")).to_owned();
    (token("accessToken"), token("refreshToken"))
}

/// POSTs a raw JSON body; returns the status and the body (`null` when it is not JSON).
async fn post_json(app: &TestApp, body: String) -> (u16, Value) {
    let request = app.client.post(app.url("/graphql")).header("content-type", "application/json").body(body);
    let response = within(HANG, request.send()).await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The `Access-Control-Allow-Origin` a CORS preflight from `origin` gets.
async fn preflight(app: &TestApp, origin: &str) -> Option<String> {
    let request = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/graphql"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type");
    allow_origin(&request.send().await.expect("preflight"))
}

/// The `Access-Control-Allow-Origin` a POST from `origin` gets.
async fn cross_origin_post(app: &TestApp, origin: &str) -> Option<String> {
    let request =
        app.client.post(app.url("/graphql")).header("origin", origin).json(&json!({ "query": "{ __typename }" }));
    allow_origin(&request.send().await.expect("request"))
}

fn allow_origin(response: &reqwest::Response) -> Option<String> {
    let value = response.headers().get("access-control-allow-origin")?;
    Some(value.to_str().expect("ASCII header").to_owned())
}

/// Awaits `future`, failing the test if it takes longer than `limit`.
async fn within<T>(limit: Duration, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(limit, future).await.unwrap_or_else(|_| panic!("no answer within {limit:?}"))
}

/// `todoql serve` as a child process on a free port, its output captured in a file.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: std::path::PathBuf,
    client: reqwest::Client,
}

impl Server {
    /// Starts the binary with the test secret and `env`.
    fn start(dir: &Path, database_url: &str, env: &[(&str, &str)]) -> Self {
        let mut all = vec![("JWT_SECRET", SECRET)];
        all.extend_from_slice(env);
        Self::start_with(dir, database_url, &all)
    }

    /// Starts the binary with exactly `env` (and its address and database).
    fn start_with(dir: &Path, database_url: &str, env: &[(&str, &str)]) -> Self {
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

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Waits (bounded) until `/healthz` answers.
    async fn ready(&self) {
        let deadline = Instant::now() + HANG;
        while !matches!(self.client.get(self.url("/healthz")).send().await, Ok(r) if r.status() == 200) {
            assert!(Instant::now() < deadline, "todoql never became ready:\n{}", self.output());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
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
    async fn sign_up(&self, password: &str) -> (String, String) {
        let email = stranger();
        let query = "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }";
        let (_, body) =
            self.graphql(None, query, json!({ "input": { "email": email, "password": password, "name": "N" } })).await;
        let token = body["data"]["signUp"]["accessToken"].as_str().unwrap_or_else(|| panic!("sign up: {body}"));
        (token.to_owned(), email)
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the process with SIGTERM, waits (bounded) for it, and returns all it wrote.
    async fn stop(mut self) -> String {
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

#[tokio::test]
async fn expired_rate_limit_counters_are_swept_away() {
    let app = TestApp::spawn_with(|c| c.sign_in_window = 1).await;
    let wrong =
        "mutation { signIn(input: { email: \"sweep@example.com\", password: \"wrong password\" }) { accessToken } }";
    assert_eq!(error_code(&app.anonymous(wrong, json!({})).await), "INVALID_CREDENTIALS");
    let db = sea_orm::Database::connect(&app.config.database.database_url).await.unwrap();
    assert_eq!(todoql::auth::throttle::sweep(&db, &app.config).await.unwrap(), 0, "a live window stays");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(todoql::auth::throttle::sweep(&db, &app.config).await.unwrap() >= 1, "a passed window is swept");
}
