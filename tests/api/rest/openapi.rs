//! The OpenAPI document of the REST routes: generated from the handlers (`todoql openapi`),
//! checked in as `openapi.json` and kept from drifting like `schema.graphql`, served at
//! `GET /api/openapi.json`, valid OpenAPI 3.1 by a real validator (the npm project in
//! `tests/openapi`), and true: every answer the routes give is a documented response whose
//! schema it matches, and every documented response is one the routes were seen to give.
//!
//! Needs `npm ci --prefix tests/openapi` once (scripts/test does it): without it the
//! validator tests fail, never skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::support::{Reply, id_of};
use crate::helpers::{TestApp, TestUser};

/// How long `todoql openapi` or the validator may take before the test gives up on it.
const TIMEOUT: Duration = Duration::from_secs(120);

fn checked_in() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json")
}

/// Runs a command to completion on a worker thread (bounded); returns its output.
async fn run(mut command: Command) -> std::process::Output {
    command.stdin(Stdio::null());
    let what = format!("{command:?}");
    let output = tokio::time::timeout(TIMEOUT, tokio::task::spawn_blocking(move || command.output()))
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {TIMEOUT:?}"))
        .expect("the thread panicked");
    output.unwrap_or_else(|e| panic!("could not run {what}: {e}"))
}

/// Runs the validator on a document (and answers); returns whether it passed, and its output.
async fn validate(document: &Path, answers: Option<&Path>) -> (bool, String) {
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("openapi");
    assert!(
        project.join("node_modules").join("@seriousme").join("openapi-schema-validator").is_dir(),
        "the OpenAPI validator is not installed: run `npm ci --prefix tests/openapi` (from {}) once",
        env!("CARGO_MANIFEST_DIR"),
    );
    let mut command = Command::new("node");
    command.arg(project.join("check.mjs")).arg(document).args(answers);
    let output = run(command).await;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[tokio::test]
async fn checked_in_openapi_json_matches_todoql_openapi() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_todoql"));
    command.arg("openapi").env_clear().current_dir(dir.path());
    let output = run(command).await;
    assert!(output.status.success(), "`todoql openapi` failed: {}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8(output.stdout).expect("UTF-8");
    let file = std::fs::read_to_string(checked_in()).unwrap_or_default();
    if printed != file {
        let first = printed.lines().zip(file.lines()).position(|(a, b)| a != b);
        panic!(
            "openapi.json is stale: run `cargo run -- openapi > openapi.json`\n(first difference at line {})",
            first.map_or_else(|| "the end of the shorter".to_owned(), |n| (n + 1).to_string())
        );
    }
}

#[tokio::test]
async fn the_served_document_is_the_checked_in_one_and_needs_no_token() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/api/openapi.json")).send().await.expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served = response.text().await.expect("text");
    let file = std::fs::read_to_string(checked_in()).expect("openapi.json");
    assert!(served == file, "the served document is not openapi.json: run `cargo run -- openapi > openapi.json`");
}

#[tokio::test]
async fn the_document_states_the_bounds_the_server_enforces() {
    let document: Value = serde_json::from_str(&todoql::rest::openapi()).expect("JSON");
    let schemas = &document["components"]["schemas"];
    for body in ["TaskCreate", "TaskReplace"] {
        assert_eq!(schemas[body]["properties"]["title"]["maxLength"], 200, "{body}");
        assert_eq!(schemas[body]["properties"]["description"]["maxLength"], 2000, "{body}");
    }
    let parameters = document["paths"]["/api/{user_id}/tasks"]["get"]["parameters"].as_array().expect("parameters");
    let maximum = |name: &str| parameters.iter().find(|p| p["name"] == name).map(|p| p["schema"]["maximum"].clone());
    assert_eq!(maximum("limit"), Some(json!(todoql::todos::listing::DEFAULT_LIMIT)));
    assert_eq!(maximum("offset"), Some(json!(todoql::todos::listing::MAX_OFFSET)));
    assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}

/// One answer as the validator reads it.
fn answer(method: &Method, route: &str, reply: Reply) -> Value {
    let headers: serde_json::Map<String, Value> = reply
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), json!(value.to_str().unwrap_or(""))))
        .collect();
    json!({ "method": method.as_str(), "route": route, "status": reply.status, "headers": headers, "body": reply.body })
}

/// A request to record: method, route template, concrete path, token, body.
type Case<'a> = (Method, &'a str, String, Option<&'a str>, Option<Value>);

