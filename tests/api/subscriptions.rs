//! `Subscription.todoEvents` over a real WebSocket (`GET /graphql/ws`): authentication in
//! `connection_init`, both subprotocols, ownership, commit order, back-pressure, and (on
//! PostgreSQL) events crossing from one instance to another.
//!
//! Timeouts here only turn a hang into a failure; no test asserts how fast anything is.

use std::time::Duration;

use futures::{SinkExt, StreamExt, stream};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::{SECRET, TestApp, TestUser, fresh_database, now, sign};

/// The subscription most tests run.
const EVENTS: &str = "subscription { todoEvents { kind todoId todo { id title completed owner { id } } } }";

const UPDATE: &str = "mutation($id: ID!, $i: UpdateTodoInput!) { updateTodo(id: $id, input: $i) { id } }";
const TOGGLE: &str = "mutation($id: ID!) { toggleTodo(id: $id) { id completed } }";
const DELETE: &str = "mutation($id: ID!) { deleteTodo(id: $id) }";

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
async fn the_token_is_read_from_every_connection_init_convention_and_from_the_upgrade_header() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let bearer = format!("Bearer {}", user.token);
    let payloads = [
        json!({ "authorization": bearer }),
        json!({ "AUTHORIZATION": format!("bearer {}", user.token) }),
        json!({ "token": user.token }),
        json!({ "headers": { "Authorization": bearer } }),
        json!({ "headers": { "authorization": bearer } }),
    ];
    for payload in payloads {
        let mut socket = connect(&app, TRANSPORT_WS).await;
        init(&mut socket, payload.clone()).await;
        assert_receives_own_creation(&app, &user, &mut socket).await;
    }
    let mut socket = connect_with(&app, TRANSPORT_WS, Some(&bearer)).await;
    init(&mut socket, json!({})).await;
    assert_receives_own_creation(&app, &user, &mut socket).await;
}

#[tokio::test]
async fn an_unusable_token_closes_the_socket_with_4403() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let forged = sign(&json!({ "sub": user.id, "exp": now() + 600 }), "another-secret-that-is-32-bytes-or-more");
    let expired = sign(&json!({ "sub": user.id, "exp": now() - 3600 }), SECRET);
    for payload in [
        json!({ "Authorization": format!("Bearer {forged}") }),
        json!({ "Authorization": format!("Bearer {expired}") }),
        json!({ "token": expired }),
        json!({ "headers": { "Authorization": format!("Bearer {forged}") } }),
        json!({ "Authorization": "Basic dXNlcjpwYXNz" }),
        json!({ "Authorization": "Bearer not.a.jwt" }),
    ] {
        let mut socket = connect(&app, TRANSPORT_WS).await;
        send(&mut socket, json!({ "type": "connection_init", "payload": payload })).await;
        assert_eq!(close_code(&mut socket).await, Some(4403), "payload {payload}");
    }
    // The same through the upgrade request's header, and through the legacy protocol.
    let mut socket = connect_with(&app, TRANSPORT_WS, Some(&format!("Bearer {expired}"))).await;
    send(&mut socket, json!({ "type": "connection_init", "payload": {} })).await;
    assert_eq!(close_code(&mut socket).await, Some(4403));
    let mut socket = connect(&app, LEGACY_WS).await;
    send(&mut socket, json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {forged}") } }))
        .await;
    assert_eq!(close_code(&mut socket).await, Some(4403));
}

