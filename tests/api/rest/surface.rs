//! One core behind two surfaces: REST and GraphQL see each other's writes, both kinds of
//! token work, and the REST routes get the same CORS, request ids and metrics as `/graphql`.

use reqwest::Method;
use serde_json::{Value, json};

use super::support::{complete, id_of, task, tasks};
use crate::better_auth::{BetterAuth, on_todoql, part, todoql_for};
use crate::helpers::TestApp;

const TODO: &str = "query($id: ID!) { todo(id: $id) { id title description completed createdAt updatedAt } }";

/// The same instant, whichever way each surface writes it.
fn instant(text: &Value) -> chrono::DateTime<chrono::Utc> {
    let text = text.as_str().unwrap_or_else(|| panic!("a time: {text}"));
    chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}")).to_utc()
}

#[tokio::test]
async fn rest_and_graphql_see_each_others_writes() {
    let app = TestApp::spawn().await;
    let ann = app.sign_up().await;

    // Created over REST, read through GraphQL: the same todo, field for field.
    let body = json!({ "title": "from REST", "description": "posted" });
    let rest = app.rest(Method::POST, &tasks(&ann.id), Some(&ann.token), Some(body)).await.body;
    let read = app.as_user(&ann, TODO, json!({ "id": id_of(&rest) })).await["data"]["todo"].clone();
    assert_eq!(
        (&read["title"], &read["description"], &read["completed"]),
        (&rest["title"], &rest["description"], &rest["completed"])
    );
    assert_eq!(instant(&read["createdAt"]), instant(&rest["created_at"]));
    assert_eq!(instant(&read["updatedAt"]), instant(&rest["updated_at"]));

    // Created through GraphQL, listed over REST; changed on one side, seen on the other.
    let graphql = app.create_todo(&ann, "from GraphQL").await;
    let listed = app.list_tasks(&ann, "").await;
    assert_eq!(listed.iter().map(id_of).collect::<Vec<_>>(), [graphql.clone(), id_of(&rest)]);
    let update = "mutation($id: ID!) { updateTodo(id: $id, input: { title: \"renamed in GraphQL\" }) { id } }";
    app.as_user(&ann, update, json!({ "id": graphql })).await;
    let shown = app.rest(Method::GET, &task(&ann.id, &graphql), Some(&ann.token), None).await.body;
    assert_eq!(shown["title"], "renamed in GraphQL");
    app.rest(Method::PATCH, &complete(&ann.id, &graphql), Some(&ann.token), None).await;
    let read = app.as_user(&ann, TODO, json!({ "id": graphql })).await;
    assert_eq!(read["data"]["todo"]["completed"], true, "{read}");

    // Deleted on each side, gone from the other.
    app.rest(Method::DELETE, &task(&ann.id, &graphql), Some(&ann.token), None).await;
    assert_eq!(app.as_user(&ann, TODO, json!({ "id": graphql })).await["data"]["todo"], Value::Null);
    app.as_user(&ann, "mutation($id: ID!) { deleteTodo(id: $id) }", json!({ "id": id_of(&rest) })).await;
    assert_eq!(app.rest(Method::GET, &task(&ann.id, &id_of(&rest)), Some(&ann.token), None).await.status, 404);
    assert_eq!(app.list_tasks(&ann, "").await, Vec::<Value>::new());
}

