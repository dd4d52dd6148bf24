//! On SQLite the hot statements (the token's user, pages of todos, todo writes) run inline on
//! rusqlite connections (src/db/inline.rs): they answer exactly as the pool does, reads see
//! every write that was acknowledged, and a statement over its step budget is rerun on the
//! pool.

use serde_json::{Value, json};

use crate::helpers::{SECRET, TestApp, TestUser, error_code, now, sign};

/// Inline statements of `kind` (read, write) from `/metrics`: (served, handed over); `None`
/// when the server runs none (PostgreSQL, or inline statements turned off).
async fn inline(app: &TestApp, kind: &str) -> Option<(u64, u64)> {
    let text = app.client.get(app.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    let count = |outcome: &str| {
        let prefix = format!("todoql_sqlite_inline_statements_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} ");
        text.lines().find_map(|line| line.strip_prefix(prefix.as_str())).map(|n| n.trim().parse().expect("a count"))
    };
    Some((count("served")?, count("handed_over")?))
}

fn on_sqlite(app: &TestApp) -> bool {
    app.config.database.database_url.starts_with("sqlite:")
}

const PAGE: &str =
    "query($first: Int, $after: String, $last: Int, $before: String, $filter: TodoFilter, $orderBy: TodoOrder) {
  todos(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
    totalCount
    nodes { title description completed }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}";

/// The same 30 todos, created one after another (every third one completed).
async fn seed(app: &TestApp) -> TestUser {
    let user = app.sign_up().await;
    for n in 0..30 {
        let title = format!("Todo {n:02} {}", if n % 2 == 0 { "Äpfel" } else { "pears" });
        let create = "mutation($input: CreateTodoInput!) { createTodo(input: $input) { id } }";
        let input = json!({ "title": title, "description": (n % 4 == 0).then(|| format!("note {n}")) });
        let body = app.as_user(&user, create, json!({ "input": input })).await;
        let id = body["data"]["createTodo"]["id"].as_str().unwrap_or_else(|| panic!("{body}")).to_owned();
        if n % 3 == 0 {
            let body =
                app.as_user(&user, "mutation($id: ID!) { toggleTodo(id: $id) { id } }", json!({ "id": id })).await;
            assert!(body["errors"].is_null(), "{body}");
        }
    }
    user
}

/// What a server answers to a walk through pages: forward by `after`, back by `before`,
/// filtered, searched and ordered. Cursors are the server's own; the answers compared leave
/// them out.
async fn walk(app: &TestApp, user: &TestUser) -> Vec<Value> {
    let mut answers = Vec::new();
    let page = |variables: Value| async move {
        let body = app.as_user(user, PAGE, variables).await;
        assert!(body["errors"].is_null(), "{body}");
        body["data"]["todos"].clone()
    };
    let variants = [
        json!({ "first": 7 }),
        json!({ "first": 7, "orderBy": { "field": "TITLE", "direction": "ASC" } }),
        json!({ "last": 5, "filter": { "completed": true } }),
        json!({ "first": 6, "orderBy": { "field": "UPDATED_AT", "direction": "DESC" } }),
        json!({ "first": 4, "filter": { "search": "äPFEL", "completed": false } }),
    ];
    for variables in variants {
        let mut variables = variables;
        for _ in 0..6 {
            let todos = page(variables.clone()).await;
            let info = todos["pageInfo"].clone();
            answers.push(json!([todos["totalCount"], todos["nodes"], info["hasNextPage"], info["hasPreviousPage"]]));
            if variables.get("last").is_some() {
                if info["hasPreviousPage"] != json!(true) {
                    break;
                }
                variables["before"] = info["startCursor"].clone();
            } else {
                if info["hasNextPage"] != json!(true) {
                    break;
                }
                variables["after"] = info["endCursor"].clone();
            }
        }
    }
    answers
}

#[tokio::test]
async fn inline_writes_and_pages_match_the_pool_and_over_budget_statements_move_to_it() {
    let (inline_app, over_budget, pooled) = tokio::join!(
        TestApp::spawn(),
        TestApp::spawn_with(|c| c.sqlite_inline_steps = 1),
        TestApp::spawn_with(|c| {
            c.sqlite_inline_steps = 0;
            c.database_direct_connections = Some(0);
        }),
    );
    let (a, b, c) = tokio::join!(seed(&inline_app), seed(&over_budget), seed(&pooled));
    let (from_inline, from_over_budget, from_pool) =
        tokio::join!(walk(&inline_app, &a), walk(&over_budget, &b), walk(&pooled, &c));
    assert!(from_pool.len() > 12, "the walk covers several pages: {from_pool:?}");
    assert_eq!(from_inline, from_pool);
    assert_eq!(from_over_budget, from_pool);

    assert_eq!(inline(&pooled, "read").await, None, "0 turns inline statements off");
    assert_eq!(inline(&pooled, "write").await, None, "0 turns inline statements off");
    if on_sqlite(&inline_app) {
        let (served, handed_over) = inline(&inline_app, "read").await.expect("inline reads on SQLite");
        // A read that a busy machine keeps off the CPU past the inline time limit moves to the
        // pool: a few may, never most.
        assert!(served > 60 && handed_over * 10 <= served, "reads: served {served}, handed over {handed_over}");
        let (served, handed_over) = inline(&inline_app, "write").await.expect("inline writes on SQLite");
        assert!(served >= 40 && handed_over == 0, "writes: served {served}, handed over {handed_over}");
        for kind in ["read", "write"] {
            let (served, handed_over) = inline(&over_budget, kind).await.expect("inline statements on SQLite");
            assert!(served == 0 && handed_over >= 40, "{kind}s: served {served}, handed over {handed_over}");
        }
    } else {
        assert_eq!(inline(&inline_app, "read").await, None, "none on PostgreSQL");
        // There, the pages and their counts run on the direct connections (src/db/direct.rs),
        // the searches on the pool.
        let (served, handed_over) = crate::postgres::direct(&inline_app).await.expect("direct reads on PostgreSQL");
        assert!(served > 40 && handed_over == 0, "direct reads: served {served}, handed over {handed_over}");
        assert_eq!(crate::postgres::direct(&pooled).await, None, "0 turns direct connections off");
    }
}

#[tokio::test]
async fn an_inline_read_sees_every_acknowledged_write_at_once() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let newest = "query { todos(first: 1) { nodes { id title completed } } }";
    for n in 0..20 {
        let id = app.create_todo(&user, &format!("written {n}")).await;
        let body = app.as_user(&user, newest, json!({})).await;
        assert_eq!(body["data"]["todos"]["nodes"][0]["id"], json!(id), "{body}");
        let toggle = "mutation($id: ID!) { toggleTodo(id: $id) { id } }";
        app.as_user(&user, toggle, json!({ "id": id })).await;
        let body = app.as_user(&user, newest, json!({})).await;
        assert_eq!(body["data"]["todos"]["nodes"][0]["completed"], json!(true), "{body}");
    }
    // The account check runs inline too: a well-signed token whose user does not exist is
    // refused, and the user's own token still works.
    let stranger = sign(&json!({ "sub": "no-such-user", "exp": now() + 600 }), SECRET);
    let body = app.post(Some(&stranger), newest, json!({})).await.1;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    assert!(body["data"].is_null() || body["data"]["todos"].is_null(), "{body}");
    if on_sqlite(&app) {
        let (served, _) = inline(&app, "read").await.expect("inline reads on SQLite");
        assert!(served >= 80, "served {served}");
    }
}

