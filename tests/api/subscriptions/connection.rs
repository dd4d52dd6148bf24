//! Authenticating a socket, and the close codes: 4403, 4408, 4429.

use super::support::*;

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

#[tokio::test]
async fn an_operation_name_that_picks_no_operation_is_an_error_message_with_a_code() {
    let app = TestApp::spawn().await;
    let mut socket = connect(&app, TRANSPORT_WS).await;
    init(&mut socket, json!({})).await;
    let two = "query A { __typename } subscription B { todoEvents { kind } }";
    for (id, payload) in [
        ("1", json!({ "query": two })),
        ("2", json!({ "query": two, "operationName": "Nope" })),
        ("3", json!({ "query": EVENTS, "operationName": "Nope" })),
    ] {
        send(&mut socket, json!({ "type": "subscribe", "id": id, "payload": payload })).await;
        let message = read_text(&mut socket).await;
        assert_eq!((&message["type"], &message["id"]), (&json!("error"), &json!(id)), "{message}");
        assert_eq!(message["payload"][0]["extensions"]["code"], "OPERATION_RESOLUTION_FAILURE", "{message}");
    }
    // The socket still serves the operation named right.
    send(&mut socket, json!({ "type": "subscribe", "id": "4", "payload": { "query": two, "operationName": "A" } }))
        .await;
    let message = read_text(&mut socket).await;
    assert_eq!(message["payload"], json!({ "data": { "__typename": "Query" } }), "{message}");
}

/// Over a socket too, a query's fields and each event's come in the order the document
/// selects them (`Todo.owner` waits for a batch of the user loader; see tests/api/order.rs).
#[tokio::test]
async fn fields_come_in_selection_order_over_a_socket() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    app.create_todo(&user, "first").await;
    let mut socket = connect(&app, TRANSPORT_WS).await;
    init(&mut socket, auth(&user)).await;
    let keys = |value: &Value| value.as_object().expect("object").keys().cloned().collect::<Vec<_>>();
    let query = "{ b: todos(first: 1) { nodes { owner { id } id } } a: me { id } c: __typename }";
    for round in 0..2 {
        let payload = operation(&mut socket, &format!("q{round}"), query, json!({})).await;
        assert_eq!(keys(&payload["data"]), ["b", "a", "c"], "{payload}");
        assert_eq!(keys(&payload["data"]["b"]["nodes"][0]), ["owner", "id"], "{payload}");
    }
    subscribe(&mut socket, "events", "subscription { todoEvents { todo { owner { id } title } kind todoId } }").await;
    app.create_todo(&user, "second").await;
    let event = next_event(&mut socket, "events").await;
    assert_eq!(keys(&event), ["todo", "kind", "todoId"], "{event}");
    assert_eq!(keys(&event["todo"]), ["owner", "title"], "{event}");
}
