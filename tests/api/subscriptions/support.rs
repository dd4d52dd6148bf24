//! A small graphql-transport-ws / graphql-ws client, and what the subscription tests share.

#![allow(unused_imports)]

pub(super) use std::time::Duration;

pub(super) use futures::{SinkExt, StreamExt, stream};
pub(super) use serde_json::{Value, json};
pub(super) use tokio::net::TcpStream;
pub(super) use tokio_tungstenite::WebSocketStream;
pub(super) use tokio_tungstenite::tungstenite::Message;
pub(super) use tokio_tungstenite::tungstenite::client::IntoClientRequest;
pub(super) use tokio_tungstenite::tungstenite::http::HeaderValue;

pub(super) use crate::helpers::{SECRET, TestApp, TestUser, fresh_database, now, sign};

/// The subscription most tests run.
pub(super) const EVENTS: &str = "subscription { todoEvents { kind todoId todo { id title completed owner { id } } } }";

pub(super) const UPDATE: &str = "mutation($id: ID!, $i: UpdateTodoInput!) { updateTodo(id: $id, input: $i) { id } }";
pub(super) const TOGGLE: &str = "mutation($id: ID!) { toggleTodo(id: $id) { id completed } }";
pub(super) const DELETE: &str = "mutation($id: ID!) { deleteTodo(id: $id) }";

/// The `graphql-transport-ws` subprotocol (the graphql-ws library).
pub(super) const TRANSPORT_WS: &str = "graphql-transport-ws";
/// The legacy `graphql-ws` subprotocol (subscriptions-transport-ws).
pub(super) const LEGACY_WS: &str = "graphql-ws";
/// How long to wait for any one message before failing.
pub(super) const WAIT: Duration = Duration::from_secs(10);

pub(super) type Socket = WebSocketStream<TcpStream>;

/// What the server sent next.
pub(super) enum Frame {
    /// A JSON text message.
    Text(Value),
    /// The socket closed, with the close frame's code if there was one.
    Close(Option<u16>),
}

/// Opens a socket speaking `protocol`.
pub(super) async fn connect(app: &TestApp, protocol: &'static str) -> Socket {
    connect_with(app, protocol, None).await
}

/// Opens a socket, with an `Authorization` header on the upgrade request when given.
pub(super) async fn connect_with(app: &TestApp, protocol: &'static str, authorization: Option<&str>) -> Socket {
    let tcp = TcpStream::connect(app.addr).await.expect("connect");
    handshake(app, tcp, protocol, authorization).await
}

/// Opens a socket whose receive buffer is small, for a subscriber that stops reading.
pub(super) async fn connect_small(app: &TestApp, protocol: &'static str) -> Socket {
    let tcp = tokio::net::TcpSocket::new_v4().expect("socket");
    tcp.set_recv_buffer_size(4096).expect("receive buffer");
    let tcp = tcp.connect(app.addr).await.expect("connect");
    handshake(app, tcp, protocol, None).await
}

pub(super) async fn handshake(
    app: &TestApp,
    tcp: TcpStream,
    protocol: &'static str,
    authorization: Option<&str>,
) -> Socket {
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
pub(super) fn auth(user: &TestUser) -> Value {
    json!({ "Authorization": format!("Bearer {}", user.token) })
}

pub(super) async fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::text(message.to_string())).await.expect("send");
}

/// The next text message or close, skipping WebSocket pings and pongs.
pub(super) async fn read(socket: &mut Socket) -> Frame {
    read_within(socket, WAIT).await
}

/// The next text message or close, waiting at most `wait` for each frame.
pub(super) async fn read_within(socket: &mut Socket, wait: Duration) -> Frame {
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
pub(super) async fn read_text(socket: &mut Socket) -> Value {
    match read(socket).await {
        Frame::Text(message) => message,
        Frame::Close(code) => panic!("the socket closed ({code:?}) where a message was expected"),
    }
}

/// The close code the server ends the socket with, skipping text messages before it.
pub(super) async fn close_code(socket: &mut Socket) -> Option<u16> {
    loop {
        if let Frame::Close(code) = read(socket).await {
            return code;
        }
    }
}

/// Sends `connection_init` and expects `connection_ack`.
pub(super) async fn init(socket: &mut Socket, payload: Value) {
    send(socket, json!({ "type": "connection_init", "payload": payload })).await;
    let message = read_text(socket).await;
    assert_eq!(message["type"], "connection_ack", "{message}");
}

/// Starts a `graphql-transport-ws` subscription, then pings: the server handles messages in
/// order, so once the pong is back the subscription is registered and sees every later commit.
pub(super) async fn subscribe(socket: &mut Socket, id: &str, query: &str) {
    send(socket, json!({ "type": "subscribe", "id": id, "payload": { "query": query } })).await;
    send(socket, json!({ "type": "ping" })).await;
    let message = read_text(socket).await;
    assert_eq!(message["type"], "pong", "{message}");
}

/// The next `todoEvents` payload of subscription `id`; fails on anything else.
pub(super) async fn next_event(socket: &mut Socket, id: &str) -> Value {
    let message = read_text(socket).await;
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(message["id"], id, "{message}");
    assert!(message["payload"]["errors"].is_null(), "{message}");
    message["payload"]["data"]["todoEvents"].clone()
}

/// Runs one query or mutation over the socket; returns its payload.
pub(super) async fn operation(socket: &mut Socket, id: &str, query: &str, variables: Value) -> Value {
    send(socket, json!({ "type": "subscribe", "id": id, "payload": { "query": query, "variables": variables } })).await;
    let message = read_text(socket).await;
    assert_eq!((&message["type"], &message["id"]), (&json!("next"), &json!(id)), "{message}");
    assert_eq!(read_text(socket).await, json!({ "type": "complete", "id": id }));
    message["payload"].clone()
}

/// `TODOQL_TEST_DATABASE` when it names a PostgreSQL server.
pub(super) fn postgres_admin_url() -> Option<String> {
    std::env::var("TODOQL_TEST_DATABASE").ok().filter(|url| url.starts_with("postgres"))
}

/// The backend pids of the LISTEN connections to the database of `url`.
pub(super) async fn listener_pids(admin: &str, url: &str) -> Vec<i32> {
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
pub(super) async fn terminate(admin: &str, pids: &[i32]) {
    use sea_orm::ConnectionTrait;
    assert!(!pids.is_empty(), "no LISTEN connection to terminate");
    let db = sea_orm::Database::connect(admin).await.expect("connect as admin");
    for pid in pids {
        db.execute_unprepared(&format!("SELECT pg_terminate_backend({pid})")).await.expect("terminate");
    }
    db.close().await.ok();
}

/// Subscribes on `socket`, creates a todo and expects its CREATED event first.
pub(super) async fn assert_receives_own_creation(app: &TestApp, user: &TestUser, socket: &mut Socket) {
    subscribe(socket, "1", EVENTS).await;
    let id = app.create_todo(user, "mine").await;
    let event = next_event(socket, "1").await;
    assert_eq!((&event["kind"], &event["todoId"]), (&json!("CREATED"), &json!(id)), "{event}");
}

/// The data of a successful response.
pub(super) fn succeed(body: Value) -> Value {
    assert!(body["errors"].is_null(), "{body}");
    body["data"].clone()
}

/// An RFC 3339 instant, comparable; the empty string is the beginning of time.
pub(super) fn instant(at: &str) -> chrono::DateTime<chrono::FixedOffset> {
    if at.is_empty() {
        return chrono::DateTime::UNIX_EPOCH.fixed_offset();
    }
    chrono::DateTime::parse_from_rfc3339(at).expect("an RFC 3339 instant")
}
