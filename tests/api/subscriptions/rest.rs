//! REST writes (`/api/{user_id}/tasks…`) reach `todoEvents` subscribers like GraphQL's: in
//! commit order, only the owner's, nothing for a refused write, and on PostgreSQL across
//! instances.

use reqwest::Method;

use super::support::*;
use crate::rest::support::{complete, id_of, task};

#[tokio::test]
async fn rest_writes_reach_the_owners_todo_events_subscriber_in_commit_order() {
    let app = TestApp::spawn().await;
    let (ann, bob) = (app.sign_up().await, app.sign_up().await);
    let mut socket = connect(&app, TRANSPORT_WS).await;
    init(&mut socket, auth(&ann)).await;
    subscribe(&mut socket, "1", EVENTS).await;

    let bobs = id_of(&app.create_task(&bob, "not for ann").await);
    let created = app.create_task(&ann, "written over REST").await;
    let id = id_of(&created);
    let event = next_event(&mut socket, "1").await;
    assert_eq!(
        (&event["kind"], &event["todoId"]),
        (&json!("CREATED"), &json!(id)),
        "bob's task sent ann nothing: {event}"
    );
    assert_eq!((&event["todo"]["title"], &event["todo"]["owner"]["id"]), (&json!("written over REST"), &json!(ann.id)));

    // Refused writes change nothing and so send nothing: the next event is the next real change.
    let refused = [
        app.rest(Method::PUT, &task(&ann.id, &bobs), Some(&ann.token), Some(json!({ "title": "mine now" }))).await,
        app.rest(Method::PATCH, &complete(&bob.id, &bobs), Some(&ann.token), None).await,
        app.rest(Method::PUT, &task(&ann.id, &id), Some(&ann.token), Some(json!({ "title": "" }))).await,
    ];
    assert_eq!(refused.iter().map(|r| r.status).collect::<Vec<_>>(), [404, 403, 422]);
    let body = json!({ "title": "renamed over REST", "description": "with words" });
    app.rest(Method::PUT, &task(&ann.id, &id), Some(&ann.token), Some(body)).await;
    let event = next_event(&mut socket, "1").await;
    assert_eq!((&event["kind"], &event["todo"]["title"]), (&json!("UPDATED"), &json!("renamed over REST")), "{event}");
    app.rest(Method::PATCH, &complete(&ann.id, &id), Some(&ann.token), None).await;
    let event = next_event(&mut socket, "1").await;
    assert_eq!((&event["kind"], &event["todo"]["completed"]), (&json!("UPDATED"), &json!(true)), "{event}");
    app.rest(Method::DELETE, &task(&ann.id, &id), Some(&ann.token), None).await;
    assert_eq!(next_event(&mut socket, "1").await, json!({ "kind": "DELETED", "todoId": id, "todo": null }));
    assert_eq!(app.list_tasks(&bob, "").await.len(), 1, "bob's task is still there");
}

#[tokio::test]
async fn a_rest_write_on_one_instance_reaches_a_subscriber_on_another_through_postgres() {
    if postgres_admin_url().is_none() {
        eprintln!(
            "a_rest_write_on_one_instance_reaches_a_subscriber_on_another_through_postgres needs TODOQL_TEST_DATABASE=postgres://…; skipped"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_database(dir.path()).await;
    let a = TestApp::spawn_with(|c| c.database.database_url = url.clone()).await;
    let b = TestApp::spawn_with(|c| c.database.database_url = url.clone()).await;
    let ann = a.sign_up().await;
    let mut on_b = connect(&b, TRANSPORT_WS).await;
    init(&mut on_b, auth(&ann)).await;
    subscribe(&mut on_b, "1", EVENTS).await;

    let id = id_of(&a.create_task(&ann, "written through A's REST").await);
    a.rest(Method::PATCH, &complete(&ann.id, &id), Some(&ann.token), None).await;
    let deleted = a.rest(Method::DELETE, &task(&ann.id, &id), Some(&ann.token), None).await;
    assert_eq!(deleted.status, 204, "{deleted:?}");
    let created = next_event(&mut on_b, "1").await;
    assert_eq!((&created["kind"], &created["todo"]["title"]), (&json!("CREATED"), &json!("written through A's REST")));
    let toggled = next_event(&mut on_b, "1").await;
    assert_eq!((&toggled["kind"], &toggled["todo"]["completed"]), (&json!("UPDATED"), &json!(true)), "{toggled}");
    assert_eq!(next_event(&mut on_b, "1").await, json!({ "kind": "DELETED", "todoId": id, "todo": null }));
}
