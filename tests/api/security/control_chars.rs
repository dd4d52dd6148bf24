//! Every string input, sent every control character, on whichever database the suite runs:
//! one rule for both. U+0000 (which PostgreSQL's text cannot hold) is refused in stored text
//! with `BAD_USER_INPUT`; an id, cursor or token carrying it matches nothing; every other
//! control character is stored and read back as sent (emails excepted: none allowed). Never an
//! `INTERNAL_SERVER_ERROR`.

use reqwest::Method;

use super::support::*;
use crate::helpers::TestUser;
use crate::rest::support::{task, tasks};

/// U+0000..=U+001F and U+007F.
fn controls() -> impl Iterator<Item = char> {
    (0u8..0x20).chain([0x7f]).map(char::from)
}

const CREATE: &str = "mutation($i: CreateTodoInput!) { createTodo(input: $i) { id title description } }";
const UPDATE: &str =
    "mutation($id: ID!, $i: UpdateTodoInput!) { updateTodo(id: $id, input: $i) { title description } }";
const SIGN_UP: &str = "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { email name } } }";

/// What became of an input: stored as sent, refused as bad input naming `field`, or (ids and
/// tokens) found nothing; anything else fails the test.
fn assert_stored_or_refused(body: &Value, stored: Option<&Value>, sent: &str, field: &str, c: char) {
    assert!(!body.to_string().contains("INTERNAL_SERVER_ERROR"), "{c:?} in {field}: {body}");
    if c == '\0' {
        assert_eq!(error_code(body), "BAD_USER_INPUT", "{c:?} in {field}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    } else {
        assert!(body.get("errors").is_none(), "{c:?} in {field}: {body}");
        assert_eq!(stored, Some(&json!(sent)), "{c:?} in {field} read back: {body}");
    }
}

#[tokio::test]
async fn todo_inputs_store_every_control_character_but_nul_which_is_bad_input() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let id = app.create_todo(&user, "Target").await;
    for c in controls() {
        let text = format!("a{c}b");
        for field in ["title", "description"] {
            let mut input = json!({ "title": "T" });
            input[field] = json!(text);
            let body = app.as_user(&user, CREATE, json!({ "i": input })).await;
            assert_stored_or_refused(&body, body["data"]["createTodo"].get(field), &text, field, c);
            let body = app.as_user(&user, UPDATE, json!({ "id": id, "i": { field: text } })).await;
            assert_stored_or_refused(&body, body["data"]["updateTodo"].get(field), &text, field, c);
            // Read back through the list too.
            if c != '\0' {
                let listed = app.as_user(&user, &format!("{{ todo(id: \"{id}\") {{ {field} }} }}"), json!({})).await;
                assert_eq!(listed["data"]["todo"][field], json!(text), "{listed}");
            }
        }
        // A search is not stored, but it is sent to the database: the same rule.
        let search = "query($s: String) { todos(filter: { search: $s }) { nodes { description } } }";
        let body = app.as_user(&user, search, json!({ "s": text })).await;
        let found = body["data"]["todos"]["nodes"][0].get("description");
        assert_stored_or_refused(&body, found, &text, "search", c);
    }
}

#[tokio::test]
async fn ids_cursors_and_tokens_carrying_control_characters_match_nothing() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let id = app.create_todo(&user, "Mine").await;
    for c in controls() {
        for bad in [format!("{id}{c}"), c.to_string()] {
            let vars = json!({ "id": bad });
            let body = app.as_user(&user, "query($id: ID!) { todo(id: $id) { id } }", vars.clone()).await;
            assert_eq!(without_cost(body), json!({ "data": { "todo": null } }), "{c:?}");
            for mutation in [
                "mutation($id: ID!) { toggleTodo(id: $id) { id } }",
                "mutation($id: ID!) { deleteTodo(id: $id) }",
                "mutation($id: ID!) { updateTodo(id: $id, input: { title: \"x\" }) { id } }",
            ] {
                let body = app.as_user(&user, mutation, vars.clone()).await;
                assert_eq!(error_code(&body), "NOT_FOUND", "{c:?}: {body}");
            }
            let page = "query($c: String) { todos(after: $c) { totalCount } }";
            let body = app.as_user(&user, page, json!({ "c": bad })).await;
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{c:?}: {body}");
            for token in ["mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }"] {
                let body = app.anonymous(token, json!({ "t": format!("{}{c}", user.refresh) })).await;
                assert_eq!(error_code(&body), "INVALID_REFRESH_TOKEN", "{c:?}: {body}");
            }
            let body = app.anonymous("mutation($t: String!) { signOut(refreshToken: $t) }", json!({ "t": bad })).await;
            assert_eq!(without_cost(body), json!({ "data": { "signOut": true } }), "{c:?}");
        }
    }
    // The session the refresh token belongs to was not touched by any of that.
    let body = app
        .anonymous(
            "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }",
            json!({ "t": user.refresh }),
        )
        .await;
    assert!(body["data"]["refreshSession"]["accessToken"].is_string(), "{body}");
}

