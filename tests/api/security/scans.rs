//! No request holds a runtime thread, a connection or the database for long (issue 13): a
//! search is as long as a title at most, one account keeps a bounded number of todos, and
//! statements are bounded in time.

use super::support::*;

const CREATE: &str = "mutation($t: String!) { createTodo(input: { title: $t }) { id } }";

#[tokio::test]
async fn a_search_longer_than_a_title_is_refused_as_bad_input_wherever_todos_are_listed() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    app.create_todo(&user, &"a".repeat(200)).await;
    for query in [
        "query($s: String) { todos(filter: { search: $s }) { totalCount } }",
        "query($s: String) { me { todos(filter: { search: $s }) { totalCount } } }",
    ] {
        let body = app.as_user(&user, query, json!({ "s": "a".repeat(200) })).await;
        assert!(body["errors"].is_null(), "{body}");
        let body = app.as_user(&user, query, json!({ "s": "é".repeat(201) })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "search", "{body}");
    }
}

#[tokio::test]
async fn an_account_at_its_todo_limit_cannot_create_more_until_it_deletes_one() {
    let app = TestApp::spawn_with(|c| c.max_todos_per_user = 3).await;
    let (user, other) = (app.sign_up().await, app.sign_up().await);
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(app.create_todo(&user, &format!("todo {i}")).await);
    }
    let body = app.as_user(&user, CREATE, json!({ "t": "one too many" })).await;
    assert_eq!(error_code(&body), "TODO_LIMIT_REACHED", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["limit"], 3, "{body}");
    let count = app.as_user(&user, "{ todos { totalCount } }", json!({})).await;
    assert_eq!(count["data"]["todos"]["totalCount"], 3, "{count}");
    // Someone else's limit is their own.
    app.create_todo(&other, "fine").await;
    // Deleting one makes room for exactly one.
    let delete = "mutation($id: ID!) { deleteTodo(id: $id) }";
    app.as_user(&user, delete, json!({ "id": ids[0] })).await;
    app.create_todo(&user, "room again").await;
    let body = app.as_user(&user, CREATE, json!({ "t": "full again" })).await;
    assert_eq!(error_code(&body), "TODO_LIMIT_REACHED", "{body}");
}

/// The limit is exact under concurrent creates on both databases: SQLite commits one write at
/// a time, and on PostgreSQL the insert locks its owner's row (`users.todo_count`, `FOR
/// UPDATE`) until it commits, so a racing insert waits and then sees the count it left.
#[tokio::test]
async fn concurrent_creates_at_the_limit_never_overshoot_it() {
    let app = TestApp::spawn_with(|c| {
        c.max_todos_per_user = 5;
        c.user_max_in_flight = 64;
    })
    .await;
    let user = app.sign_up().await;
    let creates = (0..20).map(|i| app.as_user(&user, CREATE, json!({ "t": format!("racing {i}") })));
    let bodies = futures::future::join_all(creates).await;
    let created = bodies.iter().filter(|b| b["errors"].is_null()).count();
    let refused = bodies.iter().filter(|b| b["errors"][0]["extensions"]["code"] == "TODO_LIMIT_REACHED").count();
    assert_eq!(created + refused, 20, "{bodies:?}");
    let count = app.as_user(&user, "{ todos { totalCount } }", json!({})).await;
    let total = count["data"]["todos"]["totalCount"].as_u64().expect("a count");
    assert_eq!((total, created), (5, 5), "{bodies:?}");
}

/// The count the limit is checked against (`users.todo_count`) is kept by the database, so
/// rows written around todoql (a bulk insert, a bulk delete) count as todoql's own do.
#[tokio::test]
async fn the_limit_counts_todos_written_and_deleted_around_todoql() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn_with(|c| c.max_todos_per_user = 50).await;
    let (user, other) = (app.sign_up().await, app.sign_up().await);
    app.seed_long_todos(&user.id, 49).await;
    app.seed_long_todos(&other.id, 3).await;
    app.create_todo(&user, "the fiftieth").await;
    let body = app.as_user(&user, CREATE, json!({ "t": "one too many" })).await;
    assert_eq!(error_code(&body), "TODO_LIMIT_REACHED", "{body}");
    let db = sea_orm::Database::connect(&app.config.database.database_url).await.expect("connect");
    let sql = format!("DELETE FROM todos WHERE owner_id = '{}' AND title IN ('t1', 't2', 't3', 't4')", user.id);
    db.execute_unprepared(&sql).await.expect("a bulk delete");
    db.close().await.ok();
    for i in 0..4 {
        app.create_todo(&user, &format!("room again {i}")).await;
    }
    let body = app.as_user(&user, CREATE, json!({ "t": "full again" })).await;
    assert_eq!(error_code(&body), "TODO_LIMIT_REACHED", "{body}");
    let count = app.as_user(&user, "{ todos { totalCount } }", json!({})).await;
    assert_eq!(count["data"]["todos"]["totalCount"], 50, "{count}");
    // The other account was counted apart.
    app.create_todo(&other, "fine").await;
}

