//! Sign-up, sign-in, refresh rotation, sign-out, and what counts as a usable token.

use serde_json::json;

use crate::helpers::{PASSWORD, SECRET, TestApp, error_code, now, sign, unique};

const SIGN_IN: &str = "mutation($email: String!, $password: String!) { signIn(input: { email: $email, password: $password }) { accessToken refreshToken tokenType expiresIn user { id email } } }";
const REFRESH: &str =
    "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken user { id } } }";
const ME: &str = "{ me { id email name } }";

#[tokio::test]
async fn sign_up_returns_tokens_and_a_normalized_user() {
    let app = TestApp::spawn().await;
    let email = format!("  {}@Example.COM ", unique("Mixed"));
    let body = app
        .anonymous(
            "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken refreshToken tokenType expiresIn user { id email name createdAt } } }",
            json!({ "i": { "email": email, "password": PASSWORD, "name": "  Ann  " } }),
        )
        .await;
    let payload = &body["data"]["signUp"];
    assert_eq!(payload["tokenType"], "Bearer", "{body}");
    assert_eq!(payload["expiresIn"], 900);
    assert_eq!(payload["user"]["email"], email.trim().to_lowercase());
    assert_eq!(payload["user"]["name"], "Ann");
    assert!(payload["refreshToken"].as_str().is_some_and(|t| t.len() >= 40));
    let claims =
        jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(payload["accessToken"].as_str().unwrap())
            .expect("a JWT")
            .claims;
    assert_eq!(claims["sub"], payload["user"]["id"]);
    assert_eq!(claims["email"], email.trim().to_lowercase());
    assert!(claims["iat"].is_i64() && claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() == 900);
}

#[tokio::test]
async fn a_taken_email_is_refused_in_any_case() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let body = app
        .anonymous(
            "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
            json!({ "i": { "email": user.email.to_uppercase(), "password": PASSWORD, "name": "Again" } }),
        )
        .await;
    assert_eq!(error_code(&body), "EMAIL_TAKEN");
}

#[tokio::test]
async fn sign_up_inputs_are_checked_with_the_field_named() {
    let app = TestApp::spawn().await;
    let long_local = "a".repeat(250);
    let cases = [
        (json!({ "email": "no-at-sign", "password": PASSWORD, "name": "N" }), "email"),
        (json!({ "email": "@example.com", "password": PASSWORD, "name": "N" }), "email"),
        (json!({ "email": "a@b@c", "password": PASSWORD, "name": "N" }), "email"),
        (json!({ "email": format!("{long_local}@ex.com"), "password": PASSWORD, "name": "N" }), "email"),
        (json!({ "email": "short@example.com", "password": "1234567", "name": "N" }), "password"),
        (json!({ "email": "long@example.com", "password": "p".repeat(129), "name": "N" }), "password"),
        (json!({ "email": "blank@example.com", "password": PASSWORD, "name": "   " }), "name"),
        (json!({ "email": "name@example.com", "password": PASSWORD, "name": "n".repeat(101) }), "name"),
    ];
    for (input, field) in cases {
        let body = app
            .anonymous("mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }", json!({ "i": input }))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{input}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{input}: {body}");
    }
    // Lengths are characters, not bytes: 8 multi-byte characters are a valid password.
    let body = app
        .anonymous(
            "mutation($i: SignUpInput!) { signUp(input: $i) { user { name } } }",
            json!({ "i": { "email": "utf8@example.com", "password": "ééééééé€", "name": "é".repeat(100) } }),
        )
        .await;
    assert!(body["data"]["signUp"].is_object(), "{body}");
}

