//! Events reach their owner, complete, in commit order, only after commit, over both subprotocols.

use super::support::*;

#[tokio::test]
async fn a_subscriber_sees_create_update_toggle_and_delete_in_order() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let mut socket = connect(&app, TRANSPORT_WS).await;
    init(&mut socket, json!({ "Authorization": format!("Bearer {}", user.token) })).await;
    subscribe(&mut socket, "1", EVENTS).await;

    let id = app.create_todo(&user, "Buy milk").await;
    succeed(app.as_user(&user, UPDATE, json!({ "id": id, "i": { "title": "Buy oat milk" } })).await);
    succeed(app.as_user(&user, TOGGLE, json!({ "id": id })).await);
    succeed(app.as_user(&user, DELETE, json!({ "id": id })).await);

    let created = next_event(&mut socket, "1").await;
    assert_eq!(created["kind"], "CREATED", "{created}");
    assert_eq!(created["todoId"], id.as_str());
    assert_eq!(
        created["todo"],
        json!({ "id": id, "title": "Buy milk", "completed": false, "owner": { "id": user.id } })
    );
    let updated = next_event(&mut socket, "1").await;
    assert_eq!(updated["kind"], "UPDATED", "{updated}");
    assert_eq!(updated["todoId"], id.as_str());
    assert_eq!(updated["todo"]["title"], "Buy oat milk");
    assert_eq!(updated["todo"]["completed"], false);
    let toggled = next_event(&mut socket, "1").await;
    assert_eq!(toggled["kind"], "UPDATED", "{toggled}");
    assert_eq!(toggled["todoId"], id.as_str());
    assert_eq!(toggled["todo"]["completed"], true);
    let deleted = next_event(&mut socket, "1").await;
    assert_eq!(deleted, json!({ "kind": "DELETED", "todoId": id, "todo": null }));
}

#[tokio::test]
async fn a_subscriber_never_receives_another_users_events() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up().await;
    let bob = app.sign_up().await;
    let mut socket = connect(&app, TRANSPORT_WS).await;
    init(&mut socket, auth(&bob)).await;
    subscribe(&mut socket, "1", EVENTS).await;

    let id = app.create_todo(&alice, "Alice's secret").await;
    succeed(app.as_user(&alice, UPDATE, json!({ "id": id, "i": { "title": "still secret" } })).await);
    succeed(app.as_user(&alice, TOGGLE, json!({ "id": id })).await);
    succeed(app.as_user(&alice, DELETE, json!({ "id": id })).await);
    let own = app.create_todo(&bob, "Bob's").await;

    let event = next_event(&mut socket, "1").await;
    assert_eq!(event["kind"], "CREATED", "{event}");
    assert_eq!(event["todoId"], own.as_str(), "Bob's first event must be his own: {event}");
    assert_eq!(event["todo"]["owner"]["id"], bob.id.as_str());
}