#[tokio::test]
async fn rest_routes_get_cors_request_ids_and_metrics_by_route() {
    let origin = "https://app.example.com";
    let app = TestApp::spawn_with(|c| c.cors_allowed_origins = vec![origin.to_owned()]).await;
    let ann = app.sign_up().await;
    let created = app.create_task(&ann, "cors").await;
    for method in ["PUT", "PATCH", "DELETE"] {
        let preflight = app
            .client
            .request(Method::OPTIONS, app.url(&task(&ann.id, &id_of(&created))))
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", "authorization, content-type")
            .send()
            .await
            .expect("preflight");
        let allowed = preflight.headers().get("access-control-allow-methods").and_then(|v| v.to_str().ok());
        assert!(allowed.is_some_and(|m| m.contains(method)), "{method}: {:?}", preflight.headers());
    }
    let response = app
        .client
        .get(app.url(&tasks(&ann.id)))
        .bearer_auth(&ann.token)
        .header("origin", origin)
        .header("x-request-id", "frontend-req-42")
        .send()
        .await
        .expect("request");
    assert_eq!(response.headers()["access-control-allow-origin"], origin);
    assert_eq!(response.headers()["x-request-id"], "frontend-req-42");
    let stranger = app.client.get(app.url(&tasks(&ann.id))).header("origin", "https://evil.example").send().await;
    assert!(stranger.expect("request").headers().get("access-control-allow-origin").is_none());

    let series = |method: &str, status: u16| {
        format!(
            "todoql_http_requests_seconds_count{{route=\"/api/{{user_id}}/tasks\",method=\"{method}\",status=\"{status}\"}}"
        )
    };
    assert_eq!(app.metric(&series("POST", 201)).await, 1);
    assert_eq!(app.metric(&series("GET", 200)).await, 1);
    assert_eq!(app.metric(&series("GET", 401)).await, 1, "the stranger, counted by the route it asked for");
}

#[tokio::test]
async fn a_better_auth_token_reaches_the_tasks_of_its_own_subject() {
    let better_auth = BetterAuth::start().await;
    let app = todoql_for(&better_auth).await;
    let (ada, eve) = (better_auth.sign_up().await, better_auth.sign_up().await);
    // The frontend knows its user by Better Auth's id, the token's `sub`: that is the path.
    let subject = part(&ada.jwt, 1)["sub"].as_str().expect("sub").to_owned();
    let body = json!({ "title": "from the Next.js app" });
    let created = app.rest(Method::POST, &tasks(&subject), Some(&ada.jwt), Some(body)).await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.body["user_id"], subject.as_str());
    let listed = app.rest(Method::GET, &tasks(&subject), Some(&ada.jwt), None).await;
    assert_eq!(listed.body, json!([created.body]));

    // The same todo through GraphQL, for the todoql user the identity is linked to.
    let linked = on_todoql(&app, &ada).await;
    let read = app.as_user(&linked, TODO, json!({ "id": id_of(&created.body) })).await;
    assert_eq!(read["data"]["todo"]["title"], "from the Next.js app", "{read}");
    // Only the token's subject is the caller's path; another Better Auth user is refused.
    assert_ne!(linked.id, subject);
    assert_eq!(app.rest(Method::GET, &tasks(&linked.id), Some(&ada.jwt), None).await.status, 403);
    assert_eq!(app.rest(Method::GET, &tasks(&subject), Some(&eve.jwt), None).await.status, 403);
}

#[tokio::test]
async fn rest_and_graphql_draw_from_one_budget_and_a_spent_one_answers_429_with_retry_after() {
    let app = TestApp::spawn_with(|c| {
        c.cost_budget = 500;
        c.cost_restore_rate = 1;
    })
    .await;
    let user = app.sign_up().await;
    // A list of up to 20 costs 8 + 7 × 20 = 148 from the budget; GraphQL pays from the same.
    let list = format!("/api/{}/tasks?limit=20", user.id);
    assert_eq!(app.rest(Method::GET, &list, Some(&user.token), None).await.status, 200);
    let read = "{ todos(first: 20) { nodes { id title completed } } }";
    let body = app.as_user(&user, read, json!({})).await;
    let remaining = body["extensions"]["cost"]["remaining"].as_u64().expect("what is left");
    assert!(remaining < 500 - 148, "GraphQL sees what REST spent: {body}");
    let refused = loop {
        let reply = app.rest(Method::GET, &list, Some(&user.token), None).await;
        if reply.status != 200 {
            break reply;
        }
    };
    assert_eq!(refused.status, 429, "{refused:?}");
    let retry: u64 = refused.headers["retry-after"].to_str().expect("ASCII").parse().expect("seconds");
    assert!(retry >= 1, "{refused:?}");
    assert!(refused.detail().contains("budget"), "{refused:?}");
}
