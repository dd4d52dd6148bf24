//! Fairness between users (issue 13): each user's requests in flight are bounded and queue
//! behind each other, and each user draws from a cost budget that every response reports.

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::support::*;

const READ: &str = "{ todos(first: 20) { nodes { id title completed } } }";

fn cost(body: &Value) -> &Value {
    &body["extensions"]["cost"]
}

#[tokio::test]
async fn each_operation_draws_its_cost_from_the_users_budget_and_reports_what_is_left() {
    let app = TestApp::spawn_with(|c| {
        c.cost_budget = 300;
        c.cost_restore_rate = 1;
    })
    .await;
    let (user, other) = (app.sign_up().await, app.sign_up().await);
    let first = app.as_user(&user, READ, json!({})).await;
    let requested = cost(&first)["requested"].as_u64().expect("a cost");
    assert!(requested > 20, "a page of 20 costs its items: {first}");
    assert_eq!((cost(&first)["limit"].as_u64(), cost(&first)["restoreRate"].as_u64()), (Some(300), Some(1)), "{first}");
    let mut remaining = cost(&first)["remaining"].as_u64().expect("what is left");
    assert!(remaining <= 300 - requested, "{first}");
    // Spend the rest: every answer says what is left, until one cannot be paid for.
    let refused = loop {
        let body = app.as_user(&user, READ, json!({})).await;
        if body["errors"].is_array() {
            break body;
        }
        let left = cost(&body)["remaining"].as_u64().expect("what is left");
        assert!(left < remaining, "{body}");
        remaining = left;
    };
    assert_eq!(error_code(&refused), "RATE_LIMITED", "{refused}");
    assert!(refused["data"].is_null(), "nothing ran: {refused}");
    assert!(retry_after(&refused) >= (requested - remaining).saturating_sub(1), "{refused}");
    // Someone else's budget is their own; anonymous sign-in mutations have none.
    let body = app.as_user(&other, READ, json!({})).await;
    assert!(body["errors"].is_null() && cost(&body)["remaining"].as_u64() < Some(300), "{body}");
    let (_, anonymous) = app.post(None, "{ __typename }", json!({})).await;
    assert!(anonymous.get("extensions").is_none(), "{anonymous}");
    // The same budget over WebSocket.
    let message = websocket_operation(&app, &user, READ).await;
    assert_eq!(message["payload"]["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{message}");
}

/// A search reads every one of the owner's todos where a page reads a few: it costs what it
/// scans, not what it returns, so twenty aliased searches of one row each are no longer cheap.
#[tokio::test]
async fn a_search_costs_its_scan_not_its_page() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let requested = |body: &Value| cost(body)["requested"].as_u64().unwrap_or_else(|| panic!("a cost: {body}"));
    let plain = app.as_user(&user, "{ todos(first: 1) { totalCount } }", json!({})).await;
    let search = "query($s: String) { todos(first: 1, filter: { search: $s }) { totalCount } }";
    let searched = app.as_user(&user, search, json!({ "s": "x" })).await;
    assert_eq!(requested(&searched), requested(&plain) + 500, "{searched}");
    // An empty search matches everything without a scan.
    let empty = app.as_user(&user, search, json!({ "s": "" })).await;
    assert_eq!(requested(&empty), requested(&plain), "{empty}");
    // Over User.todos too.
    let nested = "query($s: String) { me { todos(first: 1, filter: { search: $s }) { totalCount } } }";
    let body = app.as_user(&user, nested, json!({ "s": "x" })).await;
    assert!(requested(&body) > 500, "{body}");
    // Nine fit one operation's complexity (5,000); ten do not, and nothing runs.
    let aliased = |n: usize| {
        let fields: String =
            (0..n).map(|i| format!(" s{i}: todos(first: 0, filter: {{ search: $s }}) {{ totalCount }}")).collect();
        format!("query($s: String) {{{fields} }}")
    };
    let body = app.as_user(&user, &aliased(9), json!({ "s": "x" })).await;
    assert!(body["errors"].is_null(), "{body}");
    let body = app.as_user(&user, &aliased(10), json!({ "s": "x" })).await;
    assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX", "{body}");
    assert!(body.get("data").is_none(), "{body}");
}

