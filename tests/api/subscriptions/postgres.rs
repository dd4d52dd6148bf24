//! Across instances on PostgreSQL: LISTEN/NOTIFY fan-out, interruptions, payloads too large for one notification.

use super::support::*;

#[tokio::test]
async fn two_instances_share_events_through_postgres() {
    let Some(admin) = postgres_admin_url() else {
        eprintln!("two_instances_share_events_through_postgres needs TODOQL_TEST_DATABASE=postgres://…; skipped");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_database(dir.path()).await;
    let a = TestApp::spawn_with(|c| c.database.database_url = url.clone()).await;
    let b = TestApp::spawn_with(|c| c.database.database_url = url.clone()).await;
    let user = a.sign_up().await;
    let other = a.sign_up().await;
    let mut on_b = connect(&b, TRANSPORT_WS).await;
    init(&mut on_b, auth(&user)).await;
    subscribe(&mut on_b, "1", EVENTS).await;
    let mut on_a = connect(&a, TRANSPORT_WS).await;
    init(&mut on_a, auth(&user)).await;
    subscribe(&mut on_a, "1", EVENTS).await;

    a.create_todo(&other, "not for this subscriber").await;
    let id = a.create_todo(&user, "written through A").await;
    succeed(b.as_user(&user, TOGGLE, json!({ "id": id })).await);
    succeed(a.as_user(&user, DELETE, json!({ "id": id })).await);
    for socket in [&mut on_b, &mut on_a] {
        let created = next_event(socket, "1").await;
        assert_eq!(created["kind"], "CREATED", "{created}");
        assert_eq!(created["todoId"], id.as_str());
        assert_eq!(created["todo"]["title"], "written through A");
        let toggled = next_event(socket, "1").await;
        assert_eq!((&toggled["kind"], &toggled["todo"]["completed"]), (&json!("UPDATED"), &json!(true)), "{toggled}");
        let deleted = next_event(socket, "1").await;
        assert_eq!(deleted, json!({ "kind": "DELETED", "todoId": id, "todo": null }));
    }

    // Both LISTEN connections die: changes committed until an instance listens again never
    // reach it, so its subscribers are told to refetch; new subscriptions work once it is back.
    let before = listener_pids(&admin, &url).await;
    terminate(&admin, &before).await;
    let message = read_text(&mut on_b).await;
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(message["payload"]["errors"][0]["extensions"]["code"], "SUBSCRIPTION_INTERRUPTED", "{message}");
    assert_eq!(read_text(&mut on_b).await, json!({ "type": "complete", "id": "1" }));
    assert_eq!(read_text(&mut on_a).await["payload"]["errors"][0]["extensions"]["code"], "SUBSCRIPTION_INTERRUPTED");
    for _ in 0..100 {
        let now = listener_pids(&admin, &url).await;
        if now.len() == 2 && now.iter().all(|pid| !before.contains(pid)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    subscribe(&mut on_b, "2", EVENTS).await;
    let id = a.create_todo(&user, "after the outage").await;
    assert_eq!(next_event(&mut on_b, "2").await["todoId"], id.as_str());
}

#[tokio::test]
async fn a_change_too_large_for_one_postgres_notification_arrives_whole() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let mut socket = connect(&app, TRANSPORT_WS).await;
    init(&mut socket, auth(&user)).await;
    subscribe(&mut socket, "1", "subscription { todoEvents { kind todoId todo { title description completed } } }")
        .await;
    // About 9 KB of JSON on its own: more than PostgreSQL's 8000-byte payload limit.
    let (title, description) = ("🍎\"".repeat(100), "🍏\\\u{1}é".repeat(500));
    let create = "mutation($i: CreateTodoInput!) { createTodo(input: $i) { id } }";
    let body = app.as_user(&user, create, json!({ "i": { "title": title, "description": description } })).await;
    let id = succeed(body)["createTodo"]["id"].as_str().expect("id").to_owned();
    succeed(app.as_user(&user, TOGGLE, json!({ "id": id })).await);
    let created = next_event(&mut socket, "1").await;
    let expected = json!({ "title": title, "description": description, "completed": false });
    assert_eq!(created, json!({ "kind": "CREATED", "todoId": id, "todo": expected }), "the todo as committed");
    let toggled = next_event(&mut socket, "1").await;
    assert_eq!(toggled["todo"]["completed"], true, "{toggled}");
    assert_eq!(toggled["todo"]["description"], description.as_str());
    // It is still found by search, whose folded copy the event does not carry.
    let body = app.as_user(&user, "{ todos(filter: { search: \"🍏\\\\\" }) { totalCount } }", json!({})).await;
    assert_eq!(succeed(body)["todos"]["totalCount"], 1);
}

/// A socket that closes while its queries run leaves their statements to finish (they run in
/// a task of their own, as HTTP requests do): no pooled connection is closed under them. Before,
/// the socket's operations were dropped with it, mid-statement, and PostgreSQL lost the
/// connection each ran on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_of_a_socket_that_closes_mid_statement_leave_the_pools_connections_open() {
    if postgres_admin_url().is_none() {
        eprintln!("skipped: needs TODOQL_TEST_DATABASE=postgres://…");
        return;
    }
    let fixture = crate::postgres::Abandoning::start().await;
    let (app, users) = (&fixture.app, &fixture.users);
    let (search, variables) = (crate::postgres::SCAN, crate::postgres::scan_variables());
    // Sockets that start a search, then close a moment later, again and again.
    for round in 0..4u64 {
        let cut = (0..16u64).map(|n| {
            let (user, variables) = (&users[n as usize % 8], variables.clone());
            async move {
                let mut socket = connect(app, TRANSPORT_WS).await;
                init(&mut socket, auth(user)).await;
                send(
                    &mut socket,
                    json!({ "type": "subscribe", "id": "1", "payload": { "query": search, "variables": variables } }),
                )
                .await;
                tokio::time::sleep(Duration::from_millis(2 + (n + round) % 20)).await;
                drop(socket);
            }
        });
        futures::future::join_all(cut).await;
    }
    fixture.assert_no_connection_was_closed().await;
}

/// Issue 17: a group commit in which one create fails (a trigger refuses its title here) is
/// rolled back whole, and its creates then run alone: only the refused one fails, the others
/// are created and announced once each, the refused one is never announced, and the write
/// connection goes on committing groups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_commit_that_fails_is_rolled_back_and_its_creates_run_alone() {
    if postgres_admin_url().is_none() {
        eprintln!("a_group_commit_that_fails_is_rolled_back_and_its_creates_run_alone needs PostgreSQL; skipped");
        return;
    }
    use crate::postgres::{group_commits, hold_row, wait_for, writer_waiting_for_a_lock};
    let app = TestApp::spawn_with(|c| {
        c.user_max_in_flight = 64;
        c.cost_budget = 0;
    })
    .await;
    let url = app.config.database.database_url.clone();
    {
        use sea_orm::ConnectionTrait;
        let db = sea_orm::Database::connect(&url).await.expect("connect");
        db.execute_unprepared(
            "CREATE FUNCTION refuse_title() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               IF NEW.title = 'refused' THEN RAISE EXCEPTION 'refused by a test trigger'; END IF; RETURN NEW; \
             END $$; \
             CREATE TRIGGER refuse_title BEFORE INSERT ON todos FOR EACH ROW EXECUTE FUNCTION refuse_title()",
        )
        .await
        .expect("trigger");
        db.close().await.ok();
    }
    let (user, held) = (app.sign_up().await, app.sign_up().await);
    let mut socket = connect(&app, TRANSPORT_WS).await;
    init(&mut socket, auth(&user)).await;
    subscribe(&mut socket, "1", EVENTS).await;
    let before = group_commits(&app).await;

    let lock = hold_row(&url, &held.id).await;
    let create = async |user: &TestUser, title: &str| {
        let query = "mutation($t: String!) { createTodo(input: { title: $t }) { id } }";
        app.as_user(user, query, json!({ "t": title })).await
    };
    let queued = async {
        wait_for("the write connection to wait for the held row", async || writer_waiting_for_a_lock(&url).await).await;
        futures::future::join_all(["first", "refused", "last"].map(|title| create(&user, title))).await
    };
    let release = async {
        wait_for("the write connection to wait for the held row", async || writer_waiting_for_a_lock(&url).await).await;
        wait_for("3 creates queued", async || app.metric("todoql_writes_queued").await == 3).await;
        lock.commit().await.expect("commit");
    };
    let (held_up, queued, ()) = tokio::join!(create(&held, "held up"), queued, release);
    succeed(held_up);
    let [first, refused, last] = queued.try_into().expect("three answers");
    assert_eq!(refused["errors"][0]["extensions"]["code"], "INTERNAL_SERVER_ERROR", "{refused}");
    let created: Vec<Value> = [first, last].map(|body| succeed(body)["createTodo"]["id"].clone()).into();
    assert_eq!(group_commits(&app).await - before, 1, "the held create's; the failed group committed nothing");

    let after = app.create_todo(&user, "after").await;
    assert_eq!(group_commits(&app).await - before, 2, "the write connection goes on");
    let mut announced = Vec::new();
    for _ in 0..3 {
        let event = next_event(&mut socket, "1").await;
        assert_eq!(event["kind"], "CREATED", "{event}");
        announced.push(event["todoId"].clone());
    }
    assert_eq!(announced[2], json!(after), "nothing announced between: {announced:?}");
    announced.truncate(2);
    announced.sort_by_key(|id| id.to_string());
    let mut created = created;
    created.sort_by_key(|id| id.to_string());
    assert_eq!(announced, created);
}
