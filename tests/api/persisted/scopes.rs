//! Scopes (issue 15) hold for a document however it arrives: by `documentId` from a trusted
//! manifest (run without validation), by APQ hash, and over WebSocket by id. A persisted
//! document is refused for scope exactly as its text is.

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::support::*;
use crate::scopes::support::{pat, scoped_jwt, with_token};

const ME: &str = "query Me { me { email } }";
const EVENTS: &str = "subscription Events { todoEvents { kind todo { title } } }";

fn id(text: &str) -> String {
    format!("sha256:{}", sha256(text))
}

/// Asserts `answer` is the 403 a request whose every root field was refused for `scope` gets.
fn assert_refused_for(answer: &Answer, scope: &str) {
    assert_eq!(answer.status, 403, "{}", answer.body);
    let challenge = answer.headers.get("www-authenticate").and_then(|v| v.to_str().ok());
    assert_eq!(challenge, Some(format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\"").as_str()));
    assert_eq!(error_code(&answer.body), "FORBIDDEN", "{}", answer.body);
    assert_eq!(answer.body["errors"][0]["extensions"]["requiredScopes"], json!([[scope]]), "{}", answer.body);
}

#[tokio::test]
async fn a_trusted_document_by_id_is_refused_for_scope_exactly_as_its_text() {
    let (_dir, manifest) = codegen_manifest(&[TODOS, CREATE, ME]);
    let app = TestApp::spawn_with(|config| config.trusted_documents = Some(manifest)).await;
    let user = app.sign_up().await;
    app.create_todo(&user, "mine").await;
    let reader = with_token(&user, &pat(&app, &user, &["todos:read"]).await.1);
    let create = json!({ "documentId": id(CREATE), "variables": { "input": { "title": "no" } } });
    let by_id = post(&app, Some(&reader), JSON, create).await;
    assert_refused_for(&by_id, "todos:write");
    let as_text =
        post(&app, Some(&reader), JSON, json!({ "query": CREATE, "variables": { "input": { "title": "no" } } }));
    assert_eq!(without_cost(by_id.body), without_cost(as_text.await.body));
    assert_refused_for(&post(&app, Some(&reader), JSON, json!({ "documentId": id(ME) })).await, "profile:read");
    // What the token may do, it does by id too.
    let todos = json!({ "documentId": id(TODOS), "variables": { "first": 5 } });
    assert_eq!(data(&post(&app, Some(&reader), JSON, todos).await)["todos"]["totalCount"], 1);
    // A scoped JWT is held to its claim the same way.
    let writer = with_token(&user, &scoped_jwt(&user, &["todos:write"]));
    let todos = json!({ "documentId": id(TODOS), "variables": { "first": 5 } });
    assert_refused_for(&post(&app, Some(&writer), JSON, todos).await, "todos:read");
    let create = json!({ "documentId": id(CREATE), "variables": { "input": { "title": "yes" } } });
    assert_eq!(data(&post(&app, Some(&writer), JSON, create).await)["createTodo"]["title"], "yes");
}

#[tokio::test]
async fn a_query_by_apq_hash_is_refused_for_scope_when_learnt_and_when_recalled() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let reader = with_token(&user, &pat(&app, &user, &["todos:read"]).await.1);
    let learn = json!({ "query": ME, "extensions": persisted_query(&sha256(ME)) });
    assert_refused_for(&post(&app, Some(&reader), JSON, learn).await, "profile:read");
    let recall = json!({ "extensions": persisted_query(&sha256(ME)) });
    assert_refused_for(&post(&app, Some(&reader), JSON, recall.clone()).await, "profile:read");
    assert_refused_for(
        &get(&app, Some(&reader), JSON, &[("extensions", recall["extensions"].clone())]).await,
        "profile:read",
    );
    // The full session reads the same document by the same hash.
    assert_eq!(data(&post(&app, Some(&user), JSON, recall).await)["me"]["email"], json!(user.email));
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn socket_with(app: &TestApp, token: &str) -> Socket {
    let tcp = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    let mut request = format!("ws://{}/graphql/ws", app.addr).into_client_request().expect("request");
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
    let (mut socket, _) = tokio_tungstenite::client_async(request, tcp).await.expect("handshake");
    send(&mut socket, json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }))
        .await;
    assert_eq!(next(&mut socket).await["type"], "connection_ack");
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::text(message.to_string())).await.expect("send");
}

async fn next(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next()).await.expect("a message");
        match message {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).expect("JSON"),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_subscription_by_document_id_over_websocket_needs_its_scope() {
    let (_dir, manifest) = codegen_manifest(&[EVENTS, CREATE]);
    let app = TestApp::spawn_with(|config| config.trusted_documents = Some(manifest)).await;
    let user = app.sign_up().await;
    let (_, writer) = pat(&app, &user, &["todos:write"]).await;
    let mut socket = socket_with(&app, &writer).await;
    send(&mut socket, json!({ "type": "subscribe", "id": "w", "payload": { "documentId": id(EVENTS) } })).await;
    let refused = next(&mut socket).await;
    assert_eq!(refused["id"], "w", "{refused}");
    let error = if refused["type"] == "error" { &refused["payload"][0] } else { &refused["payload"]["errors"][0] };
    assert_eq!(error["extensions"]["code"], "FORBIDDEN", "{refused}");
    assert_eq!(error["extensions"]["requiredScopes"], json!([["todos:read"]]), "{refused}");
    // A read token subscribes by the same id and sees the writer's todo.
    let (_, reader) = pat(&app, &user, &["todos:read"]).await;
    let mut socket = socket_with(&app, &reader).await;
    send(&mut socket, json!({ "type": "subscribe", "id": "r", "payload": { "documentId": id(EVENTS) } })).await;
    send(&mut socket, json!({ "type": "ping" })).await;
    assert_eq!(next(&mut socket).await["type"], "pong");
    let create = json!({ "documentId": id(CREATE), "variables": { "input": { "title": "pushed" } } });
    data(&post(&app, Some(&with_token(&user, &writer)), JSON, create).await);
    let event = next(&mut socket).await;
    assert_eq!((&event["type"], &event["id"]), (&json!("next"), &json!("r")), "{event}");
    assert_eq!(event["payload"]["data"]["todoEvents"], json!({ "kind": "CREATED", "todo": { "title": "pushed" } }));
}