/// Issue 13, attack (a'): twenty aliased searches per request, refused as too complex 4,000
/// times a second, cost the server a validation each and the attacker nothing. An operation
/// refused as too complex is charged the most an admitted one may cost, an invalid one 50
/// (in full: past what is left, into a debt), and once a budget has not one unit left, the
/// user's next request is refused before it is parsed — over HTTP (POST and GET) and
/// WebSocket — while others are served.
#[tokio::test]
async fn operations_refused_by_validation_draw_on_the_budget_and_an_empty_one_refuses_before_parsing() {
    let app = TestApp::spawn_with(|c| {
        c.cost_budget = 12_000;
        c.cost_restore_rate = 1;
    })
    .await;
    let (user, other) = (app.sign_up().await, app.sign_up().await);
    let wide: String =
        (0..20).map(|i| format!(" s{i}: todos(first: 0, filter: {{ search: $s }}) {{ totalCount }}")).collect();
    let wide = format!("query($s: String) {{{wide} }}");
    // 5,000 + 5,000 + 5,000: 3,000 into debt.
    for _ in 0..3 {
        let body = app.as_user(&user, &wide, json!({ "s": "x" })).await;
        assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX", "{body}");
    }
    // Invalid documents draw on it too, a little each: 240 of them spend another user's.
    for _ in 0..240 {
        let body = app.as_user(&other, "{ noSuchField }", json!({})).await;
        assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    }
    let body = app.as_user(&other, READ, json!({})).await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
    // Nothing is left: refused before parsing — a document that does not parse says so — and
    // before anything is read for the caller (the user check included).
    let before = app.statements().await;
    for query in [READ, "{ todos(first: 1) {", "{ __typename }"] {
        let body = app.as_user(&user, query, json!({})).await;
        assert_eq!(error_code(&body), "RATE_LIMITED", "{query}: {body}");
        assert!(retry_after(&body) >= 1, "{body}");
    }
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", READ)])
        .bearer_auth(&user.token)
        .send()
        .await
        .expect("GET");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(error_code(&body), "RATE_LIMITED", "over GET: {body}");
    assert_eq!(app.statements().await, before, "no statement for a caller with nothing left");
    let message = websocket_operation(&app, &user, "{ todos(first: 1) {").await;
    assert_eq!(message["payload"]["errors"][0]["extensions"]["code"], "RATE_LIMITED", "over WebSocket: {message}");
    // Someone who sent nothing refused is served.
    let bystander = app.sign_up().await;
    let body = app.as_user(&bystander, READ, json!({})).await;
    assert!(body["errors"].is_null(), "{body}");

    // With a refill of 1,000 a second, one unit comes back every millisecond: charged only what
    // was left, a refused operation would be validated again on nearly every request. Charged
    // in full, the debt keeps the budget empty for seconds, and nearly all are refused early.
    let fast = TestApp::spawn_with(|c| {
        c.cost_budget = 10_000;
        c.cost_restore_rate = 1_000;
    })
    .await;
    let attacker = fast.sign_up().await;
    let mut validated = 0;
    for _ in 0..40 {
        let body = fast.as_user(&attacker, &wide, json!({ "s": "x" })).await;
        match error_code(&body) {
            "QUERY_TOO_COMPLEX" => validated += 1,
            code => assert_eq!(code, "RATE_LIMITED", "{body}"),
        }
    }
    assert!(validated <= 6, "{validated} of 40 validated");
}

#[tokio::test]
async fn with_no_budget_responses_carry_no_cost() {
    let app = TestApp::spawn_with(|c| c.cost_budget = 0).await;
    let user = app.sign_up().await;
    let body = app.as_user(&user, READ, json!({})).await;
    assert!(body.get("extensions").is_none(), "{body}");
}