#[tokio::test]
async fn sign_in_works_and_wrong_password_or_unknown_email_look_the_same() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let ok = app.anonymous(SIGN_IN, json!({ "email": user.email.to_uppercase(), "password": PASSWORD })).await;
    assert_eq!(ok["data"]["signIn"]["user"]["id"], user.id.as_str(), "{ok}");
    assert_eq!(ok["data"]["signIn"]["tokenType"], "Bearer");

    let wrong = app.anonymous(SIGN_IN, json!({ "email": user.email, "password": "not the password" })).await;
    let unknown = app.anonymous(SIGN_IN, json!({ "email": "nobody@example.com", "password": PASSWORD })).await;
    assert_eq!(error_code(&wrong), "INVALID_CREDENTIALS");
    assert_eq!(error_code(&unknown), "INVALID_CREDENTIALS");
    assert_eq!(wrong["errors"][0]["message"], unknown["errors"][0]["message"]);
}

#[tokio::test]
async fn the_access_token_signs_the_user_in() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let body = app.as_user(&user, ME, json!({})).await;
    assert_eq!(body["data"]["me"]["id"], user.id.as_str());
    assert_eq!(body["data"]["me"]["email"], user.email.as_str());
    // The scheme is case-insensitive.
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("authorization", format!("bEaReR {}", user.token))
        .json(&json!({ "query": ME }))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["data"]["me"]["id"], user.id.as_str());
}

#[tokio::test]
async fn anonymous_requests_are_unauthenticated_on_private_fields() {
    let app = TestApp::spawn().await;
    for query in [
        "{ me { id } }",
        "{ todo(id: \"x\") { id } }",
        "{ todos { totalCount } }",
        "mutation { createTodo(input: { title: \"t\" }) { id } }",
        "mutation { updateTodo(id: \"x\", input: { title: \"t\" }) { id } }",
        "mutation { toggleTodo(id: \"x\") { id } }",
        "mutation { deleteTodo(id: \"x\") }",
    ] {
        let (status, body) = app.post(None, query, json!({})).await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{query}: {body}");
    }
}

#[tokio::test]
async fn refresh_rotates_and_a_replayed_token_revokes_the_family() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let first = app.anonymous(REFRESH, json!({ "t": user.refresh })).await;
    let second_token = first["data"]["refreshSession"]["refreshToken"].as_str().expect("rotated").to_owned();
    assert_ne!(second_token, user.refresh);
    assert_eq!(first["data"]["refreshSession"]["user"]["id"], user.id.as_str());
    let new_access = first["data"]["refreshSession"]["accessToken"].as_str().unwrap().to_owned();
    let me = app.post(Some(&new_access), ME, json!({})).await.1;
    assert_eq!(me["data"]["me"]["id"], user.id.as_str());

    // Replaying the rotated token is refused and revokes its successor too.
    let replay = app.anonymous(REFRESH, json!({ "t": user.refresh })).await;
    assert_eq!(error_code(&replay), "INVALID_REFRESH_TOKEN");
    let successor = app.anonymous(REFRESH, json!({ "t": second_token })).await;
    assert_eq!(error_code(&successor), "INVALID_REFRESH_TOKEN");

    // Another session of the same user is unaffected.
    let other = app.anonymous(SIGN_IN, json!({ "email": user.email, "password": PASSWORD })).await;
    let other_refresh = other["data"]["signIn"]["refreshToken"].as_str().unwrap();
    let ok = app.anonymous(REFRESH, json!({ "t": other_refresh })).await;
    assert!(ok["data"]["refreshSession"].is_object(), "{ok}");
}

#[tokio::test]
async fn concurrent_uses_of_one_refresh_token_succeed_at_most_once() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let attempts = (0..8).map(|_| app.anonymous(REFRESH, json!({ "t": user.refresh })));
    let results = futures::future::join_all(attempts).await;
    let successes = results.iter().filter(|b| b["data"]["refreshSession"].is_object()).count();
    assert!(successes <= 1, "{results:?}");
}

#[tokio::test]
async fn unknown_and_expired_refresh_tokens_are_refused() {
    let app = TestApp::spawn_with(|c| c.refresh_token_ttl = 1).await;
    let body = app.anonymous(REFRESH, json!({ "t": "not-a-token" })).await;
    assert_eq!(error_code(&body), "INVALID_REFRESH_TOKEN");
    let user = app.sign_up().await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let body = app.anonymous(REFRESH, json!({ "t": user.refresh })).await;
    assert_eq!(error_code(&body), "INVALID_REFRESH_TOKEN");
}