#[tokio::test]
async fn account_inputs_refuse_control_characters_in_emails_and_nul_in_names() {
    let app = TestApp::spawn_with(|c| c.sign_up_max_per_client = 1000).await;
    let existing = app.sign_up().await;
    for c in controls() {
        // Emails: none at all, whatever the database could store.
        let email = format!("{}{c}x@example.com", unique("ctl"));
        let body = app.anonymous(SIGN_UP, json!({ "i": { "email": email, "password": PASSWORD, "name": "N" } })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{c:?} in email: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "email", "{body}");
        // Signing in as such an email is simply wrong credentials.
        let body = sign_in(&app, &existing.email.replace('@', &format!("{c}@")), PASSWORD).await;
        assert_eq!(outcome(&body), "INVALID_CREDENTIALS", "{c:?} in a sign-in email: {body}");

        let name = format!("a{c}b");
        let email = format!("{}@example.com", unique("ctl"));
        let body = app.anonymous(SIGN_UP, json!({ "i": { "email": email, "password": PASSWORD, "name": name } })).await;
        assert_stored_or_refused(&body, body["data"]["signUp"]["user"].get("name"), &name, "name", c);
    }
    // A password is hashed, never stored: any character, NUL included, signs in again.
    for c in ['\0', '\u{1}', '\u{7f}'] {
        let (email, password) = (format!("{}@example.com", unique("pw")), format!("pass{c}word"));
        let body = app.anonymous(SIGN_UP, json!({ "i": { "email": email, "password": password, "name": "N" } })).await;
        assert!(body["data"]["signUp"]["accessToken"].is_string(), "{c:?}: {body}");
        assert_eq!(outcome(&sign_in(&app, &email, &password).await), "OK", "{c:?}");
        assert_eq!(outcome(&sign_in(&app, &email, "password").await), "INVALID_CREDENTIALS", "{c:?}");
    }
}

#[tokio::test]
async fn rest_routes_follow_the_same_rule() {
    let app = TestApp::spawn().await;
    let user: TestUser = app.sign_up().await;
    let id = app.create_todo(&user, "Mine").await;
    for c in controls() {
        let escaped = format!("%{:02X}", u32::from(c));
        // Ids in the path: nothing there.
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let body = (method == Method::PUT).then(|| json!({ "title": "x" }));
            let reply =
                app.rest(method.clone(), &task(&user.id, &format!("{id}{escaped}")), Some(&user.token), body).await;
            assert_eq!(reply.status, 404, "{c:?} {method}: {reply:?}");
        }
        let reply = app.rest(Method::GET, &tasks(&format!("{}{escaped}", user.id)), Some(&user.token), None).await;
        assert_eq!(reply.status, 403, "{c:?} in the user id: {reply:?}");
        // Text in the body, and the search parameter.
        let text = format!("a{c}b");
        let reply = app.rest(Method::POST, &tasks(&user.id), Some(&user.token), Some(json!({ "title": text }))).await;
        if c == '\0' {
            assert_eq!(reply.status, 422, "{reply:?}");
        } else {
            assert_eq!((reply.status, &reply.body["title"]), (201, &json!(text)), "{c:?}: {reply:?}");
        }
        let reply =
            app.rest(Method::GET, &format!("{}?search=a{escaped}b", tasks(&user.id)), Some(&user.token), None).await;
        if c == '\0' {
            assert_eq!(reply.status, 422, "{reply:?}");
        } else {
            assert_eq!(reply.status, 200, "{c:?}: {reply:?}");
            assert_eq!(reply.body[0]["title"], json!(text), "{c:?}: {reply:?}");
        }
    }
}

#[tokio::test]
async fn access_token_inputs_follow_the_same_rule() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let create = "mutation($n: String!) { createAccessToken(input: { name: $n, scopes: [\"todos:read\"], expiresInDays: 1 }) { accessToken { id name } } }";
    let revoke = "mutation($id: ID!) { revokeAccessToken(id: $id) }";
    for c in controls() {
        let name = format!("a{c}b");
        let body = app.as_user(&user, create, json!({ "n": name })).await;
        assert_stored_or_refused(&body, body["data"]["createAccessToken"]["accessToken"].get("name"), &name, "name", c);
        if let Some(id) = body["data"]["createAccessToken"]["accessToken"]["id"].as_str() {
            let body = app.as_user(&user, revoke, json!({ "id": format!("{id}{c}") })).await;
            assert_eq!(without_cost(body), json!({ "data": { "revokeAccessToken": false } }), "{c:?}");
            let body = app.as_user(&user, revoke, json!({ "id": id })).await;
            assert_eq!(without_cost(body), json!({ "data": { "revokeAccessToken": true } }), "{c:?}");
        }
    }
}
