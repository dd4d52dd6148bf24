//! GraphQL over HTTP: the npm `graphql-http` server audit against the real server, and
//! focused checks of the HTTP rules the contract names.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, ALLOW, CONTENT_TYPE, LOCATION};
use serde_json::Value;

use crate::helpers::TestApp;

/// The two response media types of GraphQL over HTTP.
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// How long the whole audit may take before the test gives up on it.
const AUDIT_TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test]
async fn graphql_http_audit_passes_with_no_errors_or_warnings() {
    let audit = audit_dir();
    assert!(
        audit.join("node_modules").join("graphql-http").is_dir(),
        "the graphql-http audit is not installed: {} is missing.\n\
         Run `npm ci --prefix tests/audit` (from {}) once, then rerun the tests.",
        audit.join("node_modules").display(),
        env!("CARGO_MANIFEST_DIR"),
    );
    let app = TestApp::spawn().await;
    let url = app.url("/graphql");

    let mut command = std::process::Command::new("node");
    command.arg(audit.join("audit.mjs")).arg(&url).current_dir(env!("CARGO_MANIFEST_DIR"));
    // Blocking wait on a worker thread, so this test's runtime keeps serving the audit's requests.
    let run = tokio::task::spawn_blocking(move || command.output());
    let output = tokio::time::timeout(AUDIT_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("the graphql-http audit did not finish within {AUDIT_TIMEOUT:?}"))
        .expect("the audit thread panicked")
        .unwrap_or_else(|e| panic!("could not run `node` (is Node.js installed and on PATH?): {e}"));

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Shown with `--nocapture`, and by the test harness when the test fails.
    println!("{stdout}");
    assert!(output.status.success(), "the graphql-http audit of {url} failed ({}):\n{stdout}\n{stderr}", output.status);
    assert!(stdout.contains("0 warn, 0 error"), "unexpected audit summary:\n{stdout}\n{stderr}");
}

#[tokio::test]
async fn a_get_request_carrying_a_mutation_is_refused_with_405_and_allow_post() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", r#"mutation { signOut(refreshToken: "nope") }"#)])
        .header(ACCEPT, GRAPHQL_RESPONSE_JSON)
        .send()
        .await
        .expect("request");

    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&response, ALLOW), "POST");
    let body: Value = response.json().await.expect("JSON body");
    assert!(body.get("data").is_none(), "a refused GET must not run anything: {body}");
    assert!(body["errors"][0]["message"].is_string(), "expected an error: {body}");
}

#[tokio::test]
async fn a_get_request_carrying_a_query_runs_it() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "{ __typename }")])
        .header(ACCEPT, GRAPHQL_RESPONSE_JSON)
        .send()
        .await
        .expect("request");

    assert_eq!(response.status(), StatusCode::OK);
    assert_media_type(&response, GRAPHQL_RESPONSE_JSON);
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
}

#[tokio::test]
async fn a_post_whose_body_is_not_declared_as_json_gets_415() {
    let app = TestApp::spawn().await;
    for content_type in ["text/plain", "application/x-www-form-urlencoded", "application/graphql"] {
        let response = post_raw(&app, content_type, JSON, r#"{"query":"{ __typename }"}"#).await;
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type: {content_type}");
    }
}

#[tokio::test]
async fn a_document_that_fails_to_parse_is_400_without_data_for_graphql_response_json() {
    let app = TestApp::spawn().await;
    let response = post_raw(&app, JSON, GRAPHQL_RESPONSE_JSON, r#"{"query":"{"}"#).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_media_type(&response, GRAPHQL_RESPONSE_JSON);
    let body: Value = response.json().await.expect("JSON body");
    assert!(body.get("data").is_none(), "a document that never ran has no `data` entry: {body}");
    assert!(body["errors"][0]["message"].is_string(), "expected a parse error: {body}");
}

#[tokio::test]
async fn a_document_that_fails_to_parse_is_200_with_errors_for_application_json() {
    let app = TestApp::spawn().await;
    let response = post_raw(&app, JSON, JSON, r#"{"query":"{"}"#).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_media_type(&response, JSON);
    let body: Value = response.json().await.expect("JSON body");
    assert!(body["errors"][0]["message"].is_string(), "expected a parse error: {body}");
}

#[tokio::test]
async fn a_request_that_accepts_only_html_gets_406() {
    let app = TestApp::spawn().await;
    let post = post_raw(&app, JSON, "text/html", r#"{"query":"{ __typename }"}"#).await;
    assert_eq!(post.status(), StatusCode::NOT_ACCEPTABLE);

    let get = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "{ __typename }")])
        .header(ACCEPT, "text/html")
        .send()
        .await
        .expect("request");
    assert_eq!(get.status(), StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn the_root_redirects_to_the_playground() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let response = client.get(app.url("/")).send().await.expect("request");

    assert!(response.status().is_redirection(), "expected a redirect, got {}", response.status());
    assert_eq!(header(&response, LOCATION), "/playground");
}

#[tokio::test]
async fn healthz_and_readyz_answer_200() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz"] {
        let response = app.client.get(app.url(path)).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    }
}

/// `tests/audit`, the Node project that runs the graphql-http audit.
fn audit_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("audit")
}

