//! Transport limits: request time, WebSocket message size, CORS.

use super::support::*;

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
    // The request's deadline, or its statement's (STATEMENT_TIMEOUT is capped at the request
    // timeout, so on PostgreSQL the database may cancel the waiting insert first): either way
    // TIMEOUT, never a 500.
    assert_eq!(error_code(&body), "TIMEOUT", "{body}");
    assert!(status == 503 || (status == 200 && body["data"].is_null()), "{status}: {body}");

    lock.rollback().await.expect("release the lock");
    db.close().await.ok();
    let body = app.as_user(&user, "mutation { createTodo(input: { title: \"free\" }) { title } }", json!({})).await;
    assert_eq!(body["data"]["createTodo"]["title"], "free", "{body}");
}

#[tokio::test]
async fn a_websocket_operation_running_past_request_timeout_is_stopped_with_timeout() {
    use futures::{SinkExt, StreamExt};
    use sea_orm::{ConnectionTrait, TransactionTrait};
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

    let app = TestApp::spawn_with(|c| c.request_timeout = 1).await;
    let url = app.config.database.database_url.clone();
    let user = TestApp::spawn_with(|c| c.database.database_url = url).await.sign_up().await;
    let db = sea_orm::Database::connect(&app.config.database.database_url).await.expect("connect");
    let lock = db.begin().await.expect("begin");
    let sql = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => "LOCK TABLE todos IN EXCLUSIVE MODE",
        _ => "INSERT INTO rate_limits (key, window_start, failures) VALUES ('security-test-ws-lock', 0, 0)",
    };
    lock.execute_unprepared(sql).await.expect("take the lock");

    let mut request = format!("ws://{}/graphql/ws", app.addr).into_client_request().expect("request");
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
    let (mut socket, _) = within(HANG, tokio_tungstenite::connect_async(request)).await.expect("connect");
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", user.token) } });
    socket.send(Message::text(init.to_string())).await.expect("send init");
    let create = json!({ "type": "subscribe", "id": "1", "payload": { "query": "mutation { createTodo(input: { title: \"stuck\" }) { id } }" } });
    socket.send(Message::text(create.to_string())).await.expect("send");
    let mut answer = Value::Null;
    while let Some(Ok(message)) = within(HANG, socket.next()).await {
        if let Message::Text(text) = message {
            let message: Value = serde_json::from_str(&text).expect("JSON");
            if message["id"] == "1" {
                answer = message;
                break;
            }
        }
    }
    assert_eq!(answer["payload"]["errors"][0]["extensions"]["code"], "TIMEOUT", "{answer}");
    lock.rollback().await.expect("release the lock");
    db.close().await.ok();
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
