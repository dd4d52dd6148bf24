//! `GET /graphql/ws`: subscriptions over WebSocket (`graphql-transport-ws`, and the legacy
//! `graphql-ws`), authenticated once by the `connection_init` payload.
//!
//! async-graphql speaks the protocol; this module adds what the contract asks on top of it:
//! an unusable token closes with 4403 (async-graphql would close with 1002), a socket whose
//! token expires is closed with 4403, and a client that never initialises is closed with
//! 4408 after ten seconds.

mod detached;
mod refusals;
mod sockets;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols, WsMessage};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt, future};
use serde_json::Value;

use super::App;
use crate::auth::bearer::{self, Credential};
use crate::auth::pats;
use crate::auth::throttle::{self, ClientAddr};
use crate::auth::{AuthenticatedUser, SignedInHere, Viewer};
use crate::graphql::SocketSubscriptions;
use crate::loaders::Loaders;
use crate::users::store as users;
use refusals::Refusals;
use sockets::SocketSlot;
pub use sockets::Sockets;

/// How long a client may take to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest message a client may send.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Close code for an unusable or expired token.
const FORBIDDEN: u16 = 4403;
/// Close code (RFC 6455 §7.4.1) for a token that cannot be checked right now.
const TRY_AGAIN_LATER: u16 = 1013;
/// Close code for a client that did not initialise in time, or (anonymous) went idle.
const INIT_TIMED_OUT: u16 = 4408;
/// Close code for a holder over their socket limit.
const TOO_MANY: u16 = 4429;
/// Close code (RFC 6455 §7.4.1) when the server shuts down: reconnect elsewhere.
const GOING_AWAY: u16 = 1001;

/// Upgrades the connection.
pub async fn upgrade(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(protocol) = protocol_of(&headers) else {
        let message = "request the graphql-transport-ws (or legacy graphql-ws) subprotocol";
        return (StatusCode::BAD_REQUEST, message).into_response();
    };
    let header_token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| bearer::bearer_token(v).unwrap_or("").to_owned());
    // Operations on the socket (a `signIn` sent over it, say) are charged to the client's
    // sign-in budget exactly like the same operation over HTTP.
    let client = throttle::client_of(&headers, peer.ip(), app.state.config.trust_proxy);
    // Until it proves a user, a socket counts against its client address: sockets waiting for
    // `connection_init`, and those initialised without a token.
    let holder = throttle::client_key(client.map_or(peer.ip(), |c| c.0));
    let Some(anonymous) = app.sockets.open(holder, app.state.config.ws_max_anonymous_per_client) else {
        let message = "too many WebSockets without a user from this address; sign in, or close some";
        return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "10")], message).into_response();
    };
    let connection = Connection { header_token, client, anonymous: Some(anonymous) };
    upgrade.protocols(ALL_WEBSOCKET_PROTOCOLS).max_message_size(MAX_MESSAGE_BYTES).on_upgrade(
        move |socket| async move {
            let _running = app.sockets.run();
            serve(socket, app, protocol, connection).await;
        },
    )
}

/// The first GraphQL subprotocol the client offers.
fn protocol_of(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    let offered = headers.get(header::SEC_WEBSOCKET_PROTOCOL)?.to_str().ok()?;
    offered.split(',').find_map(|p| p.trim().parse().ok())
}

/// What the upgrade request said about the client.
struct Connection {
    /// The bearer token of its `Authorization` header ("" when the header is not `Bearer`).
    header_token: Option<String>,
    /// Its address, for sign-in rate limits.
    client: Option<ClientAddr>,
    /// Its place among its address's sockets without a user, given up once it proves one.
    anonymous: Option<SocketSlot>,
}

