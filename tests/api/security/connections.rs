//! Connections and sockets (issue 13): half-sent requests and idle connections are closed by
//! the server, open connections are capped with a clean refusal, WebSockets without a user
//! are bounded per address and closed when silent, subscriptions are bounded per socket, and
//! shutting down tells WebSockets to go away.

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::support::*;

const REQUEST: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: todoql\r\n\r\n";
/// The same, asking the server to close the connection once it has answered.
const REQUEST_AND_CLOSE: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: todoql\r\nconnection: close\r\n\r\n";

/// Reads until the server closes the connection (bounded by [`HANG`]); returns what it sent.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    within(HANG, stream.read_to_end(&mut received)).await.ok();
    String::from_utf8_lossy(&received).into_owned()
}

/// Reads one response head (up to the blank line) off a keep-alive connection.
async fn response_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = within(HANG, stream.read(&mut byte)).await.expect("read");
        assert_eq!(read, 1, "closed mid-response: {}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    // /healthz answers a short body: read it too, by its length.
    let head = String::from_utf8_lossy(&head).into_owned();
    let length = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>()))
        .and_then(Result::ok)
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    within(HANG, stream.read_exact(&mut body)).await.expect("body");
    head
}

#[tokio::test]
async fn a_half_sent_request_is_closed_at_the_header_timeout_while_an_idle_keep_alive_outlives_it() {
    let app = TestApp::spawn_with(|c| {
        c.http_header_timeout = 0.3;
        c.http_idle_timeout = 30.0;
    })
    .await;
    // Half a request, then nothing: the server hangs up without answering.
    let mut slow = TcpStream::connect(app.addr).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: tod").await.expect("write");
    assert_eq!(until_closed(&mut slow).await, "", "half a request gets no answer, only a close");
    // A client between requests is idle, not slow: a pause longer than the header timeout
    // keeps its connection.
    let mut keep = TcpStream::connect(app.addr).await.expect("connect");
    keep.write_all(REQUEST).await.expect("write");
    assert!(response_head(&mut keep).await.starts_with("HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(900)).await;
    keep.write_all(REQUEST).await.expect("write on the kept connection");
    assert!(response_head(&mut keep).await.starts_with("HTTP/1.1 200"), "the idle connection was kept");
}

/// The connection's task looks at its deadline when its timer fires, not when a request's
/// bytes arrive: a request begun on a connection whose timer is set for its idle deadline
/// must still be cut off at the header timeout, not at that later deadline.
#[tokio::test]
async fn a_second_request_half_sent_on_a_kept_connection_is_closed_at_the_header_timeout() {
    let app = TestApp::spawn_with(|c| {
        c.http_header_timeout = 0.3;
        c.http_idle_timeout = 120.0;
    })
    .await;
    let mut kept = TcpStream::connect(app.addr).await.expect("connect");
    kept.write_all(REQUEST).await.expect("write");
    assert!(response_head(&mut kept).await.starts_with("HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    kept.write_all(b"GET /healthz HTTP/1.1\r\nhost: tod").await.expect("write half a request");
    let started = std::time::Instant::now();
    assert_eq!(until_closed(&mut kept).await, "", "half a request gets no answer, only a close");
    // until_closed gives up after HANG, long before the idle deadline: a close before then
    // came from the header timeout.
    assert!(started.elapsed() < HANG, "closed at the header timeout, not at the idle deadline");
}

#[tokio::test]
async fn an_idle_connection_is_closed_at_the_idle_timeout() {
    let app = TestApp::spawn_with(|c| c.http_idle_timeout = 0.3).await;
    let mut idle = TcpStream::connect(app.addr).await.expect("connect");
    assert_eq!(until_closed(&mut idle).await, "", "never a byte: closed");
    let mut kept = TcpStream::connect(app.addr).await.expect("connect");
    kept.write_all(REQUEST).await.expect("write");
    assert!(response_head(&mut kept).await.starts_with("HTTP/1.1 200"));
    assert_eq!(until_closed(&mut kept).await, "", "idle after its response: closed");
}

#[tokio::test]
async fn past_the_connection_cap_a_new_connection_is_refused_with_503_and_served_once_one_closes() {
    let app = TestApp::spawn_with(|c| c.max_connections = 3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(app.addr).await.expect("connect");
        stream.write_all(REQUEST).await.expect("write");
        assert!(response_head(&mut stream).await.starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let mut over = TcpStream::connect(app.addr).await.expect("connect");
    over.write_all(REQUEST).await.expect("write");
    let refused = until_closed(&mut over).await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.to_ascii_lowercase().contains("retry-after: 1"), "{refused}");
    drop(held.pop());
    // The closed one's place frees as soon as the server sees it go.
    served_once_a_place_frees("127.0.0.1", app.addr).await;
}

/// Connects from `from` until a request is served (bounded by [`HANG`]): a place freed by a
/// closed connection comes back as soon as the server sees it go.
async fn served_once_a_place_frees(from: &str, to: SocketAddr) {
    let served = within(HANG, async {
        loop {
            let mut stream = connect_from(from, to).await;
            stream.write_all(REQUEST_AND_CLOSE).await.expect("write");
            let head = until_closed(&mut stream).await;
            if head.starts_with("HTTP/1.1 200") {
                break head;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(served.starts_with("HTTP/1.1 200"));
}

/// A connection from `from` (any address of 127/8 is this machine's).
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind(format!("{from}:0").parse().expect("address")).expect("bind");
    socket.connect(to).await.expect("connect")
}

#[tokio::test]
async fn one_client_address_holds_at_most_its_share_of_connections_half_open_or_not() {
    let app = TestApp::spawn_with(|c| c.max_connections_per_client = 4).await;
    // Four connections from one address, each holding half a request (slowloris) or served.
    let mut held = Vec::new();
    for i in 0..4 {
        let mut stream = connect_from("127.0.0.3", app.addr).await;
        if i % 2 == 0 {
            stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: tod").await.expect("write");
        } else {
            stream.write_all(REQUEST).await.expect("write");
            assert!(response_head(&mut stream).await.starts_with("HTTP/1.1 200"));
        }
        held.push(stream);
    }
    // The fifth from that address is refused…
    let mut over = connect_from("127.0.0.3", app.addr).await;
    over.write_all(REQUEST).await.expect("write");
    let refused = until_closed(&mut over).await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.to_ascii_lowercase().contains("retry-after: 1"), "{refused}");
    // …while another address is served as usual.
    let mut other = connect_from("127.0.0.4", app.addr).await;
    other.write_all(REQUEST_AND_CLOSE).await.expect("write");
    assert!(until_closed(&mut other).await.starts_with("HTTP/1.1 200"));
    // A closed connection gives its place back.
    drop(held.remove(0));
    served_once_a_place_frees("127.0.0.3", app.addr).await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_connections_are_not_capped_per_address() {
    // Every connection comes from the proxy: the per-address cap would cap the whole site.
    let app = TestApp::spawn_with(|c| {
        c.max_connections_per_client = 2;
        c.trust_proxy = 1;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = connect_from("127.0.0.5", app.addr).await;
        stream.write_all(REQUEST).await.expect("write");
        assert!(response_head(&mut stream).await.starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn open_socket(addr: SocketAddr) -> Result<Socket, u16> {
    let mut request = format!("ws://{addr}/graphql/ws").into_client_request().expect("request");
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
    match within(HANG, tokio_tungstenite::connect_async(request)).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(error) => panic!("WebSocket: {error}"),
    }
}

async fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::text(message.to_string())).await.expect("send");
}

/// The next text message, or the close code.
async fn next(socket: &mut Socket) -> Result<Value, Option<u16>> {
    loop {
        match within(HANG, socket.next()).await {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text).expect("JSON")),
            Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(None),
        }
    }
}

#[tokio::test]
async fn websockets_without_a_user_are_bounded_per_address_and_a_signed_in_one_frees_its_place() {
    let app = TestApp::spawn_with(|c| c.ws_max_anonymous_per_client = 2).await;
    let user = app.sign_up().await;
    let (first, mut second) =
        (open_socket(app.addr).await.expect("first"), open_socket(app.addr).await.expect("second"));
    assert_eq!(open_socket(app.addr).await.err(), Some(429), "a third socket without a user is refused");
    // One proves a user: it counts as theirs now, and its address has room again.
    send(
        &mut second,
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", user.token) } }),
    )
    .await;
    assert_eq!(next(&mut second).await.expect("ack")["type"], "connection_ack");
    let third = open_socket(app.addr).await.expect("room once one signed in");
    assert_eq!(open_socket(app.addr).await.err(), Some(429));
    drop((first, third));
    // Closed sockets free their places.
    within(HANG, async {
        while open_socket(app.addr).await.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_silent_websocket_without_a_user_is_closed_and_a_signed_in_one_is_not() {
    let app = TestApp::spawn_with(|c| c.ws_anonymous_idle_timeout = 1).await;
    let user = app.sign_up().await;
    let mut anonymous = open_socket(app.addr).await.expect("socket");
    send(&mut anonymous, json!({ "type": "connection_init", "payload": {} })).await;
    assert_eq!(next(&mut anonymous).await.expect("ack")["type"], "connection_ack");
    let mut signed_in = open_socket(app.addr).await.expect("socket");
    send(
        &mut signed_in,
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", user.token) } }),
    )
    .await;
    assert_eq!(next(&mut signed_in).await.expect("ack")["type"], "connection_ack");
    assert_eq!(next(&mut anonymous).await.err(), Some(Some(4408)), "silent and anonymous: closed");
    send(&mut signed_in, json!({ "type": "ping" })).await;
    assert_eq!(next(&mut signed_in).await.expect("pong")["type"], "pong", "the signed-in socket stays");
}

#[tokio::test]
async fn a_subscription_past_the_sockets_bound_gets_an_error_and_completing_one_makes_room() {
    let app = TestApp::spawn_with(|c| c.ws_max_subscriptions_per_socket = 2).await;
    let user = app.sign_up().await;
    let mut socket = open_socket(app.addr).await.expect("socket");
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", user.token) } }),
    )
    .await;
    assert_eq!(next(&mut socket).await.expect("ack")["type"], "connection_ack");
    let events = "subscription { todoEvents { kind todoId } }";
    for id in ["1", "2", "3"] {
        send(&mut socket, json!({ "type": "subscribe", "id": id, "payload": { "query": events } })).await;
    }
    // The three are prepared side by side: whichever comes third is refused.
    let refused = next(&mut socket).await.expect("an error");
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS", "{refused}");
    let running: Vec<&str> = ["1", "2", "3"].into_iter().filter(|id| refused["id"] != *id).collect();
    // Queries still run beside the two subscriptions.
    send(&mut socket, json!({ "type": "subscribe", "id": "q", "payload": { "query": "{ me { id } }" } })).await;
    assert_eq!(next(&mut socket).await.expect("the query's answer")["id"], "q");
    assert_eq!(next(&mut socket).await.expect("its complete")["type"], "complete");
    send(&mut socket, json!({ "type": "complete", "id": running[0] })).await;
    send(&mut socket, json!({ "type": "subscribe", "id": "4", "payload": { "query": events } })).await;
    send(&mut socket, json!({ "type": "ping" })).await;
    loop {
        let message = next(&mut socket).await.expect("a message");
        match message["type"].as_str() {
            Some("pong") => break,
            // async-graphql confirms the completed one.
            Some("complete") if message["id"] == running[0] => continue,
            _ => panic!("the fourth was refused: {message}"),
        }
    }
    app.create_todo(&user, "seen by the two running").await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        let message = next(&mut socket).await.expect("an event");
        assert_eq!(message["type"], "next", "{message}");
        seen.push(message["id"].as_str().expect("an id").to_owned());
    }
    seen.sort();
    assert_eq!(seen, [running[1], "4"]);
}

#[tokio::test]
async fn on_sigterm_open_websockets_are_told_to_go_away_with_1001() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path(), &fresh_database(dir.path()).await, &[]);
    server.ready().await;
    let (token, _) = server.sign_up(PASSWORD).await;
    let mut socket = open_socket(server.addr).await.expect("socket");
    send(&mut socket, json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }))
        .await;
    assert_eq!(next(&mut socket).await.expect("ack")["type"], "connection_ack");
    send(
        &mut socket,
        json!({ "type": "subscribe", "id": "1", "payload": { "query": "subscription { todoEvents { kind } }" } }),
    )
    .await;
    send(&mut socket, json!({ "type": "ping" })).await;
    assert_eq!(next(&mut socket).await.expect("pong")["type"], "pong");
    let stopping = tokio::spawn(server.stop());
    assert_eq!(next(&mut socket).await.err(), Some(Some(1001)), "going away");
    let output = within(HANG, stopping).await.expect("stopped");
    assert!(!output.contains("panicked"), "{output}");
}
