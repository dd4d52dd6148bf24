//! Each of the six routes doing its job, with the JSON shapes a FastAPI + SQLModel frontend
//! expects.

use reqwest::Method;
use serde_json::{Value, json};

use super::support::{complete, id_of, task, tasks};
use crate::helpers::TestApp;

/// The fields of a task, in the order the frontend's models declare them.
const FIELDS: [&str; 7] = ["id", "user_id", "title", "description", "completed", "created_at", "updated_at"];

/// Checks a task's shape: exactly the seven fields, ISO 8601 times in UTC.
fn assert_task_shape(task: &Value) {
    let object = task.as_object().unwrap_or_else(|| panic!("a task is an object: {task}"));
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    assert_eq!(keys, FIELDS, "{task}");
    for field in ["created_at", "updated_at"] {
        let text = task[field].as_str().unwrap_or_else(|| panic!("{field} is text: {task}"));
        let time = chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{field} {text:?}: {e}"));
        assert_eq!(time.offset().local_minus_utc(), 0, "{field} is UTC: {text}");
    }
}

#[tokio::test]
async fn post_creates_a_task_with_201_its_location_and_the_trimmed_title() {
    let app = TestApp::spawn().await;
    let ann = app.sign_up().await;
    let body = json!({ "title": "  Buy milk  ", "description": "2 litres", "completed": true, "user_id": "x" });
    let reply = app.rest(Method::POST, &tasks(&ann.id), Some(&ann.token), Some(body)).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    assert_task_shape(&reply.body);
    let created = &reply.body;
    assert_eq!(created["title"], "Buy milk");
    assert_eq!(created["description"], "2 litres");
    // Fields that are not the create body's are ignored, as FastAPI ignores them.
    assert_eq!((&created["completed"], &created["user_id"]), (&json!(false), &json!(ann.id)));
    assert_eq!(created["created_at"], created["updated_at"]);
    assert_eq!(reply.header("location"), task(&ann.id, &id_of(created)));
    assert!(reply.header("content-type").starts_with("application/json"), "{reply:?}");
}

#[tokio::test]
async fn get_lists_the_callers_tasks_newest_first() {
    let app = TestApp::spawn().await;
    let ann = app.sign_up().await;
    assert_eq!(app.list_tasks(&ann, "").await, Vec::<Value>::new(), "a new user has no tasks");
    let first = app.create_task(&ann, "first").await;
    let second = app.create_task(&ann, "second").await;
    let listed = app.list_tasks(&ann, "").await;
    assert_eq!(listed, vec![second, first]);
    listed.iter().for_each(assert_task_shape);
}

#[tokio::test]
async fn get_by_id_answers_the_task() {
    let app = TestApp::spawn().await;
    let ann = app.sign_up().await;
    let created = app.create_task(&ann, "read me").await;
    let reply = app.rest(Method::GET, &task(&ann.id, &id_of(&created)), Some(&ann.token), None).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, created);
}

#[tokio::test]
async fn put_replaces_the_editable_fields_and_keeps_completed_when_absent() {
    let app = TestApp::spawn().await;
    let ann = app.sign_up().await;
    let body = json!({ "title": "draft", "description": "old words" });
    let created = app.rest(Method::POST, &tasks(&ann.id), Some(&ann.token), Some(body)).await.body;
    let path = task(&ann.id, &id_of(&created));

    let body = json!({ "title": " final ", "description": "new words", "completed": true });
    let replaced = app.rest(Method::PUT, &path, Some(&ann.token), Some(body)).await;
    assert_eq!(replaced.status, 200, "{replaced:?}");
    assert_task_shape(&replaced.body);
    let expected = json!({ "title": "final", "description": "new words", "completed": true });
    for field in ["title", "description", "completed"] {
        assert_eq!(replaced.body[field], expected[field], "{field}: {replaced:?}");
    }
    assert_eq!(replaced.body["created_at"], created["created_at"]);
    assert!(replaced.body["updated_at"].as_str() > created["updated_at"].as_str(), "updated_at moves on");

    // The full editable fields: a description left out is cleared; completion, left out, stays.
    let again = app.rest(Method::PUT, &path, Some(&ann.token), Some(json!({ "title": "final" }))).await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!((&again.body["description"], &again.body["completed"]), (&Value::Null, &json!(true)));
    let read = app.rest(Method::GET, &path, Some(&ann.token), None).await;
    assert_eq!(read.body, again.body, "the answer is what was stored");
}

#[tokio::test]
async fn patch_complete_flips_completed_each_time() {
    let app = TestApp::spawn().await;
    let ann = app.sign_up().await;
    let created = app.create_task(&ann, "flip me").await;
    let path = complete(&ann.id, &id_of(&created));
    for expected in [true, false, true] {
        let reply = app.rest(Method::PATCH, &path, Some(&ann.token), None).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_task_shape(&reply.body);
        assert_eq!(reply.body["completed"], expected, "{reply:?}");
    }
    let listed = app.list_tasks(&ann, "").await;
    assert_eq!(listed[0]["completed"], true);
}

#[tokio::test]
async fn delete_answers_204_and_the_task_is_gone() {
    let app = TestApp::spawn().await;
    let ann = app.sign_up().await;
    let keep = app.create_task(&ann, "keep").await;
    let gone = app.create_task(&ann, "gone").await;
    let path = task(&ann.id, &id_of(&gone));
    let reply = app.rest(Method::DELETE, &path, Some(&ann.token), None).await;
    assert_eq!((reply.status, &reply.body), (204, &Value::Null), "{reply:?}");
    assert_eq!(app.rest(Method::GET, &path, Some(&ann.token), None).await.status, 404);
    assert_eq!(app.rest(Method::DELETE, &path, Some(&ann.token), None).await.status, 404, "deleted once");
    assert_eq!(app.list_tasks(&ann, "").await, vec![keep]);
}