/// What the connection learned at `connection_init`.
#[derive(Default)]
struct Session {
    /// Why `connection_init` was refused, as the close code and reason to send: an unusable
    /// token (4403), or a token that cannot be checked right now (1013, try again later).
    refused: Option<(u16, &'static str)>,
    /// When the token expires, seconds since the epoch.
    expires_at: Option<i64>,
    /// Its place in the per-user socket count (signed in) or its address's (anonymous),
    /// released with the session.
    slot: Option<SocketSlot>,
    /// The revocation watch of the personal access token that authenticated the socket.
    revocation: Option<pats::Watch>,
    /// Initialised without a token: closed once idle.
    anonymous: bool,
}

async fn serve(socket: WebSocket, app: App, protocol: WebSocketProtocols, connection: Connection) {
    let (mut sink, stream) = socket.split();
    // When the client last sent anything (microseconds since the epoch).
    let heard = Arc::new(std::sync::atomic::AtomicI64::new(crate::clock::now_micros()));
    let input = stream.take_while(|message| future::ready(message.is_ok())).filter_map({
        let heard = heard.clone();
        move |message| {
            heard.store(crate::clock::now_micros(), std::sync::atomic::Ordering::Relaxed);
            future::ready(match message {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                    let data = message.into_data();
                    // A persisted document's `documentId` (issue 14) has no place in
                    // async-graphql's request.
                    Some(crate::graphql::lift_document_id(&data).map_or(data, Into::into))
                }
                _ => None,
            })
        }
    });
    let session = Arc::new(Mutex::new(Session::default()));
    let mut going_away = app.going_away.clone();
    let idle_limit = Duration::from_secs(app.state.config.ws_anonymous_idle_timeout);
    let on_init = {
        let (app, session) = (app.clone(), session.clone());
        move |payload: Value| async move { initialise(app, session, payload, connection).await }
    };
    let executor = detached::Detached::new(app.schemas.full.clone(), app.state.documents.clone());
    let mut messages = async_graphql::http::WebSocket::new(executor, input, protocol)
        .on_connection_init(on_init)
        .keepalive_timeout(None);
    let mut refusals = Refusals::new(protocol);
    let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
    tokio::pin!(init_deadline);
    let mut acknowledged = false;
    let mut revocation = None;
    loop {
        let (expiry, anonymous) = session.lock().map_or((None, false), |s| (s.expires_at, s.anonymous));
        if revocation.is_none() {
            revocation = session.lock().ok().and_then(|mut s| s.revocation.take());
        }
        let idle_since = heard.load(std::sync::atomic::Ordering::Relaxed);
        let outgoing = tokio::select! {
            message = messages.next() => match message {
                Some(WsMessage::Text(text)) => {
                    acknowledged |= text.contains("\"connection_ack\"");
                    match refusals.rewrite(text) {
                        Some(text) => Message::Text(text.into()),
                        None => continue,
                    }
                }
                Some(WsMessage::Close(code, reason)) => match session.lock().ok().and_then(|s| s.refused) {
                    Some((code, reason)) => close(code, reason),
                    None => close(code, &reason),
                },
                None => {
                    if let Some((code, reason)) = session.lock().ok().and_then(|s| s.refused) {
                        let _ = sink.send(close(code, reason)).await;
                    }
                    break;
                }
            },
            () = expired(expiry) => close(FORBIDDEN, "the access token expired; reconnect with a fresh one"),
            () = pats::revoked(&mut revocation) => close(FORBIDDEN, "the personal access token was revoked"),
            () = &mut init_deadline, if !acknowledged => close(INIT_TIMED_OUT, "Connection initialisation timeout"),
            () = idle(idle_since, idle_limit), if anonymous => {
                if heard.load(std::sync::atomic::Ordering::Relaxed) != idle_since {
                    continue;
                }
                close(INIT_TIMED_OUT, "closed after a while without a word from a socket without a user")
            }
            () = leaving(&mut going_away) => close(GOING_AWAY, "the server is shutting down; reconnect"),
        };
        let closing = matches!(outgoing, Message::Close(_));
        // A client that stops reading blocks this send (its events wait, bounded, in the
        // event hub); its token expires all the same, and then the socket is dropped.
        let sent = tokio::select! {
            sent = sink.send(outgoing) => sent.is_ok(),
            () = expired(expiry), if !closing => false,
            () = pats::revoked(&mut revocation), if !closing => false,
        };
        if !sent || closing {
            break;
        }
    }
}

/// Resolves once the server shuts down (never if it cannot tell).
async fn leaving(going_away: &mut tokio::sync::watch::Receiver<bool>) {
    if going_away.wait_for(|leaving| *leaving).await.map(|_| ()).is_err() {
        future::pending::<()>().await;
    }
}

/// Resolves `limit` after `since` (microseconds since the epoch).
async fn idle(since: i64, limit: Duration) {
    let limit = i64::try_from(limit.as_micros()).unwrap_or(i64::MAX);
    let left = since.saturating_add(limit).saturating_sub(crate::clock::now_micros());
    tokio::time::sleep(Duration::from_micros(u64::try_from(left).unwrap_or(0))).await;
}

