//! Documents and variables nested past what a walk can follow are refused, never fatal
//! (issue 13): each hostile shape at the largest size each transport admits, over POST, GET
//! and WebSocket, anonymous and signed in, against a server in its own process — a stack
//! overflow aborts a process, and only a process can be seen to die from outside.

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::support::*;

/// The longest query text any transport accepts.
const MAX_QUERY: usize = 32 * 1024;

/// A chain of fragments, each nesting `levels` fields and spreading the next, as many as fit
/// in `bytes`: the attack of issue 13 (about 117 fragments of 62 levels in 32 KiB).
pub(super) fn nested_fragment_chain(bytes: usize, levels: usize) -> String {
    let link = |i: usize, inner: &str| {
        format!("fragment F{i} on Query{{{}{inner}{}}}", "me{".repeat(levels), "}".repeat(levels))
    };
    let mut text = String::from("{...F0}");
    let mut i = 0;
    while text.len() + link(i, &format!("...F{}", i + 1)).len() + link(i + 1, "id").len() <= bytes {
        text.push_str(&link(i, &format!("...F{}", i + 1)));
        i += 1;
    }
    text.push_str(&link(i, "id"));
    text
}

/// Thousands of fragments, each only spreading the next.
fn flat_fragment_chain(bytes: usize) -> String {
    let link = |i: usize| format!("fragment F{i} on Query{{...F{}}}", i + 1);
    let mut text = String::from("{...F0}");
    let mut i = 0;
    while text.len() + link(i).len() + 40 <= bytes {
        text.push_str(&link(i));
        i += 1;
    }
    text.push_str(&format!("fragment F{i} on Query{{__typename}}"));
    text
}

/// Fragments that each spread the next ten times: 10^n selections once inlined.
fn fan_out(levels: usize) -> String {
    let mut text = String::from("{...F0}");
    for i in 0..levels {
        text.push_str(&format!("fragment F{i} on Query{{{}}}", format!("...F{} ", i + 1).repeat(10)));
    }
    text.push_str(&format!("fragment F{levels} on Query{{__typename}}"));
    text
}

/// Inline fragments inside each other, as deep as `bytes` allows.
fn deep_inline_fragments(bytes: usize) -> String {
    let levels = (bytes - 20) / 5;
    format!("{{{}__typename{}}}", "...{".repeat(levels), "}".repeat(levels))
}

/// An argument value of lists inside lists, as deep as `bytes` allows.
fn deep_value(bytes: usize) -> String {
    let levels = (bytes - 60) / 2;
    format!("{{todos(filter:{{search:{}\"x\"{}}}){{totalCount}}}}", "[".repeat(levels), "]".repeat(levels))
}

/// A directive argument nested as deep as `bytes` allows.
fn deep_directive(bytes: usize) -> String {
    let levels = (bytes - 40) / 2;
    format!("{{__typename@include(if:{}true{})}}", "[".repeat(levels), "]".repeat(levels))
}

/// Every hostile document, named.
fn hostile_documents(bytes: usize) -> Vec<(&'static str, String)> {
    vec![
        ("nested fragment chain", nested_fragment_chain(bytes, 62)),
        ("flat fragment chain", flat_fragment_chain(bytes)),
        ("fan-out", fan_out(12)),
        ("deep inline fragments", deep_inline_fragments(bytes)),
        ("deep argument value", deep_value(bytes)),
        ("deep directive argument", deep_directive(bytes)),
    ]
}

/// The longest URI a client can send (the `http` crate's bound).
const MAX_URI: usize = 65_534;

/// Hostile document `index` at the largest size whose GET URI still fits in [`MAX_URI`] once
/// percent-encoded.
fn largest_for_get(index: usize) -> String {
    let encoded = |text: &str| serde_urlencoded::to_string([("query", text)]).map_or(usize::MAX, |q| q.len());
    let mut bytes = MAX_QUERY;
    loop {
        let document = hostile_documents(bytes).swap_remove(index).1;
        if encoded(&document) + 64 <= MAX_URI {
            return document;
        }
        bytes -= 512;
    }
}

/// Variables nested `levels` deep, as JSON text: `{"v":[[[…1…]]]}`.
fn deep_variables(levels: usize) -> String {
    format!("{{\"v\":{}1{}}}", "[".repeat(levels), "]".repeat(levels))
}