/// Every answer each route can give, recorded from the running server.
async fn answers(app: &TestApp, ann: &TestUser, bob: &TestUser) -> Vec<Value> {
    let id = id_of(&app.create_task(ann, "recorded").await);
    let bobs = id_of(&app.create_task(bob, "bob's").await);
    let (list, one, done) = ("/api/{user_id}/tasks", "/api/{user_id}/tasks/{id}", "/api/{user_id}/tasks/{id}/complete");
    let good = || Some(json!({ "title": "t", "description": "d" }));
    let bad = || Some(json!({ "title": "" }));
    // A token that may read but not write: its writes are refused for scope (403).
    let reader = crate::scopes::support::scoped_jwt(ann, &["todos:read"]);
    let mut cases: Vec<Case> = vec![
        (Method::POST, list, format!("/api/{}/tasks", ann.id), Some(&reader), good()),
        (Method::DELETE, one, format!("/api/{}/tasks/{id}", ann.id), Some(&reader), None),
        (Method::GET, list, format!("/api/{}/tasks", ann.id), Some(&ann.token), None),
        (Method::GET, list, format!("/api/{}/tasks?limit=101", ann.id), Some(&ann.token), None),
        (Method::POST, list, format!("/api/{}/tasks", ann.id), Some(&ann.token), good()),
        (Method::POST, list, format!("/api/{}/tasks", ann.id), Some(&ann.token), bad()),
        (Method::GET, one, format!("/api/{}/tasks/{id}", ann.id), Some(&ann.token), None),
        (Method::PUT, one, format!("/api/{}/tasks/{id}", ann.id), Some(&ann.token), good()),
        (Method::PUT, one, format!("/api/{}/tasks/{id}", ann.id), Some(&ann.token), bad()),
        (Method::PATCH, done, format!("/api/{}/tasks/{id}/complete", ann.id), Some(&ann.token), None),
        (Method::DELETE, one, format!("/api/{}/tasks/{id}", ann.id), Some(&ann.token), None),
    ];
    for (method, route, body) in [
        (Method::GET, list, None),
        (Method::POST, list, good()),
        (Method::GET, one, None),
        (Method::PUT, one, good()),
        (Method::DELETE, one, None),
        (Method::PATCH, done, None),
    ] {
        let (own, theirs) = (route.replace("{user_id}", &ann.id), route.replace("{user_id}", &bob.id));
        cases.push((method.clone(), route, own.replace("{id}", &bobs), None, body.clone()));
        cases.push((method.clone(), route, theirs.replace("{id}", &bobs), Some(&ann.token), body.clone()));
        if route != list {
            cases.push((method.clone(), route, own.replace("{id}", &bobs), Some(&ann.token), body));
        }
    }
    let mut recorded = Vec::new();
    for (method, route, path, token, body) in cases {
        let reply = app.rest(method.clone(), &path, token, body).await;
        recorded.push(answer(&method, route, reply));
    }
    let for_scope = recorded
        .iter()
        .filter(|a| a["headers"]["www-authenticate"] == "Bearer error=\"insufficient_scope\", scope=\"todos:write\"")
        .count();
    assert_eq!(for_scope, 2, "the read-only token's writes are refused for scope");
    recorded
}

/// Every route's answer to a user whose budget cannot pay for it (429), from a server whose
/// budget pays for one route and refills slowly.
async fn refusals_for_cost() -> Vec<Value> {
    let app = TestApp::spawn_with(|c| {
        c.cost_budget = 10;
        c.cost_restore_rate = 1;
    })
    .await;
    let user = app.sign_up().await;
    let id = id_of(&app.create_task(&user, "the one it could pay for").await);
    let (list, one, done) = ("/api/{user_id}/tasks", "/api/{user_id}/tasks/{id}", "/api/{user_id}/tasks/{id}/complete");
    let good = || Some(json!({ "title": "t" }));
    let mut recorded = Vec::new();
    for (method, route, body) in [
        (Method::GET, list, None),
        (Method::POST, list, good()),
        (Method::GET, one, None),
        (Method::PUT, one, good()),
        (Method::DELETE, one, None),
        (Method::PATCH, done, None),
    ] {
        let path = route.replace("{user_id}", &user.id).replace("{id}", &id);
        let reply = app.rest(method.clone(), &path, Some(&user.token), body).await;
        assert_eq!(reply.status, 429, "{method} {path}: {reply:?}");
        recorded.push(answer(&method, route, reply));
    }
    recorded
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1_and_describes_every_answer_the_routes_give() {
    let app = TestApp::spawn().await;
    let (ann, bob) = (app.sign_up().await, app.sign_up().await);
    let dir = tempfile::tempdir().expect("temp dir");
    let document = app.client.get(app.url("/api/openapi.json")).send().await.expect("request");
    let document: Value = document.json().await.expect("JSON");
    let (document_path, answers_path) = (dir.path().join("openapi.json"), dir.path().join("answers.json"));
    std::fs::write(&document_path, document.to_string()).expect("write");
    let mut recorded = answers(&app, &ann, &bob).await;
    recorded.extend(refusals_for_cost().await);
    std::fs::write(&answers_path, Value::Array(recorded.clone()).to_string()).expect("write");
    let (passed, output) = validate(&document_path, Some(&answers_path)).await;
    println!("{output}");
    assert!(passed, "the OpenAPI check failed:\n{output}");
    assert!(output.contains(" 0 failed"), "{output}");

    // The checks can fail: a document without `info`, and an answer it does not describe.
    let mut broken = document.clone();
    broken.as_object_mut().expect("object").remove("info");
    std::fs::write(&document_path, broken.to_string()).expect("write");
    let (passed, output) = validate(&document_path, None).await;
    assert!(!passed && output.contains("not valid OpenAPI"), "a broken document passed:\n{output}");
    std::fs::write(&document_path, document.to_string()).expect("write");
    let mut wrong = recorded[0].clone();
    wrong["body"] = json!([{ "id": 1 }]);
    std::fs::write(&answers_path, json!([wrong]).to_string()).expect("write");
    let (passed, output) = validate(&document_path, Some(&answers_path)).await;
    assert!(!passed && output.contains("does not match the schema"), "a wrong body passed:\n{output}");
}