#[tokio::test]
async fn sign_out_revokes_the_session_and_is_always_true() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let out = app.anonymous("mutation($t: String!) { signOut(refreshToken: $t) }", json!({ "t": user.refresh })).await;
    assert_eq!(out["data"]["signOut"], true);
    let again =
        app.anonymous("mutation($t: String!) { signOut(refreshToken: $t) }", json!({ "t": "never-issued" })).await;
    assert_eq!(again["data"]["signOut"], true);
    let body = app.anonymous(REFRESH, json!({ "t": user.refresh })).await;
    assert_eq!(error_code(&body), "INVALID_REFRESH_TOKEN");
}

/// Posts `query` with a raw Authorization header value.
async fn with_header(app: &TestApp, value: &str, query: &str) -> reqwest::Response {
    app.client
        .post(app.url("/graphql"))
        .header("authorization", value)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
}

async fn assert_invalid_token(app: &TestApp, header: &str) {
    let response = with_header(app, header, ME).await;
    assert_eq!(response.status(), 401, "{header}");
    assert_eq!(response.headers()["www-authenticate"], "Bearer error=\"invalid_token\"");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    assert!(body.get("data").is_none());
}

#[tokio::test]
async fn forged_and_broken_tokens_get_401_rfc_8725() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let good = json!({ "sub": user.id, "email": user.email, "iat": now(), "exp": now() + 600 });
    // alg=none: an unsigned token with the same claims.
    use base64::Engine;
    let b64 = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!("{}.{}.", b64(&json!({ "alg": "none", "typ": "JWT" })), b64(&good));
    // Signed with another key.
    let other_key = sign(&good, "another-secret-that-is-32-bytes-long!!");
    // Payload swapped after signing.
    let valid = sign(&good, SECRET);
    let parts: Vec<&str> = valid.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], b64(&json!({ "sub": "someone-else", "exp": now() + 600 })), parts[2]);
    // HS512 with the right key is still not the configured algorithm.
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &good,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let no_exp = sign(&json!({ "sub": user.id, "iat": now() }), SECRET);
    let no_sub = sign(&json!({ "exp": now() + 600 }), SECRET);
    let expired = sign(&json!({ "sub": user.id, "iat": now() - 7200, "exp": now() - 3600 }), SECRET);
    for token in [none, other_key, tampered, hs512, no_exp, no_sub, expired, "garbage".to_owned()] {
        assert_invalid_token(&app, &format!("Bearer {token}")).await;
    }
    assert_invalid_token(&app, &format!("Basic {}", user.token)).await;
    assert_invalid_token(&app, "Bearer").await;
}

#[tokio::test]
async fn issuer_and_audience_are_issued_and_enforced_when_configured() {
    let app = TestApp::spawn_with(|c| {
        c.jwt_issuer = Some("https://todoql.test".into());
        c.jwt_audience = Some("todo-frontend".into());
    })
    .await;
    let user = app.sign_up().await;
    let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&user.token).unwrap().claims;
    assert_eq!(claims["iss"], "https://todoql.test");
    assert_eq!(claims["aud"], "todo-frontend");
    assert_eq!(app.as_user(&user, ME, json!({})).await["data"]["me"]["id"], user.id.as_str());

    let base = |iss: Option<&str>, aud: Option<&str>| {
        let mut c = json!({ "sub": user.id, "iat": now(), "exp": now() + 600 });
        if let Some(iss) = iss {
            c["iss"] = iss.into();
        }
        if let Some(aud) = aud {
            c["aud"] = aud.into();
        }
        sign(&c, SECRET)
    };
    for token in [
        base(Some("https://evil.test"), Some("todo-frontend")),
        base(Some("https://todoql.test"), Some("someone-else")),
        base(None, Some("todo-frontend")),
        base(Some("https://todoql.test"), None),
    ] {
        assert_invalid_token(&app, &format!("Bearer {token}")).await;
    }
}

