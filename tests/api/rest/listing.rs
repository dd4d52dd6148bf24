//! `GET /api/{user_id}/tasks` with `status`, `search`, `sort`, `limit` and `offset`: the
//! connection's filter and orders, bounded like it, and an offset that cannot walk unboundedly.

use reqwest::Method;
use serde_json::{Value, json};

use super::support::{complete, id_of, task, tasks};
use crate::helpers::{TestApp, TestUser};

fn titles(list: &[Value]) -> Vec<&str> {
    list.iter().map(|t| t["title"].as_str().expect("title")).collect()
}

/// Creates `n` tasks named `t1`… through GraphQL, 20 per request (its root-field limit).
async fn create_many(app: &TestApp, user: &TestUser, n: usize) {
    for chunk in (1..=n).collect::<Vec<_>>().chunks(20) {
        let fields: String =
            chunk.iter().map(|k| format!(" t{k}: createTodo(input: {{title: \"t{k}\"}}) {{ id }}")).collect();
        let body = app.as_user(user, &format!("mutation {{{fields} }}"), json!({})).await;
        assert!(body.get("errors").is_none(), "{body}");
    }
}

#[tokio::test]
async fn status_search_and_sort_select_and_order_like_the_connection() {
    let app = TestApp::spawn().await;
    let ann = app.sign_up().await;
    let apples = app.create_task(&ann, "Äpfel kaufen").await;
    let body = json!({ "title": "bake", "description": "100% rye_bread" });
    let bake = app.rest(Method::POST, &tasks(&ann.id), Some(&ann.token), Some(body)).await.body;
    let zebra = app.create_task(&ann, "zebra").await;
    app.rest(Method::PATCH, &complete(&ann.id, &id_of(&apples)), Some(&ann.token), None).await;

    assert_eq!(titles(&app.list_tasks(&ann, "?status=all").await), ["zebra", "bake", "Äpfel kaufen"]);
    assert_eq!(titles(&app.list_tasks(&ann, "?status=pending").await), ["zebra", "bake"]);
    assert_eq!(titles(&app.list_tasks(&ann, "?status=completed").await), ["Äpfel kaufen"]);
    // Case folds beyond ASCII; % and _ are literal; the description is searched too.
    assert_eq!(titles(&app.list_tasks(&ann, "?search=%C3%84PFEL").await), ["Äpfel kaufen"]);
    assert_eq!(titles(&app.list_tasks(&ann, "?search=0%25%20rye_").await), ["bake"]);
    assert_eq!(app.list_tasks(&ann, "?search=r_e").await, Vec::<Value>::new());
    assert_eq!(titles(&app.list_tasks(&ann, "?search=e&status=pending").await), ["zebra", "bake"]);

    assert_eq!(titles(&app.list_tasks(&ann, "?sort=created").await), ["zebra", "bake", "Äpfel kaufen"]);
    assert_eq!(titles(&app.list_tasks(&ann, "?sort=title").await), ["bake", "zebra", "Äpfel kaufen"]);
    // Touching a task moves it to the front of `updated`, and nowhere in `created`.
    let body = json!({ "title": "bake", "description": "100% rye_bread" });
    app.rest(Method::PUT, &task(&ann.id, &id_of(&bake)), Some(&ann.token), Some(body)).await;
    assert_eq!(titles(&app.list_tasks(&ann, "?sort=updated").await), ["bake", "Äpfel kaufen", "zebra"]);
    assert_eq!(titles(&app.list_tasks(&ann, "").await), ["zebra", "bake", "Äpfel kaufen"]);
    let _ = zebra;
}

#[tokio::test]
async fn limit_and_offset_page_through_and_are_bounded() {
    let app = TestApp::spawn().await;
    let ann = app.sign_up().await;
    create_many(&app, &ann, 105).await;

    // Without a limit, a connection's largest page: an unchanged frontend sees 100 tasks.
    let all = app.list_tasks(&ann, "").await;
    assert_eq!(all.len(), 100);
    assert_eq!(all[0]["title"], "t105");
    assert_eq!(titles(&app.list_tasks(&ann, "?limit=3").await), ["t105", "t104", "t103"]);
    assert_eq!(titles(&app.list_tasks(&ann, "?limit=3&offset=3").await), ["t102", "t101", "t100"]);
    assert_eq!(titles(&app.list_tasks(&ann, "?offset=100").await), ["t5", "t4", "t3", "t2", "t1"]);
    assert_eq!(app.list_tasks(&ann, "?limit=0").await, Vec::<Value>::new());
    assert_eq!(app.list_tasks(&ann, "?offset=10000").await, Vec::<Value>::new(), "the largest offset");
    assert_eq!(app.list_tasks(&ann, "?limit=100").await, all);

    for (query, field) in
        [("limit=101", "limit"), ("limit=-1", "limit"), ("offset=10001", "offset"), ("offset=-5", "offset")]
    {
        let reply = app.rest(Method::GET, &format!("{}?{query}", tasks(&ann.id)), Some(&ann.token), None).await;
        assert_eq!(reply.status, 422, "{query}: {reply:?}");
        assert_eq!(reply.body["detail"][0]["loc"], json!(["query", field]), "{query}: {reply:?}");
        assert!(reply.body["detail"][0]["msg"].as_str().is_some_and(|m| m.contains(field)), "{reply:?}");
    }
}