/// Resolves once a token that expires at `at` (seconds since the epoch) has expired; never
/// without a token.
async fn expired(at: Option<i64>) {
    match at {
        Some(at) => {
            let left = at.saturating_mul(1_000_000).saturating_sub(crate::clock::now_micros());
            tokio::time::sleep(Duration::from_micros(u64::try_from(left).unwrap_or(0))).await;
        }
        None => future::pending::<()>().await,
    }
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.to_owned().into() }))
}

/// Authenticates the connection from its `connection_init` payload (or the upgrade
/// request's header) and builds the data every operation on it shares.
async fn initialise(
    app: App,
    session: Arc<Mutex<Session>>,
    payload: Value,
    connection: Connection,
) -> async_graphql::Result<Data> {
    let token = token_in(&payload).or(connection.header_token);
    // Watching starts before the lookup: a revocation right after it is not missed.
    let watch = token.as_deref().filter(|token| pats::is_personal(token)).map(|_| pats::Watch::start(&app.state));
    let credential = match token {
        Some(token) => Some(bearer::authenticate_token(&token, &app.state).await),
        None => None,
    };
    let viewer = match credential {
        None => Viewer::Anonymous,
        Some(Credential::Valid { user_id, expires_at, access }) => {
            if let Ok(mut s) = session.lock() {
                s.expires_at = Some(expires_at);
            }
            if users::exists(&app.state, None, &user_id).await? {
                Viewer::User(AuthenticatedUser { id: user_id, access })
            } else {
                Viewer::Deleted
            }
        }
        Some(Credential::Linked { user_id, expires_at, access, .. }) => {
            if let Ok(mut s) = session.lock() {
                s.expires_at = Some(expires_at);
            }
            Viewer::User(AuthenticatedUser { id: user_id, access })
        }
        Some(Credential::Personal { user_id, token_id, expires_at, access }) => {
            if let Ok(mut s) = session.lock() {
                s.expires_at = Some(expires_at);
                s.revocation = watch.map(|watch| watch.of(token_id));
            }
            Viewer::User(AuthenticatedUser { id: user_id, access })
        }
        Some(Credential::Failed(error)) => {
            if let Ok(mut s) = session.lock() {
                s.refused = Some((TRY_AGAIN_LATER, "the token cannot be checked right now; retry later"));
            }
            return Err(error.into());
        }
        Some(_) => {
            if let Ok(mut s) = session.lock() {
                s.refused = Some((FORBIDDEN, "Forbidden"));
            }
            return Err(async_graphql::Error::new("Forbidden"));
        }
    };
    match &viewer {
        Viewer::User(user) => {
            let limit = app.state.config.ws_max_connections_per_user;
            let Some(slot) = app.sockets.open(format!("user:{}", user.id), limit) else {
                if let Ok(mut s) = session.lock() {
                    s.refused = Some((TOO_MANY, "too many open subscription sockets for this user"));
                }
                return Err(async_graphql::Error::new("too many open subscription sockets for this user"));
            };
            // Counted as the user's now, no longer as its address's.
            if let Ok(mut s) = session.lock() {
                s.slot = Some(slot);
            }
        }
        _ => {
            if let Ok(mut s) = session.lock() {
                s.slot = connection.anonymous;
                s.anonymous = true;
            }
        }
    }
    let mut data = Data::default();
    data.insert(SocketSubscriptions::new(app.state.config.ws_max_subscriptions_per_socket));
    data.insert(viewer);
    data.insert(SignedInHere::default());
    // The loaders live as long as the socket: they batch the loads of one event but must not
    // cache across events, or every later event would repeat what the first one loaded
    // (`todo { owner { todos { totalCount } } }` frozen at its first value).
    data.insert(Loaders::batching());
    if let Some(client) = connection.client {
        data.insert(client);
    }
    Ok(data)
}

/// The token a `connection_init` payload carries, in any of the conventions clients use:
/// `{"Authorization": "Bearer …"}` (key in any case), `{"headers": {"Authorization": …}}`
/// or `{"token": "…"}`. A present but malformed value yields an empty (invalid) token.
fn token_in(payload: &Value) -> Option<String> {
    let object = payload.as_object()?;
    let field = |map: &serde_json::Map<String, Value>, name: &str| {
        map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    };
    if let Some(value) = field(object, "authorization")
        .or_else(|| field(object, "headers").and_then(|h| h.as_object().and_then(|h| field(h, "authorization"))))
    {
        return Some(value.as_str().and_then(bearer::bearer_token).unwrap_or("").to_owned());
    }
    field(object, "token").map(|v| v.as_str().unwrap_or("").to_owned())
}
