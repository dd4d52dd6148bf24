//! On PostgreSQL, several instances share one database: a token created through one works on
//! another, and its revocation through one holds on every other from the next request on.
//! (Its sockets: `subscriptions::tokens`.) On SQLite these return at once, saying so.

use serde_json::json;

use super::support::{pat, revoke, with_token};
use crate::helpers::{TestApp, fresh_database};

fn on_postgres() -> bool {
    let postgres = std::env::var("TODOQL_TEST_DATABASE").is_ok_and(|url| url.starts_with("postgres"));
    if !postgres {
        eprintln!("skipped: needs TODOQL_TEST_DATABASE=postgres://… (scripts/test sets it)");
    }
    postgres
}

#[tokio::test]
async fn a_token_revoked_on_one_instance_is_refused_by_another_on_its_very_next_request() {
    if !on_postgres() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_database(dir.path()).await;
    let a = TestApp::spawn_with(|c| c.database.database_url = url.clone()).await;
    let b = TestApp::spawn_with(|c| c.database.database_url = url.clone()).await;
    let user = a.sign_up().await;
    let (id, token) = pat(&a, &user, &["profile:read"]).await;
    let holder = with_token(&user, &token);
    for _ in 0..3 {
        let body = b.as_user(&holder, "{ me { id } }", json!({})).await;
        assert_eq!(body["data"]["me"]["id"], json!(user.id), "{body}");
    }
    assert!(revoke(&a, &user, &id).await);
    // No waiting: B holds nothing about the token that could be stale.
    let (status, body) = b.post(Some(&token), "{ me { id } }", json!({})).await;
    assert_eq!(status, 401, "{body}");
}