#[tokio::test]
async fn public_operations_ignore_a_stale_token() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let expired = sign(&json!({ "sub": user.id, "iat": now() - 7200, "exp": now() - 3600 }), SECRET);
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&expired)
        .json(&json!({ "query": REFRESH, "variables": { "t": user.refresh } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["data"]["refreshSession"]["accessToken"].is_string(), "{body}");

    // Twice each: the second time the document comes from the cache, where a refused token's
    // request reads whether it is public without building the request (http::graphql::post_json).
    for _ in 0..2 {
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("authorization", "Bearer garbage")
            .json(&json!({ "query": SIGN_IN, "variables": { "email": user.email, "password": PASSWORD } }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        // Mixing a public and a private root field is not public.
        let mixed = with_header(
            &app,
            &format!("Bearer {expired}"),
            "mutation { signOut(refreshToken: \"x\") createTodo(input: { title: \"t\" }) { id } }",
        )
        .await;
        assert_eq!(mixed.status(), 401);
        // In a document of two operations, the one the request names decides.
        let two = "mutation In($email: String!, $password: String!) { signIn(input: { email: $email, password: $password }) { accessToken } } query Mine { todos { totalCount } }";
        for (operation, status) in [("In", 200), ("Mine", 401)] {
            let response = app
                .client
                .post(app.url("/graphql"))
                .bearer_auth(&expired)
                .json(&json!({ "query": two, "operationName": operation, "variables": { "email": user.email, "password": PASSWORD } }))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), status, "{operation}");
            let body: serde_json::Value = response.json().await.unwrap();
            if operation == "In" {
                assert!(body["data"]["signIn"]["accessToken"].is_string(), "{body}");
            } else {
                assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{body}");
            }
        }
    }
}

#[tokio::test]
async fn a_valid_token_of_a_deleted_user_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let ghost =
        sign(&json!({ "sub": "01900000-0000-7000-8000-000000000000", "iat": now(), "exp": now() + 600 }), SECRET);
    let (status, body) = app.post(Some(&ghost), ME, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    let (_, body) = app.post(Some(&ghost), "mutation { createTodo(input: { title: \"t\" }) { id } }", json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id_hashes() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let db = sea_orm::Database::connect(&app.config.database.database_url).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT password_hash FROM users WHERE id = '{}'", user.id),
        ))
        .await
        .unwrap()
        .unwrap();
    let hash: String = row.try_get("", "password_hash").unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
    let tokens = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT token_hash FROM refresh_tokens WHERE user_id = '{}'", user.id),
        ))
        .await
        .unwrap()
        .unwrap();
    let stored: String = tokens.try_get("", "token_hash").unwrap();
    assert_ne!(stored, user.refresh, "refresh tokens are stored only as hashes");
}

#[tokio::test]
async fn a_payloads_user_lists_that_users_todos_whoever_the_token_names() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (app.sign_up().await, app.sign_up().await);
    app.create_todo(&alice, "Alice's secret").await;
    app.create_todo(&bob, "Bob's errand").await;
    let query = "mutation($email: String!, $password: String!) { signIn(input: { email: $email, password: $password }) { user { id todos { nodes { title } } } } }";
    let variables = json!({ "email": bob.email, "password": PASSWORD });
    // Signed in as Alice, signing Bob in: the payload is Bob's, and so are its todos.
    for token in [Some(alice.token.as_str()), None] {
        let (status, body) = app.post(token, query, variables.clone()).await;
        assert_eq!(status, 200, "{body}");
        let user = &body["data"]["signIn"]["user"];
        assert_eq!(user["id"], json!(bob.id), "{body}");
        assert_eq!(user["todos"]["nodes"], json!([{ "title": "Bob's errand" }]), "{body}");
    }
}