#[tokio::test]
async fn the_legacy_graphql_ws_protocol_receives_events_too() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let mut socket = connect(&app, LEGACY_WS).await;
    init(&mut socket, auth(&user)).await;
    send(&mut socket, json!({ "type": "start", "id": "1", "payload": { "query": EVENTS } })).await;
    // A one-shot query started after the subscription: its answer means both were received.
    send(&mut socket, json!({ "type": "start", "id": "sync", "payload": { "query": "{ __typename }" } })).await;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let message = read_text(&mut socket).await;
        assert_eq!(message["id"], "sync", "{message}");
        seen.push(message["type"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(seen, ["data", "complete"]);

    let id = app.create_todo(&user, "legacy").await;
    let message = read_text(&mut socket).await;
    assert_eq!(message["type"], "data", "{message}");
    assert_eq!(message["id"], "1");
    let event = &message["payload"]["data"]["todoEvents"];
    assert_eq!(event["kind"], "CREATED", "{message}");
    assert_eq!(event["todoId"], id.as_str());

    send(&mut socket, json!({ "type": "stop", "id": "1" })).await;
    assert_eq!(read_text(&mut socket).await, json!({ "type": "complete", "id": "1" }));
}

#[tokio::test]
async fn a_failed_mutation_publishes_no_event() {
    let app = TestApp::spawn().await;
    let owner = app.sign_up().await;
    let intruder = app.sign_up().await;
    let mut socket = connect(&app, TRANSPORT_WS).await;
    init(&mut socket, auth(&owner)).await;
    subscribe(&mut socket, "1", EVENTS).await;
    // Created once subscribed: on PostgreSQL a change committed just before the subscription
    // may still be on its way through LISTEN, and arrive after the pong.
    let id = app.create_todo(&owner, "mine").await;
    assert_eq!(next_event(&mut socket, "1").await["kind"], "CREATED");

    // Each of these reaches the write path and fails inside its transaction.
    for (query, variables) in [
        (UPDATE, json!({ "id": id, "i": { "title": "hijacked" } })),
        (TOGGLE, json!({ "id": id })),
        (DELETE, json!({ "id": id })),
    ] {
        let body = app.as_user(&intruder, query, variables).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND", "{body}");
    }
    let body = app.as_user(&owner, TOGGLE, json!({ "id": "no-such-todo" })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND", "{body}");
    succeed(app.as_user(&owner, TOGGLE, json!({ "id": id })).await);

    let event = next_event(&mut socket, "1").await;
    assert_eq!(event["kind"], "UPDATED", "{event}");
    assert_eq!(event["todo"]["title"], "mine", "the failed update must not show: {event}");
    assert_eq!(event["todo"]["completed"], true, "this must be the owner's toggle: {event}");
}

#[tokio::test]
async fn each_event_resolves_nested_fields_afresh() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let mut socket = connect(&app, TRANSPORT_WS).await;
    init(&mut socket, auth(&user)).await;
    let query = "subscription { todoEvents { todoId todo { owner { todos { totalCount } } } } }";
    subscribe(&mut socket, "1", query).await;
    for expected in 1..=3 {
        app.create_todo(&user, &format!("todo {expected}")).await;
        let event = next_event(&mut socket, "1").await;
        assert_eq!(event["todo"]["owner"]["todos"]["totalCount"], expected, "{event}");
    }
}

#[tokio::test]
async fn concurrent_toggles_publish_updates_in_commit_order() {
    const TOGGLES: usize = 20;
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let mut socket = connect(&app, TRANSPORT_WS).await;
    init(&mut socket, auth(&user)).await;
    let query = "subscription { todoEvents { kind todoId todo { completed updatedAt } } }";
    subscribe(&mut socket, "1", query).await;
    // Created once subscribed (see a_failed_mutation_publishes_no_event).
    let id = app.create_todo(&user, "flip me").await;
    assert_eq!(next_event(&mut socket, "1").await["kind"], "CREATED");

    let toggles = (0..TOGGLES).map(|_| app.as_user(&user, TOGGLE, json!({ "id": id })));
    let bodies = futures::future::join_all(toggles).await;
    let trues = bodies
        .iter()
        .map(|b| succeed(b.clone())["toggleTodo"]["completed"].as_bool().expect("completed"))
        .filter(|c| *c)
        .count();
    assert_eq!(trues, TOGGLES / 2, "the toggles did not serialise: {bodies:?}");

    let mut completed = false;
    let mut updated_at = String::new();
    for n in 0..TOGGLES {
        let event = next_event(&mut socket, "1").await;
        assert_eq!(event["kind"], "UPDATED", "{event}");
        assert_eq!(event["todoId"], id.as_str());
        assert_eq!(event["todo"]["completed"], !completed, "event {n} does not follow the one before: {event}");
        completed = !completed;
        let at = event["todo"]["updatedAt"].as_str().expect("updatedAt").to_owned();
        assert!(instant(&at) > instant(&updated_at), "event {n} is older than the one before: {at} <= {updated_at}");
        updated_at = at;
    }
    let body =
        app.as_user(&user, "query($id: ID!) { todo(id: $id) { completed updatedAt } }", json!({ "id": id })).await;
    assert_eq!(
        body["data"]["todo"],
        json!({ "completed": completed, "updatedAt": updated_at }),
        "the last event is the final state"
    );
}

#[tokio::test]
async fn a_stalled_subscriber_is_cut_off_with_subscription_overflow_and_the_server_stays_healthy() {
    /// More than the server's buffer (`todoql::events::BUFFER`) plus what TCP absorbs.
    const TODOS: usize = 1300;
    const _: () = assert!(TODOS > todoql::events::BUFFER);
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    // Big events: each carries the owner's latest 100 todos, every 2000-character description
    // five times (up to 1 MB). Socket buffers, even generous ones, fill after a few dozen
    // such events; the rest must wait in the server's bounded buffer. A small receive buffer
    // on our side helps.
    let copies: String = (0..5).map(|i| format!(" d{i}: description")).collect();
    let query = format!(
        "subscription {{ todoEvents {{ kind todo {{ owner {{ todos(first: 100) {{ nodes {{{copies} }} }} }} }} }} }}"
    );
    let mut stalled = connect_small(&app, TRANSPORT_WS).await;
    init(&mut stalled, auth(&user)).await;
    subscribe(&mut stalled, "1", &query).await;

    // The subscriber now stops reading while the todos are created, 16 requests at a time.
    let description = "d".repeat(2000);
    let create = "mutation($i: CreateTodoInput!) { createTodo(input: $i) { id } }";
    let created: Vec<Value> = stream::iter(0..TODOS)
        .map(|n| {
            app.as_user(&user, create, json!({ "i": { "title": format!("todo {n}"), "description": description } }))
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(created.iter().all(|body| body["data"]["createTodo"]["id"].is_string()), "a creation failed");

    // Reading again: some events that were already on their way, then the overflow error.
    let mut delivered = 0;
    let code = loop {
        match read(&mut stalled).await {
            Frame::Close(code) => break format!("closed with {code:?}"),
            Frame::Text(message) if message["type"] == "next" && message["payload"]["errors"].is_null() => {
                delivered += 1;
                assert!(delivered <= TODOS, "more events than todos");
            }
            Frame::Text(message) => {
                let errors =
                    if message["type"] == "error" { &message["payload"] } else { &message["payload"]["errors"] };
                break errors[0]["extensions"]["code"]
                    .as_str()
                    .unwrap_or_else(|| panic!("unexpected {message}"))
                    .to_owned();
            }
        }
    };
    assert_eq!(code, "SUBSCRIPTION_OVERFLOW", "after {delivered} events");
    assert!(delivered < TODOS, "the subscriber received every event: nothing overflowed");
    assert_eq!(read_text(&mut stalled).await, json!({ "type": "complete", "id": "1" }));

    // The connection and the server are still usable: subscribe again, on a new socket too.
    subscribe(&mut stalled, "2", EVENTS).await;
    let mut fresh = connect(&app, TRANSPORT_WS).await;
    init(&mut fresh, auth(&user)).await;
    subscribe(&mut fresh, "1", EVENTS).await;
    let id = app.create_todo(&user, "after the flood").await;
    assert_eq!(next_event(&mut stalled, "2").await["todoId"], id.as_str());
    assert_eq!(next_event(&mut fresh, "1").await["todoId"], id.as_str());
}
