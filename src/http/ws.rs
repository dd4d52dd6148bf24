//! `GET /graphql/ws`: subscriptions over WebSocket (`graphql-transport-ws`, and the legacy
//! `graphql-ws`), authenticated once by the `connection_init` payload.
//!
//! async-graphql speaks the protocol; this module adds what the contract asks on top of it:
//! an unusable token closes with 4403 (async-graphql would close with 1002), a socket whose
//! token expires is closed with 4403, and a client that never initialises is closed with
//! 4408 after ten seconds.

use std::collections::HashMap;
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
use crate::loaders::Loaders;
use crate::users::store as users;

/// How long a client may take to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest message a client may send.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Close code for an unusable or expired token.
const FORBIDDEN: u16 = 4403;
/// Close code (RFC 6455 §7.4.1) for a token that cannot be checked right now.
const TRY_AGAIN_LATER: u16 = 1013;
/// Close code for a client that did not initialise in time.
const INIT_TIMED_OUT: u16 = 4408;

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
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve(socket, app, protocol, Connection { header_token, client }))
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
}

/// Close code for a user over their socket limit.
const TOO_MANY: u16 = 4429;

/// Open sockets per signed-in user on this instance.
#[derive(Default)]
pub struct Sockets(Mutex<HashMap<String, usize>>);

impl Sockets {
    /// Counts a socket for `user_id` unless they already have `limit`.
    fn open(self: &Arc<Self>, user_id: &str, limit: usize) -> Option<SocketSlot> {
        let mut open = self.0.lock().ok()?;
        let count = open.entry(user_id.to_owned()).or_default();
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(SocketSlot { sockets: self.clone(), user_id: user_id.to_owned() })
    }
}

/// One counted socket; dropping it (the socket ended) uncounts it.
struct SocketSlot {
    sockets: Arc<Sockets>,
    user_id: String,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.sockets.0.lock()
            && let Some(count) = open.get_mut(&self.user_id)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

/// What the connection learned at `connection_init`.
#[derive(Default)]
struct Session {
    /// Why `connection_init` was refused, as the close code and reason to send: an unusable
    /// token (4403), or a token that cannot be checked right now (1013, try again later).
    refused: Option<(u16, &'static str)>,
    /// When the token expires, seconds since the epoch.
    expires_at: Option<i64>,
    /// The signed-in user's place in the per-user socket count, released with the session.
    slot: Option<SocketSlot>,
    /// The revocation watch of the personal access token that authenticated the socket.
    revocation: Option<pats::Watch>,
}

async fn serve(socket: WebSocket, app: App, protocol: WebSocketProtocols, connection: Connection) {
    let (mut sink, stream) = socket.split();
    let input = stream.take_while(|message| future::ready(message.is_ok())).filter_map(|message| {
        future::ready(match message {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => Some(message.into_data()),
            _ => None,
        })
    });
    let session = Arc::new(Mutex::new(Session::default()));
    let on_init = {
        let (app, session) = (app.clone(), session.clone());
        move |payload: Value| async move { initialise(app, session, payload, connection).await }
    };
    let mut messages = async_graphql::http::WebSocket::new(app.schemas.full.clone(), input, protocol)
        .on_connection_init(on_init)
        .keepalive_timeout(None);
    let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
    tokio::pin!(init_deadline);
    let mut acknowledged = false;
    let mut revocation = None;
    loop {
        let expiry = session.lock().ok().and_then(|s| s.expires_at);
        if revocation.is_none() {
            revocation = session.lock().ok().and_then(|mut s| s.revocation.take());
        }
        let outgoing = tokio::select! {
            message = messages.next() => match message {
                Some(WsMessage::Text(text)) => {
                    acknowledged |= text.contains("\"connection_ack\"");
                    Message::Text(text.into())
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
    if let Viewer::User(user) = &viewer {
        let limit = app.state.config.ws_max_connections_per_user;
        let Some(slot) = app.sockets.open(&user.id, limit) else {
            if let Ok(mut s) = session.lock() {
                s.refused = Some((TOO_MANY, "too many open subscription sockets for this user"));
            }
            return Err(async_graphql::Error::new("too many open subscription sockets for this user"));
        };
        if let Ok(mut s) = session.lock() {
            s.slot = Some(slot);
        }
    }
    let mut data = Data::default();
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
