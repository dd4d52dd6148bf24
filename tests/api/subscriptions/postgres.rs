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