#[tokio::test]
async fn the_wal_stays_bounded_under_steady_writes_and_reads() {
    let app = TestApp::spawn().await;
    if !on_sqlite(&app) {
        return;
    }
    let url = &app.config.database.database_url;
    let path = url.trim_start_matches("sqlite://").split('?').next().expect("a path").to_owned();
    let wal = format!("{path}-wal");
    let users: Vec<TestUser> = futures::future::join_all((0..4).map(|_| app.sign_up())).await;
    let writes = users.iter().map(|user| async {
        // 25 requests of 20 creates each: 500 todos per user, about 4 pages of WAL per todo.
        for batch in 0..25 {
            let fields: String = (0..20)
                .map(|n| format!(" t{n}: createTodo(input: {{ title: \"todo {batch}.{n}\" }}) {{ id }}"))
                .collect();
            let body = app.as_user(user, &format!("mutation {{{fields} }}"), json!({})).await;
            assert!(body["errors"].is_null(), "{body}");
        }
    });
    let reads = users.iter().map(|user| async {
        for _ in 0..150 {
            let body = app.as_user(user, "{ todos(first: 20) { nodes { id } } }", json!({})).await;
            assert!(body["errors"].is_null(), "{body}");
        }
    });
    tokio::join!(futures::future::join_all(writes), futures::future::join_all(reads));
    let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
    // 2000 todos write about 60 MiB of WAL frames; a checkpoint every 400 writes keeps the
    // file to a fraction of that.
    assert!(size < 24 * 1024 * 1024, "the WAL grew to {size} bytes");
    let body = app.as_user(&users[0], "{ todos(first: 1) { totalCount } }", json!({})).await;
    assert_eq!(body["data"]["todos"]["totalCount"], json!(500), "{body}");
}