/// The migration that adds `users.todo_count` counts the todos already there, and undoes
/// itself cleanly.
#[tokio::test]
async fn the_count_migration_counts_the_todos_already_there() {
    use migrations::{Migrator, MigratorTrait};
    use sea_orm::ConnectionTrait;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sea_orm::Database::connect(fresh_database(dir.path()).await).await.expect("connect");
    let counts = async || {
        let sql = "SELECT id, todo_count FROM users ORDER BY id";
        let rows =
            db.query_all_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.expect("counts");
        rows.iter()
            .map(|row| (row.try_get::<String>("", "id").unwrap(), row.try_get::<i64>("", "todo_count").unwrap()))
            .collect::<Vec<_>>()
    };
    Migrator::up(&db, Some(7)).await.expect("the migrations before it");
    db.execute_unprepared(
        "INSERT INTO users (id, email, name, password_hash, created_at) VALUES ('u1', 'a@x.y', 'A', NULL, 0), ('u2', 'b@x.y', 'B', NULL, 0)",
    )
    .await
    .expect("users");
    for n in 0..3 {
        db.execute_unprepared(&format!(
            "INSERT INTO todos (id, owner_id, title, completed, created_at, updated_at, title_folded) VALUES ('t{n}', 'u1', 't', false, {n}, {n}, 't')"
        ))
        .await
        .expect("a todo");
    }
    Migrator::up(&db, None).await.expect("the count migration");
    assert_eq!(counts().await, [("u1".to_owned(), 3), ("u2".to_owned(), 0)]);
    db.execute_unprepared("DELETE FROM todos WHERE id IN ('t0', 't1')").await.expect("delete");
    assert_eq!(counts().await, [("u1".to_owned(), 1), ("u2".to_owned(), 0)]);
    Migrator::down(&db, Some(1)).await.expect("down");
    db.execute_unprepared("DELETE FROM todos").await.expect("delete without the triggers");
    Migrator::up(&db, None).await.expect("up again");
    assert_eq!(counts().await, [("u1".to_owned(), 0), ("u2".to_owned(), 0)]);
    db.close().await.ok();
}

/// A search as slow as a search can be on this database: 200 characters that match all but
/// their last (SQLite's `instr` compares from the start) or first (PostgreSQL's `strpos`
/// compares from the end) against a description of zeros.
pub(super) fn worst_search(app: &TestApp) -> String {
    if app.config.database.database_url.starts_with("postgres") {
        format!("1{}", "0".repeat(199))
    } else {
        format!("{}1", "0".repeat(199))
    }
}

#[tokio::test]
async fn a_statement_running_past_statement_timeout_is_stopped_with_a_coded_error_not_a_500() {
    // Every statement on the pool, and a limit well under what the search takes — on a server
    // of its own beside the one that signs up and seeds, whose statements a busy machine could
    // also push past 50 ms.
    let app = TestApp::spawn_with(|c| c.sqlite_inline_steps = 0).await;
    let user = app.sign_up().await;
    app.seed_long_todos(&user.id, 10_000).await;
    let tight = app.beside(|c| c.statement_timeout = 0.05).await;
    let search = "query($s: String) { todos(filter: { search: $s }) { totalCount nodes { id } } }";
    let (status, body) = within(HANG, tight.post(Some(&user.token), search, json!({ "s": worst_search(&app) }))).await;
    assert_eq!((status, error_code(&body)), (200, "TIMEOUT"), "{body}");
    assert!(!body.to_string().contains("interrupt") && !body.to_string().contains("cancel"), "{body}");
    // The connection it ran on is fit, and everything else still answers (reads of a row or
    // two; one descheduled past 50 ms on a busy machine is stopped too, and asked again).
    for _ in 0..10 {
        let deadline = std::time::Instant::now() + HANG;
        let body = loop {
            let body = tight.as_user(&user, "{ me { id } todos(first: 1) { nodes { id } } }", json!({})).await;
            if body.get("errors").is_none() || error_code(&body) != "TIMEOUT" {
                break body;
            }
            assert!(std::time::Instant::now() < deadline, "every read timed out: {body}");
        };
        assert_eq!(body["data"]["me"]["id"], json!(user.id), "{body}");
        assert_eq!(body["data"]["todos"]["nodes"].as_array().map(Vec::len), Some(1), "{body}");
    }
}

#[tokio::test]
async fn the_worst_search_of_the_largest_account_finishes_within_the_default_limits() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    app.seed_long_todos(&user.id, 10_000).await;
    let search = "query($s: String) { todos(first: 100, filter: { search: $s }) { totalCount nodes { id } } }";
    let body = within(HANG, app.as_user(&user, search, json!({ "s": worst_search(&app) }))).await;
    assert_eq!(body["data"]["todos"]["totalCount"], 0, "{body}");
}