#[tokio::test]
async fn a_users_requests_past_their_in_flight_slots_wait_behind_each_other_not_in_front_of_others() {
    use sea_orm::{ConnectionTrait, TransactionTrait};

    let app = TestApp::spawn_with(|c| c.user_max_in_flight = 1).await;
    let (user, bystander) = (app.sign_up().await, app.sign_up().await);
    // Hold the todos table, so that the user's write waits holding their only slot.
    let db = sea_orm::Database::connect(&app.config.database.database_url).await.expect("connect");
    let lock = db.begin().await.expect("begin");
    let sql = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => "LOCK TABLE todos IN EXCLUSIVE MODE",
        _ => "INSERT INTO rate_limits (key, window_start, failures) VALUES ('fairness-test-lock', 0, 0)",
    };
    lock.execute_unprepared(sql).await.expect("take the lock");
    let write = tokio::spawn({
        let (client, url, token) = (app.client.clone(), app.url("/graphql"), user.token.clone());
        async move {
            let query = json!({ "query": "mutation { createTodo(input: { title: \"slow\" }) { id } }" });
            client.post(url).bearer_auth(token).json(&query).send().await.expect("write").status()
        }
    });
    // The write holds the slot once the user's read queues behind it: wait until it does.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let read = tokio::spawn({
        let (client, url, token) = (app.client.clone(), app.url("/graphql"), user.token.clone());
        async move {
            let response = client.post(url).bearer_auth(token).json(&json!({ "query": "{ me { id } }" })).send();
            response.await.expect("read").json::<Value>().await.expect("JSON")
        }
    });
    // Another user is served while the first one's requests wait.
    let body = within(HANG, app.as_user(&bystander, "{ me { id } }", json!({}))).await;
    assert_eq!(body["data"]["me"]["id"], bystander.id.as_str(), "{body}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!read.is_finished(), "the user's read waits behind their write");
    // Past the waiting bound, the user is told to slow down at once.
    let flood = (0..70).map(|_| app.as_user(&user, "{ me { id } }", json!({})));
    let mut flood: futures::stream::FuturesUnordered<_> = flood.collect();
    let first_refusal = within(HANG, flood.next()).await.expect("an answer");
    assert_eq!(error_code(&first_refusal), "RATE_LIMITED", "{first_refusal}");
    lock.rollback().await.expect("release the lock");
    db.close().await.ok();
    assert_eq!(within(HANG, write).await.expect("write task"), 200);
    let body = within(HANG, read).await.expect("read task");
    assert_eq!(body["data"]["me"]["id"], user.id.as_str(), "{body}");
    while let Some(body) = within(HANG, flood.next()).await {
        assert!(body["data"]["me"]["id"] == user.id.as_str() || error_code(&body) == "RATE_LIMITED", "{body}");
    }
}

