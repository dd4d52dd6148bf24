//! `TRUSTED_DOCUMENTS_ONLY`: the manifest's operations run, over HTTP and WebSocket; nothing
//! else does, and the playground says why it is off.

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::support::*;
use crate::helpers::PASSWORD;

const SIGN_UP: &str = "mutation SignUp($input: SignUpInput!) { signUp(input: $input) { accessToken } }";
const EVENTS: &str = "subscription Events { todoEvents { kind todo { title } } }";

fn id(text: &str) -> String {
    format!("sha256:{}", sha256(text))
}

/// A server that runs only TODOS, CREATE, SIGN_UP and EVENTS, and a user signed up through it.
async fn locked_down() -> (TestApp, String, tempfile::TempDir) {
    let (dir, manifest) = codegen_manifest(&[TODOS, CREATE, SIGN_UP, EVENTS]);
    let app = TestApp::spawn_with(|config| {
        config.trusted_documents = Some(manifest);
        config.trusted_documents_only = true;
    })
    .await;
    let email = format!("{}@example.com", crate::helpers::unique("trusted"));
    let input = json!({ "email": email, "password": PASSWORD, "name": "Trusted" });
    let signed_up = post(&app, None, JSON, json!({ "documentId": id(SIGN_UP), "variables": { "input": input } })).await;
    let token = data(&signed_up)["signUp"]["accessToken"].as_str().expect("a token").to_owned();
    (app, token, dir)
}

async fn as_token(app: &TestApp, token: &str, accept: &str, body: Value) -> Answer {
    let user = TestUser { id: String::new(), email: String::new(), token: token.to_owned(), refresh: String::new() };
    post(app, Some(&user), accept, body).await
}

#[tokio::test]
async fn only_the_manifests_operations_run_over_http() {
    let (app, token, _dir) = locked_down().await;
    let create = json!({ "documentId": id(CREATE), "variables": { "input": { "title": "allowed" } } });
    assert_eq!(data(&as_token(&app, &token, JSON, create).await)["createTodo"]["title"], "allowed");
    let by_hash = json!({ "extensions": persisted_query(&sha256(TODOS)), "variables": { "first": 3 } });
    assert_eq!(data(&as_token(&app, &token, JSON, by_hash).await)["todos"]["totalCount"], 1);

    let me = "query Me { me { email } }";
    let refusals = [
        (json!({ "query": TODOS }), "PERSISTED_QUERY_ID_REQUIRED"),
        (json!({ "query": me }), "PERSISTED_QUERY_ID_REQUIRED"),
        (json!({ "documentId": id(me) }), "PERSISTED_QUERY_NOT_IN_LIST"),
        (json!({ "extensions": persisted_query(&sha256(me)) }), "PERSISTED_QUERY_NOT_IN_LIST"),
        // An APQ registration is not a way in: it is refused, and nothing is learnt.
        (json!({ "query": me, "extensions": persisted_query(&sha256(me)) }), "PERSISTED_QUERY_NOT_IN_LIST"),
        (json!({ "extensions": persisted_query(&sha256(me)) }), "PERSISTED_QUERY_NOT_IN_LIST"),
    ];
    for (body, code) in refusals {
        let refused = as_token(&app, &token, GRAPHQL_RESPONSE, body.clone()).await;
        assert_eq!((refused.status, error_code(&refused.body)), (400, code), "{body}: {}", refused.body);
        assert!(refused.body.get("data").is_none(), "{}", refused.body);
    }
    let over_get = get(&app, None, JSON, &[("query", json!("{ __typename }"))]).await;
    assert_eq!(error_code(&over_get.body), "PERSISTED_QUERY_ID_REQUIRED", "{}", over_get.body);
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

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
async fn only_the_manifests_operations_run_over_websocket_free_text_is_refused() {
    let (app, token, _dir) = locked_down().await;
    let tcp = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    let mut request = format!("ws://{}/graphql/ws", app.addr).into_client_request().expect("request");
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
    let (mut socket, _) = tokio_tungstenite::client_async(request, tcp).await.expect("handshake");
    send(&mut socket, json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }))
        .await;
    assert_eq!(next(&mut socket).await["type"], "connection_ack");

    let text = json!({ "query": "subscription { todoEvents { kind } }" });
    let unknown = json!({ "documentId": id("subscription { todoEvents { kind } }") });
    for (payload, code) in [(text, "PERSISTED_QUERY_ID_REQUIRED"), (unknown, "PERSISTED_QUERY_NOT_IN_LIST")] {
        send(&mut socket, json!({ "type": "subscribe", "id": code, "payload": payload })).await;
        // Refused before it ran: graphql-transport-ws's `error`, which ends the operation.
        let refused = next(&mut socket).await;
        assert_eq!((&refused["type"], &refused["id"]), (&json!("error"), &json!(code)), "{refused}");
        assert_eq!(refused["payload"][0]["extensions"]["code"], code, "{refused}");
    }

    // By documentId (lifted into the payload's extensions) and by hash, as urql sends them.
    send(&mut socket, json!({ "type": "subscribe", "id": "by-id", "payload": { "documentId": id(EVENTS) } })).await;
    let by_hash = json!({ "extensions": persisted_query(&sha256(EVENTS)) });
    send(&mut socket, json!({ "type": "subscribe", "id": "by-hash", "payload": by_hash })).await;
    send(&mut socket, json!({ "type": "ping" })).await;
    assert_eq!(next(&mut socket).await["type"], "pong");
    let create = json!({ "documentId": id(CREATE), "variables": { "input": { "title": "pushed" } } });
    data(&as_token(&app, &token, JSON, create).await);
    let mut seen = Vec::new();
    for _ in 0..2 {
        let event = next(&mut socket).await;
        assert_eq!(event["type"], "next", "{event}");
        assert_eq!(event["payload"]["data"]["todoEvents"], json!({ "kind": "CREATED", "todo": { "title": "pushed" } }));
        seen.push(event["id"].as_str().expect("an id").to_owned());
    }
    seen.sort();
    assert_eq!(seen, ["by-hash", "by-id"]);
}

#[tokio::test]
async fn the_playground_is_off_and_says_why() {
    let (app, _, _dir) = locked_down().await;
    let page = app.client.get(app.url("/playground")).send().await.expect("request");
    assert_eq!(page.status(), 404);
    assert!(page.text().await.expect("text").contains("TRUSTED_DOCUMENTS_ONLY=true"));
    let root = app.client.get(app.url("/")).send().await.expect("request");
    assert_eq!(root.status(), 404, "/ must not redirect to a playground that is off");
}