/// How a transport answered: the HTTP status (101 for a WebSocket) and the GraphQL payload.
type Answer = (u16, Value);

async fn post(server: &Server, token: Option<&str>, body: String) -> Answer {
    let mut request = server.client.post(server.url("/graphql")).header("content-type", "application/json").body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response =
        request.send().await.unwrap_or_else(|e| panic!("POST failed: {}\n{}", e.without_url(), tail(server)));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(server: &Server, token: Option<&str>, query: &str, variables: Option<&str>) -> Answer {
    let mut params = vec![("query", query)];
    if let Some(variables) = variables {
        params.push(("variables", variables));
    }
    let url = format!("{}?{}", server.url("/graphql"), serde_urlencoded::to_string(&params).expect("encode"));
    let mut request = server.client.get(url).header("accept", "application/json");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("GET failed: {}\n{}", e.without_url(), tail(server)));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Sends one `subscribe` message (raw JSON text) on a fresh `graphql-transport-ws` socket and
/// returns the first answer to it: the `error` payload, the `next` payload, or the close code.
async fn websocket(server: &Server, token: Option<&str>, subscribe: String) -> Answer {
    let mut request = format!("ws://{}/graphql/ws", server.addr).into_client_request().expect("request");
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
    let (mut socket, _) = within(HANG, tokio_tungstenite::connect_async(request))
        .await
        .unwrap_or_else(|e| panic!("WebSocket failed: {e}\n{}", tail(server)));
    let payload = token.map_or(json!({}), |t| json!({ "Authorization": format!("Bearer {t}") }));
    let init = json!({ "type": "connection_init", "payload": payload });
    socket.send(Message::text(init.to_string())).await.expect("send init");
    let _ = socket.send(Message::text(subscribe)).await;
    loop {
        match within(HANG, socket.next()).await {
            Some(Ok(Message::Text(text))) => {
                let message: Value = serde_json::from_str(&text).expect("a JSON message");
                match message["type"].as_str() {
                    Some("connection_ack") => continue,
                    Some("error") => return (101, json!({ "errors": message["payload"] })),
                    _ => return (101, message["payload"].clone()),
                }
            }
            Some(Ok(Message::Close(frame))) => return (frame.map_or(0, |f| u16::from(f.code)), Value::Null),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return (0, Value::Null),
        }
    }
}

fn subscribe_message(query: &str, variables: &Value) -> String {
    json!({ "type": "subscribe", "id": "1", "payload": { "query": query, "variables": variables } }).to_string()
}

fn tail(server: &Server) -> String {
    let output = server.output();
    output.lines().rev().take(5).collect::<Vec<_>>().join("\n")
}

/// The answer refuses the request with a coded error and runs nothing; never a 5xx.
fn assert_refused(what: &str, (status, body): &Answer) {
    assert!(*status < 500, "{what}: HTTP {status}: {body}");
    let errors = body["errors"].as_array().unwrap_or_else(|| panic!("{what}: no errors: {status} {body}"));
    assert!(!errors.is_empty(), "{what}: {body}");
    for error in errors {
        assert!(error["extensions"]["code"].is_string(), "{what}: an error without a code: {body}");
    }
    assert!(body["data"].is_null(), "{what}: something ran: {body}");
}

async fn assert_alive(server: &mut Server, what: &str) {
    if let Some(status) = server.child.try_wait().expect("poll todoql") {
        panic!("{what} killed todoql ({status}):\n{}", tail(server));
    }
    let (status, body) = server.graphql(None, "{ __typename }", json!({})).await;
    assert_eq!((status, &body), (200, &json!({ "data": { "__typename": "Query" } })), "after {what}");
}

#[tokio::test]
async fn a_nested_fragment_chain_and_every_other_deep_document_is_refused_not_fatal_on_every_transport() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Server::start(dir.path(), &fresh_database(dir.path()).await, &[]);
    server.ready().await;
    let (token, _) = server.sign_up(PASSWORD).await;
    for (index, (name, document)) in hostile_documents(MAX_QUERY).into_iter().enumerate() {
        assert!(document.len() <= MAX_QUERY, "{name} is {} bytes", document.len());
        for token in [None, Some(token.as_str())] {
            let who = if token.is_some() { "signed in" } else { "anonymous" };
            let body = json!({ "query": document }).to_string();
            let answer = post(&server, token, body).await;
            assert_refused(&format!("POST {name}, {who}"), &answer);
            assert_alive(&mut server, name).await;
            let answer = get(&server, token, &largest_for_get(index), None).await;
            assert_refused(&format!("GET {name}, {who}"), &answer);
            assert_alive(&mut server, name).await;
            let answer = websocket(&server, token, subscribe_message(&document, &json!({}))).await;
            assert_refused(&format!("WebSocket {name}, {who}"), &answer);
            assert_alive(&mut server, name).await;
        }
    }
    // What a real client sends still runs: GraphiQL's introspection nests about 15 levels.
    let (_, body) = server.graphql(None, INTROSPECTION, json!({})).await;
    assert!(body["data"]["__schema"]["types"].is_array(), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn a_longer_text_over_websocket_is_refused_like_over_http() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Server::start(dir.path(), &fresh_database(dir.path()).await, &[]);
    server.ready().await;
    // The WebSocket message limit (64 KiB) admits twice the text HTTP does: the text limit
    // applies to the operation, whatever carries it.
    let document = nested_fragment_chain(60 * 1024, 62);
    let answer = websocket(&server, None, subscribe_message(&document, &json!({}))).await;
    assert_refused("64 KiB chain over WebSocket", &answer);
    assert_eq!(answer.1["errors"][0]["extensions"]["code"], "QUERY_TOO_LARGE", "{}", answer.1);
    let padded = format!("{{ __typename }}#{}", "x".repeat(40 * 1024));
    let answer = websocket(&server, None, subscribe_message(&padded, &json!({}))).await;
    assert_eq!(answer.1["errors"][0]["extensions"]["code"], "QUERY_TOO_LARGE", "{}", answer.1);
    let (status, body) = post(&server, None, json!({ "query": padded }).to_string()).await;
    assert_eq!((status, body["errors"][0]["extensions"]["code"].as_str()), (413, Some("QUERY_TOO_LARGE")), "{body}");
    assert_alive(&mut server, "long texts").await;
    server.stop().await;
}

#[tokio::test]
async fn deep_variables_are_refused_not_fatal_on_every_transport() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Server::start(dir.path(), &fresh_database(dir.path()).await, &[]);
    server.ready().await;
    let (token, _) = server.sign_up(PASSWORD).await;
    let query = "query($v: TodoFilter) { todos(filter: $v) { totalCount } }";
    // Within the JSON parser's nesting limit (128), and far past it.
    for levels in [120, 10_000] {
        let raw_variables = deep_variables(levels);
        for token in [None, Some(token.as_str())] {
            let body = format!("{{\"query\":{},\"variables\":{raw_variables}}}", json!(query));
            let what = format!("{levels} levels of variables");
            let answer = post(&server, token, body).await;
            assert!(
                answer.0 < 500 && answer.1["errors"][0]["extensions"]["code"].is_string(),
                "POST {what}: {answer:?}"
            );
            assert_alive(&mut server, &what).await;
            // As deep as a URI holds.
            let answer = get(&server, token, query, Some(&deep_variables(levels.min(8_000)))).await;
            assert!(
                answer.0 < 500 && answer.1["errors"][0]["extensions"]["code"].is_string(),
                "GET {what}: {answer:?}"
            );
            assert_alive(&mut server, &what).await;
            let message = format!(
                "{{\"type\":\"subscribe\",\"id\":\"1\",\"payload\":{{\"query\":{},\"variables\":{raw_variables}}}}}",
                json!(query)
            );
            if message.len() < 64 * 1024 {
                let answer = websocket(&server, token, message).await;
                // A message the protocol cannot read closes the socket (4400); one it can is
                // answered with a coded error.
                let coded = answer.1["errors"][0]["extensions"]["code"].is_string();
                assert!(coded || [1002, 4400].contains(&answer.0), "WebSocket {what}: {answer:?}");
                assert_alive(&mut server, &what).await;
            }
        }
    }
    server.stop().await;
}

/// GraphiQL's introspection query (graphiql 4), the deepest document a real client sends.
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}
"#;
