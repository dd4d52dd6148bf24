//! Scopes and personal access tokens over WebSocket: `todoEvents` is allowed or refused as
//! declared for every set of scopes; a personal access token authenticates a socket with
//! exactly its scopes, and its revocation closes the socket with 4403, on this instance and
//! (PostgreSQL) from another.

use super::support::*;
use crate::scopes::support::{allows, declared, pat, revoke, scoped_jwt, subsets};

const FORBIDDEN: u16 = 4403;

/// A socket authenticated by `token`.
async fn socket_with(app: &TestApp, token: &str) -> Socket {
    let mut socket = connect(app, TRANSPORT_WS).await;
    init(&mut socket, json!({ "Authorization": format!("Bearer {token}") })).await;
    socket
}

/// Whether subscription `id` on `socket` was refused: its first message is an error (with the
/// refusal's extensions). The ping after it is answered once the subscribe was handled, but a
/// refusal is only sent when its stream is first polled, which can come right after the pong
/// when both messages arrive together (a busy machine): after the pong, a short wait tells a
/// late refusal from a subscription that runs (and sends nothing until a write).
async fn refusal(socket: &mut Socket, id: &str) -> Option<Value> {
    send(socket, json!({ "type": "subscribe", "id": id, "payload": { "query": EVENTS } })).await;
    send(socket, json!({ "type": "ping" })).await;
    let mut ponged = false;
    loop {
        let message = if ponged {
            match tokio::time::timeout(Duration::from_millis(500), read_text(socket)).await {
                Ok(message) => message,
                Err(_) => return None,
            }
        } else {
            read_text(socket).await
        };
        match message["type"].as_str() {
            Some("pong") => ponged = true,
            Some("error") => return Some(message["payload"][0].clone()),
            // An error in the subscription's first result; or an event of an earlier round's
            // write (PostgreSQL delivers them through its listener), skipped.
            Some("next") if !message["payload"]["errors"].is_null() => {
                return Some(message["payload"]["errors"][0].clone());
            }
            Some("next") => {}
            _ => panic!("unexpected {message}"),
        }
    }
}

#[tokio::test]
async fn todo_events_is_allowed_or_refused_as_declared_for_every_set_of_scopes() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let requirement = declared("Subscription", "todoEvents");
    for scopes in subsets() {
        let mut tokens = vec![scoped_jwt(&user, &scopes)];
        if !scopes.is_empty() {
            tokens.push(pat(&app, &user, &scopes).await.1);
        }
        for token in tokens {
            let mut socket = socket_with(&app, &token).await;
            match refusal(&mut socket, "1").await {
                None => {
                    assert!(allows(&requirement, &scopes), "{scopes:?} may not subscribe");
                    let id = app.create_todo(&user, "seen").await;
                    // On PostgreSQL the previous round's creation may still be on its way to
                    // this instance's listener when this socket subscribes: skip it.
                    while next_event(&mut socket, "1").await["todoId"] != json!(id) {}
                }
                Some(error) => {
                    assert!(!allows(&requirement, &scopes), "{scopes:?} may subscribe: {error}");
                    assert_eq!(error["extensions"]["code"], "FORBIDDEN", "{error}");
                    assert_eq!(error["extensions"]["requiredScopes"], json!(requirement), "{error}");
                }
            }
        }
    }
}

#[tokio::test]
async fn a_read_only_token_reads_over_its_socket_but_cannot_write() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let (_, token) = pat(&app, &user, &["todos:read"]).await;
    let mut socket = socket_with(&app, &token).await;
    let read = operation(&mut socket, "1", "{ todos { totalCount } }", json!({})).await;
    assert_eq!(read["data"]["todos"]["totalCount"], 0, "{read}");
    let write =
        operation(&mut socket, "2", "mutation { createTodo(input: { title: \"no\" }) { id } }", json!({})).await;
    assert_eq!(write["errors"][0]["extensions"]["requiredScopes"], json!([["todos:write"]]), "{write}");
}

#[tokio::test]
async fn revoking_a_token_closes_its_sockets_with_4403() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let (id, token) = pat(&app, &user, &["todos:read"]).await;
    let (_, other) = pat(&app, &user, &["todos:read"]).await;
    let mut revoked = socket_with(&app, &token).await;
    let mut kept = socket_with(&app, &other).await;
    subscribe(&mut revoked, "1", EVENTS).await;
    subscribe(&mut kept, "1", EVENTS).await;
    assert!(revoke(&app, &user, &id).await);
    assert_eq!(close_code(&mut revoked).await, Some(FORBIDDEN));
    // The other token's socket is untouched: it still receives events.
    let todo = app.create_todo(&user, "after").await;
    assert_eq!(next_event(&mut kept, "1").await["todoId"], json!(todo));
    // And the revoked token cannot open a new one.
    let mut again = connect(&app, TRANSPORT_WS).await;
    send(&mut again, json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }))
        .await;
    assert_eq!(close_code(&mut again).await, Some(FORBIDDEN));
}

#[tokio::test]
async fn a_token_revoked_through_another_instance_closes_its_socket_here() {
    let Some(_) = postgres_admin_url() else {
        eprintln!("skipped: needs TODOQL_TEST_DATABASE=postgres://…");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_database(dir.path()).await;
    let a = TestApp::spawn_with(|c| c.database.database_url = url.clone()).await;
    let b = TestApp::spawn_with(|c| c.database.database_url = url.clone()).await;
    let user = a.sign_up().await;
    let (id, token) = pat(&a, &user, &["todos:read"]).await;
    let mut socket = socket_with(&b, &token).await;
    subscribe(&mut socket, "1", EVENTS).await;
    assert!(revoke(&a, &user, &id).await);
    assert_eq!(close_code(&mut socket).await, Some(FORBIDDEN));
}
