//! HTTP caching: no `/graphql` answer may be stored where another caller could be served it.

use super::support::*;

fn assert_private(answer: &Answer, what: &str) {
    assert_eq!(answer.headers["cache-control"], "private, no-store", "{what}");
    let vary: Vec<String> =
        answer.headers.get_all("vary").iter().map(|v| v.to_str().unwrap_or("").to_lowercase()).collect();
    assert!(vary.iter().any(|v| v.split(',').any(|h| h.trim() == "authorization")), "{what}: vary {vary:?}");
}

#[tokio::test]
async fn every_graphql_answer_is_private_and_never_stored_whatever_its_outcome() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let hash = sha256(TODOS);
    let register = json!({ "query": TODOS, "extensions": persisted_query(&hash) });
    let answers = [
        ("a query over GET", get(&app, Some(&user), JSON, &[("query", json!(TODOS))]).await),
        ("a persisted query over GET", {
            post(&app, Some(&user), JSON, register).await;
            get(&app, Some(&user), JSON, &[("extensions", persisted_query(&hash))]).await
        }),
        (
            "a miss over GET",
            get(&app, Some(&user), JSON, &[("extensions", persisted_query(&sha256("{ me { id } }")))]).await,
        ),
        ("a query over POST", post(&app, Some(&user), JSON, json!({ "query": "{ me { email } }" })).await),
        ("an anonymous query", get(&app, None, JSON, &[("query", json!("{ me { email } }"))]).await),
        ("a mutation over GET (405)", get(&app, Some(&user), JSON, &[("query", json!(CREATE))]).await),
        ("a bad token (401)", {
            let request = app.client.get(app.url("/graphql")).bearer_auth("not-a-token").query(&[("query", TODOS)]);
            let response = request.send().await.expect("request");
            let (status, headers) = (response.status().as_u16(), response.headers().clone());
            Answer { status, headers, body: response.json().await.expect("JSON") }
        }),
        ("a malformed request (400)", get(&app, None, JSON, &[("variables", json!("{"))]).await),
        ("a body over MAX_BODY_BYTES (413)", {
            let padding = "x".repeat(1_100_000);
            let body = json!({ "query": TODOS, "variables": { "padding": padding } });
            let request = app.client.post(app.url("/graphql")).bearer_auth(&user.token).json(&body);
            let response = request.send().await.expect("request");
            let (status, headers) = (response.status().as_u16(), response.headers().clone());
            Answer { status, headers, body: Value::Null }
        }),
    ];
    for (what, answer) in &answers {
        assert_private(answer, what);
    }
    assert_eq!(answers[0].1.status, 200);
    assert_eq!(answers[6].1.status, 401);
    assert_eq!(answers[8].1.status, 413);
}