#[tokio::test]
async fn on_postgresql_instances_share_each_users_budget() {
    if !std::env::var("TODOQL_TEST_DATABASE").is_ok_and(|url| url.starts_with("postgres")) {
        return; // one SQLite database serves one instance
    }
    let budget = |c: &mut todoql::config::Config| {
        c.cost_budget = 400;
        c.cost_restore_rate = 1;
    };
    let one = TestApp::spawn_with(budget).await;
    let url = one.config.database.database_url.clone();
    let two = TestApp::spawn_with(|c| {
        budget(c);
        c.database.database_url = url;
    })
    .await;
    let user = one.sign_up().await;
    // Spend most of it on the first instance…
    let mut spent = 0;
    loop {
        let body = one.as_user(&user, READ, json!({})).await;
        spent += cost(&body)["requested"].as_u64().expect("a cost");
        if cost(&body)["remaining"].as_u64() < Some(100) {
            break;
        }
    }
    // …and the second instance learns of it within a sync or two: it refuses what the
    // first would, having let through at most what it spent before it knew.
    let mut on_two = 0;
    let refused = within(HANG, async {
        loop {
            let body = two.as_user(&user, READ, json!({})).await;
            if body["errors"].is_array() {
                break body;
            }
            on_two += cost(&body)["requested"].as_u64().expect("a cost");
            // Paced past a sync (SYNC_EVERY) in three reads: at 300 ms, four reads exhausted
            // this instance's own bucket within one second, before its first sync had a
            // chance, whenever the two instances' ticks fell badly (every run, some days).
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
    })
    .await;
    assert_eq!(error_code(&refused), "RATE_LIMITED", "{refused}");
    assert!(spent + on_two <= 400 + 2 * 100, "spent {spent} + {on_two}: the instances did not share");
}

/// Runs one operation as `user` over a fresh `graphql-transport-ws` socket; returns the
/// server's answer to it.
async fn websocket_operation(app: &TestApp, user: &crate::helpers::TestUser, query: &str) -> Value {
    let mut request = format!("ws://{}/graphql/ws", app.addr).into_client_request().expect("request");
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
    let (mut socket, _) = within(HANG, tokio_tungstenite::connect_async(request)).await.expect("connect");
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", user.token) } });
    socket.send(Message::text(init.to_string())).await.expect("send init");
    let subscribe = json!({ "type": "subscribe", "id": "1", "payload": { "query": query } });
    socket.send(Message::text(subscribe.to_string())).await.expect("send");
    while let Some(Ok(message)) = within(HANG, socket.next()).await {
        if let Message::Text(text) = message {
            let message: Value = serde_json::from_str(&text).expect("JSON");
            if message["id"] == "1" {
                return message;
            }
        }
    }
    panic!("the socket closed without an answer");
}

/// Pooled connections in use now, from `/metrics`.
async fn pool_in_use(app: &TestApp) -> i64 {
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let gauge = |name: &str| {
        let line = text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name}"));
        line.rsplit(' ').next().unwrap().parse::<i64>().unwrap()
    };
    gauge("todoql_db_pool_connections") - gauge("todoql_db_pool_idle_connections")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_users_searches_run_one_at_a_time_however_many_aliases_ask() {
    let app = TestApp::spawn_with(|c| c.cost_budget = 0).await;
    let user = app.sign_up().await;
    // Enough that a search outlasts SQLite's inline budget; on PostgreSQL (where every
    // statement is pooled) few, so that the queued scans end well within the request's time.
    let postgres = app.config.database.database_url.starts_with("postgres");
    app.seed_long_todos(&user.id, if postgres { 300 } else { 2_000 }).await;
    let baseline = pool_in_use(&app).await;
    // Two requests of five aliased worst searches each: ten scans asked for at once.
    let aliases: String = (0..5).map(|n| format!(" t{n}: todos(filter: {{ search: $s }}) {{ totalCount }}")).collect();
    let query = format!("query($s: String) {{{aliases} }}");
    let variables = json!({ "s": super::scans::worst_search(&app) });
    let attack = tokio::spawn({
        let (client, url, token, body) = (
            app.client.clone(),
            app.url("/graphql"),
            user.token.clone(),
            json!({ "query": query, "variables": variables }),
        );
        async move {
            let send = || client.post(&url).bearer_auth(&token).json(&body).send();
            let answers = futures::future::join_all((0..2).map(|_| send())).await;
            let mut bodies = Vec::new();
            for answer in answers {
                bodies.push(answer.expect("answer").json::<Value>().await.expect("JSON"));
            }
            bodies
        }
    });
    let mut most = 0;
    while !attack.is_finished() {
        most = most.max(pool_in_use(&app).await - baseline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for body in attack.await.expect("attack") {
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(body["data"]["t4"]["totalCount"], 0, "{body}");
    }
    // One scan at a time holds one pooled connection (inline attempts hold none), beside at
    // most one short statement of the requests themselves; without the bound, the whole pool.
    assert!(most <= 2, "{most} pooled connections held by one user's searches at once");
}