#[tokio::test]
async fn todo_events_without_a_token_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let mut socket = connect(&app, TRANSPORT_WS).await;
    init(&mut socket, json!({})).await;
    send(&mut socket, json!({ "type": "subscribe", "id": "1", "payload": { "query": EVENTS } })).await;
    let message = read_text(&mut socket).await;
    let errors = match message["type"].as_str() {
        Some("next") => &message["payload"]["errors"],
        Some("error") => &message["payload"],
        _ => panic!("expected an error for the subscription, got {message}"),
    };
    assert_eq!(errors[0]["extensions"]["code"], "UNAUTHENTICATED", "{message}");
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
async fn a_socket_is_closed_with_4403_when_its_token_expires() {
    let app = TestApp::spawn_with(|c| c.access_token_ttl = 2).await;
    let user = app.sign_up().await;
    let mut socket = connect(&app, TRANSPORT_WS).await;
    init(&mut socket, auth(&user)).await;
    subscribe(&mut socket, "1", EVENTS).await;
    // The token lives two seconds; the close must come on its own, with no client traffic.
    assert_eq!(close_code(&mut socket).await, Some(4403));
}

#[tokio::test]
async fn a_client_that_never_sends_connection_init_is_closed_with_4408() {
    let app = TestApp::spawn().await;
    let mut socket = connect(&app, TRANSPORT_WS).await;
    // The server waits 10 s for connection_init; allow it a little longer than that.
    match read_within(&mut socket, Duration::from_secs(20)).await {
        Frame::Close(code) => assert_eq!(code, Some(4408)),
        Frame::Text(message) => panic!("expected a close, got {message}"),
    }
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
    let id = app.create_todo(&owner, "mine").await;
    let mut socket = connect(&app, TRANSPORT_WS).await;
    init(&mut socket, auth(&owner)).await;
    subscribe(&mut socket, "1", EVENTS).await;

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

#[tokio::test]
async fn concurrent_toggles_publish_updates_in_commit_order() {
    const TOGGLES: usize = 20;
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let id = app.create_todo(&user, "flip me").await;
    let mut socket = connect(&app, TRANSPORT_WS).await;
    init(&mut socket, auth(&user)).await;
    let query = "subscription { todoEvents { kind todoId todo { completed updatedAt } } }";
    subscribe(&mut socket, "1", query).await;

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
async fn sign_ins_over_the_socket_count_against_the_clients_budget() {
    let app = TestApp::spawn_with(|c| c.sign_in_max_failures_per_client = 3).await;
    let mut socket = connect(&app, TRANSPORT_WS).await;
    init(&mut socket, json!({})).await;
    let sign_in =
        "mutation($email: String!) { signIn(input: { email: $email, password: \"wrong password\" }) { accessToken } }";
    // A different email each time: only the per-client budget can stop this.
    let mut codes = Vec::new();
    for n in 0..4 {
        let email = format!("{}@example.com", crate::helpers::unique("nobody"));
        let payload = operation(&mut socket, &format!("sign-in-{n}"), sign_in, json!({ "email": email })).await;
        codes.push(payload["errors"][0]["extensions"]["code"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(codes, ["INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "RATE_LIMITED"]);
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

// --- A small graphql-transport-ws / graphql-ws client -------------------------------------

#[tokio::test]
async fn a_user_over_the_socket_limit_is_refused_with_4429_until_one_closes() {
    let app = TestApp::spawn_with(|c| c.ws_max_connections_per_user = 2).await;
    let (user, other) = (app.sign_up().await, app.sign_up().await);
    let mut first = connect(&app, TRANSPORT_WS).await;
    init(&mut first, auth(&user)).await;
    let mut second = connect(&app, TRANSPORT_WS).await;
    init(&mut second, auth(&user)).await;
    let mut third = connect(&app, TRANSPORT_WS).await;
    send(&mut third, json!({ "type": "connection_init", "payload": auth(&user) })).await;
    assert_eq!(close_code(&mut third).await, Some(4429));
    // Another user has a budget of their own.
    let mut theirs = connect(&app, TRANSPORT_WS).await;
    init(&mut theirs, auth(&other)).await;
    // Closing a socket frees its place.
    drop(first);
    let mut retried = None;
    for _ in 0..50 {
        let mut socket = connect(&app, TRANSPORT_WS).await;
        send(&mut socket, json!({ "type": "connection_init", "payload": auth(&user) })).await;
        if let Frame::Text(frame) = read(&mut socket).await
            && frame["type"] == "connection_ack"
        {
            retried = Some(socket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(retried.is_some(), "a freed place was never reused");
    drop(second);
}

/// The `graphql-transport-ws` subprotocol (the graphql-ws library).
const TRANSPORT_WS: &str = "graphql-transport-ws";
/// The legacy `graphql-ws` subprotocol (subscriptions-transport-ws).
const LEGACY_WS: &str = "graphql-ws";
/// How long to wait for any one message before failing.
const WAIT: Duration = Duration::from_secs(10);

type Socket = WebSocketStream<TcpStream>;

/// What the server sent next.
enum Frame {
    /// A JSON text message.
    Text(Value),
    /// The socket closed, with the close frame's code if there was one.
    Close(Option<u16>),
}

/// Opens a socket speaking `protocol`.
async fn connect(app: &TestApp, protocol: &'static str) -> Socket {
    connect_with(app, protocol, None).await
}

/// Opens a socket, with an `Authorization` header on the upgrade request when given.
async fn connect_with(app: &TestApp, protocol: &'static str, authorization: Option<&str>) -> Socket {
    let tcp = TcpStream::connect(app.addr).await.expect("connect");
    handshake(app, tcp, protocol, authorization).await
}

/// Opens a socket whose receive buffer is small, for a subscriber that stops reading.
async fn connect_small(app: &TestApp, protocol: &'static str) -> Socket {
    let tcp = tokio::net::TcpSocket::new_v4().expect("socket");
    tcp.set_recv_buffer_size(4096).expect("receive buffer");
    let tcp = tcp.connect(app.addr).await.expect("connect");
    handshake(app, tcp, protocol, None).await
}

async fn handshake(app: &TestApp, tcp: TcpStream, protocol: &'static str, authorization: Option<&str>) -> Socket {
    let mut request = format!("ws://{}/graphql/ws", app.addr).into_client_request().expect("request");
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static(protocol));
    if let Some(value) = authorization {
        request.headers_mut().insert("authorization", HeaderValue::from_str(value).expect("header"));
    }
    let (socket, response) = tokio_tungstenite::client_async(request, tcp).await.expect("WebSocket handshake");
    assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
    socket
}

/// The `connection_init` payload of `user`.
fn auth(user: &TestUser) -> Value {
    json!({ "Authorization": format!("Bearer {}", user.token) })
}

async fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::text(message.to_string())).await.expect("send");
}

/// The next text message or close, skipping WebSocket pings and pongs.
async fn read(socket: &mut Socket) -> Frame {
    read_within(socket, WAIT).await
}

/// The next text message or close, waiting at most `wait` for each frame.
async fn read_within(socket: &mut Socket, wait: Duration) -> Frame {
    loop {
        let message = tokio::time::timeout(wait, socket.next())
            .await
            .unwrap_or_else(|_| panic!("nothing from the server for {wait:?}"));
        match message {
            Some(Ok(Message::Text(text))) => return Frame::Text(serde_json::from_str(&text).expect("a JSON message")),
            Some(Ok(Message::Close(frame))) => return Frame::Close(frame.map(|f| f.code.into())),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Frame::Close(None),
        }
    }
}

/// The next text message; fails on a close.
async fn read_text(socket: &mut Socket) -> Value {
    match read(socket).await {
        Frame::Text(message) => message,
        Frame::Close(code) => panic!("the socket closed ({code:?}) where a message was expected"),
    }
}

/// The close code the server ends the socket with, skipping text messages before it.
async fn close_code(socket: &mut Socket) -> Option<u16> {
    loop {
        if let Frame::Close(code) = read(socket).await {
            return code;
        }
    }
}

/// Sends `connection_init` and expects `connection_ack`.
async fn init(socket: &mut Socket, payload: Value) {
    send(socket, json!({ "type": "connection_init", "payload": payload })).await;
    let message = read_text(socket).await;
    assert_eq!(message["type"], "connection_ack", "{message}");
}

/// Starts a `graphql-transport-ws` subscription, then pings: the server handles messages in
/// order, so once the pong is back the subscription is registered and sees every later commit.
async fn subscribe(socket: &mut Socket, id: &str, query: &str) {
    send(socket, json!({ "type": "subscribe", "id": id, "payload": { "query": query } })).await;
    send(socket, json!({ "type": "ping" })).await;
    let message = read_text(socket).await;
    assert_eq!(message["type"], "pong", "{message}");
}

/// The next `todoEvents` payload of subscription `id`; fails on anything else.
async fn next_event(socket: &mut Socket, id: &str) -> Value {
    let message = read_text(socket).await;
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(message["id"], id, "{message}");
    assert!(message["payload"]["errors"].is_null(), "{message}");
    message["payload"]["data"]["todoEvents"].clone()
}

/// Runs one query or mutation over the socket; returns its payload.
async fn operation(socket: &mut Socket, id: &str, query: &str, variables: Value) -> Value {
    send(socket, json!({ "type": "subscribe", "id": id, "payload": { "query": query, "variables": variables } })).await;
    let message = read_text(socket).await;
    assert_eq!((&message["type"], &message["id"]), (&json!("next"), &json!(id)), "{message}");
    assert_eq!(read_text(socket).await, json!({ "type": "complete", "id": id }));
    message["payload"].clone()
}

/// `TODOQL_TEST_DATABASE` when it names a PostgreSQL server.
fn postgres_admin_url() -> Option<String> {
    std::env::var("TODOQL_TEST_DATABASE").ok().filter(|url| url.starts_with("postgres"))
}

/// The backend pids of the LISTEN connections to the database of `url`.
async fn listener_pids(admin: &str, url: &str) -> Vec<i32> {
    use sea_orm::{ConnectionTrait, Statement};
    let database = url.rsplit('/').next().expect("a database name").to_owned();
    let db = sea_orm::Database::connect(admin).await.expect("connect as admin");
    let sql = "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN%'";
    let statement = Statement::from_sql_and_values(db.get_database_backend(), sql, [database.into()]);
    let rows = db.query_all_raw(statement).await.expect("pg_stat_activity");
    db.close().await.ok();
    rows.iter().map(|row| row.try_get("", "pid").expect("pid")).collect()
}

/// Terminates these PostgreSQL backends.
async fn terminate(admin: &str, pids: &[i32]) {
    use sea_orm::ConnectionTrait;
    assert!(!pids.is_empty(), "no LISTEN connection to terminate");
    let db = sea_orm::Database::connect(admin).await.expect("connect as admin");
    for pid in pids {
        db.execute_unprepared(&format!("SELECT pg_terminate_backend({pid})")).await.expect("terminate");
    }
    db.close().await.ok();
}

/// Subscribes on `socket`, creates a todo and expects its CREATED event first.
async fn assert_receives_own_creation(app: &TestApp, user: &TestUser, socket: &mut Socket) {
    subscribe(socket, "1", EVENTS).await;
    let id = app.create_todo(user, "mine").await;
    let event = next_event(socket, "1").await;
    assert_eq!((&event["kind"], &event["todoId"]), (&json!("CREATED"), &json!(id)), "{event}");
}

/// The data of a successful response.
fn succeed(body: Value) -> Value {
    assert!(body["errors"].is_null(), "{body}");
    body["data"].clone()
}

/// An RFC 3339 instant, comparable; the empty string is the beginning of time.
fn instant(at: &str) -> chrono::DateTime<chrono::FixedOffset> {
    if at.is_empty() {
        return chrono::DateTime::UNIX_EPOCH.fixed_offset();
    }
    chrono::DateTime::parse_from_rfc3339(at).expect("an RFC 3339 instant")
}