/// POSTs `body` to `/graphql` as is, with the given `Content-Type` and `Accept`.
async fn post_raw(app: &TestApp, content_type: &str, accept: &str, body: &'static str) -> reqwest::Response {
    let request = app.client.post(app.url("/graphql")).header(CONTENT_TYPE, content_type).header(ACCEPT, accept);
    request.body(body).send().await.expect("request")
}

/// A response header as a string ("" when absent).
fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> String {
    response.headers().get(&name).map(|v| v.to_str().expect("ASCII header").to_owned()).unwrap_or_default()
}

/// Asserts the response's media type (ignoring parameters such as `charset`).
fn assert_media_type(response: &reqwest::Response, expected: &str) {
    let content_type = header(response, CONTENT_TYPE);
    let media = content_type.split(';').next().unwrap_or("").trim();
    assert_eq!(media, expected, "Content-Type: {content_type}");
}

#[tokio::test]
async fn metrics_count_requests_by_operation_and_refused_tokens_by_reason() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    app.as_user(&user, "{ todos { totalCount } }", serde_json::json!({})).await;
    let refused = app
        .client
        .post(app.url("/graphql"))
        .header("authorization", "Bearer not-a-token")
        .json(&serde_json::json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert!(header(&response, reqwest::header::CONTENT_TYPE).starts_with("text/plain"));
    let text = response.text().await.unwrap();
    assert!(text.contains("todoql_graphql_requests_seconds_count{operation=\"todos\",outcome=\"ok\"} 1"), "{text}");
    assert!(text.contains("todoql_graphql_requests_seconds_bucket{operation=\"signUp\""), "{text}");
    assert!(text.contains("todoql_auth_failures_total{reason=\"the token is malformed\"} 1"), "{text}");
    assert!(text.contains("todoql_db_pool_connections "), "{text}");
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(header(&response, reqwest::header::HeaderName::from_static("x-request-id")).len() >= 16);
    let response =
        app.client.get(app.url("/healthz")).header("x-request-id", "bad id with spaces").send().await.unwrap();
    assert_ne!(header(&response, reqwest::header::HeaderName::from_static("x-request-id")), "bad id with spaces");
}

#[tokio::test]
async fn an_operation_name_that_picks_no_operation_is_a_coded_request_error_over_post_and_get() {
    let app = TestApp::spawn().await;
    let two = "query A { __typename } query B { __typename }";
    let cases = [
        (
            serde_json::json!({ "query": "query A { __typename }", "operationName": "Nope" }),
            "Unknown operation named \"Nope\"",
        ),
        (serde_json::json!({ "query": two }), "Operation name required in request."),
        (serde_json::json!({ "query": two, "operationName": "C" }), "Unknown operation named \"C\""),
    ];
    for (request, message) in cases {
        let post = app.client.post(app.url("/graphql")).header(ACCEPT, GRAPHQL_RESPONSE_JSON).json(&request);
        let mut get = app.client.get(app.url("/graphql")).header(ACCEPT, GRAPHQL_RESPONSE_JSON);
        get = get.query(&[("query", request["query"].as_str().unwrap())]);
        if let Some(name) = request["operationName"].as_str() {
            get = get.query(&[("operationName", name)]);
        }
        for response in [post.send().await.expect("POST"), get.send().await.expect("GET")] {
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{request}");
            let body: Value = response.json().await.expect("JSON body");
            assert!(body.get("data").is_none(), "{body}");
            assert_eq!(body["errors"][0]["message"], message, "{body}");
            assert_eq!(body["errors"][0]["extensions"]["code"], "OPERATION_RESOLUTION_FAILURE", "{body}");
        }
    }
    // Named right, the same document runs.
    let request = serde_json::json!({ "query": two, "operationName": "B" });
    let response = app.client.post(app.url("/graphql")).json(&request).send().await.expect("POST");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(body["data"], serde_json::json!({ "__typename": "Query" }), "{body}");
}

#[tokio::test]
async fn made_up_root_fields_cannot_add_metrics_labels_or_crowd_out_real_ones() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    // More made-up names than the label set holds, each alone and beside a real field.
    for n in 0..250 {
        for query in [format!("{{ madeUp{n} }}"), format!("{{ todos {{ totalCount }} madeUp{n} }}")] {
            let (status, body) = app.post(Some(&user.token), &query, serde_json::json!({})).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{body}");
        }
    }
    app.as_user(&user, "{ todos { totalCount } }", serde_json::json!({})).await;
    app.as_user(&user, "{ todos { totalCount } me { id } }", serde_json::json!({})).await;
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(!text.contains("madeUp"), "{text}");
    for label in ["invalid", "multiple"] {
        let series = format!("todoql_graphql_requests_seconds_count{{operation=\"{label}\",outcome=\"error\"}} 250");
        assert!(text.contains(&series), "{series}: {text}");
    }
    assert!(text.contains("todoql_graphql_requests_seconds_count{operation=\"todos\",outcome=\"ok\"} 1"), "{text}");
    assert!(text.contains("todoql_graphql_requests_seconds_count{operation=\"multiple\",outcome=\"ok\"} 1"), "{text}");
}
