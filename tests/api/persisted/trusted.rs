//! Trusted manifests: read in both formats, checked at start, run without parsing or validation.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::support::*;

#[tokio::test]
async fn a_codegen_manifest_document_runs_by_id_and_by_hash_never_parsed_and_validated_once_per_variables() {
    let (_dir, manifest) = codegen_manifest(&[TODOS, CREATE]);
    let app = TestApp::spawn_with(|config| config.trusted_documents = Some(manifest)).await;
    let user = app.sign_up().await;
    let (parsed, validated) = (metric(&app, PARSE_MISSES).await, metric(&app, VALIDATION_MISSES).await);
    let create =
        json!({ "documentId": format!("sha256:{}", sha256(CREATE)), "variables": { "input": { "title": "trusted" } } });
    assert_eq!(data(&post(&app, Some(&user), JSON, create).await)["createTodo"]["title"], "trusted");
    let by_id = json!({ "documentId": format!("sha256:{}", sha256(TODOS)), "variables": { "first": 5 } });
    let expected = json!({ "todos": { "totalCount": 1, "nodes": [{ "title": "trusted" }] } });
    assert_eq!(data(&post(&app, Some(&user), JSON, by_id).await), &expected);
    // The same operation and variables again, by hash over GET: neither parsed nor validated.
    let by_hash = [("extensions", persisted_query(&sha256(TODOS))), ("variables", json!({ "first": 5 }))];
    for _ in 0..3 {
        assert_eq!(data(&get(&app, Some(&user), JSON, &by_hash).await), &expected);
    }
    assert_eq!(metric(&app, PARSE_MISSES).await, parsed, "a trusted document was parsed");
    assert_eq!(metric(&app, VALIDATION_MISSES).await, validated + 2, "validated once per operation and variables");
    // Its text still runs as text, and names no document.
    assert_eq!(app.as_user(&user, TODOS, json!({})).await["data"], expected);
}

#[tokio::test]
async fn an_apollo_manifest_is_read_too_with_hash_ids_and_custom_ids() {
    let manifest = json!({
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            { "id": sha256(TODOS), "name": "Todos", "type": "query", "body": TODOS },
            { "id": "create-todo-v1", "name": "Create", "type": "mutation", "body": CREATE },
        ],
    });
    let (_dir, manifest) = write_manifest(&manifest);
    let app = TestApp::spawn_with(|config| config.trusted_documents = Some(manifest)).await;
    let user = app.sign_up().await;
    let create = json!({ "documentId": "create-todo-v1", "variables": { "input": { "title": "apollo" } } });
    assert_eq!(data(&post(&app, Some(&user), JSON, create).await)["createTodo"]["title"], "apollo");
    // What Apollo Client sends with a persisted query list: the manifest's id as sha256Hash.
    let todos = json!({ "extensions": persisted_query(&sha256(TODOS)) });
    assert_eq!(data(&post(&app, Some(&user), JSON, todos).await)["todos"]["totalCount"], 1);
}

#[tokio::test]
async fn requests_a_trusted_document_cannot_vouch_for_are_answered_exactly_as_for_its_text() {
    let (_dir, manifest) = codegen_manifest(&[TODOS, CREATE]);
    let app = TestApp::spawn_with(|config| config.trusted_documents = Some(manifest)).await;
    let user = app.sign_up().await;
    let cases: [(&str, Value, Option<&str>); 6] = [
        (TODOS, json!({ "first": "five" }), None),
        (TODOS, json!({ "first": 1.5 }), None),
        (TODOS, json!({ "first": 100_000 }), None),
        (CREATE, json!({}), None),
        (CREATE, json!({ "input": { "title": "" } }), None),
        (CREATE, json!({ "input": { "title": "ok", "colour": "red" } }), None),
    ];
    // (An unknown operation name is left out: its code is being settled on main.)
    for (text, variables, operation) in cases {
        let as_text = json!({ "query": text, "variables": variables, "operationName": operation });
        let as_text = post(&app, Some(&user), GRAPHQL_RESPONSE, as_text).await;
        assert!(as_text.body.get("errors").is_some(), "{}", as_text.body);
        let by_id = json!({ "documentId": format!("sha256:{}", sha256(text)), "variables": variables, "operationName": operation });
        let by_id = post(&app, Some(&user), GRAPHQL_RESPONSE, by_id).await;
        assert_eq!(
            (by_id.status, without_cost(by_id.body)),
            (as_text.status, without_cost(as_text.body)),
            "{variables}"
        );
    }
}

/// Runs the binary with `env` until it exits (bounded); returns whether it succeeded and its stderr.
fn start(env: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_todoql"));
    command.env_clear().current_dir(dir.path()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let database = format!("sqlite://{}?mode=rwc", dir.path().join("todoql.db").display());
    command
        .envs([("DATABASE_URL", database.as_str()), ("BIND_ADDR", "127.0.0.1:0"), ("NO_COLOR", "1")])
        .envs(env.iter().copied());
    let mut child = command.spawn().expect("start todoql");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("poll").is_none() {
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("todoql kept running with a manifest it should refuse");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn a_manifest_that_no_longer_validates_stops_the_start_naming_each_document() {
    let gone = "query Gone { todos { nodes { title priority } } }";
    let broken = "query Broken { todos { nodes { title }";
    let deep = format!("query Deep {}{}", "{ me ".repeat(70), "}".repeat(70));
    let mut manifest = serde_json::Map::new();
    for text in [TODOS, gone, broken, deep.as_str()] {
        manifest.insert(format!("sha256:{}", sha256(text)), json!(text));
    }
    manifest.insert(format!("sha256:{}", sha256("{ me { id } }")), json!("{ me { email } }"));
    let (_dir, path) = write_manifest(&Value::Object(manifest));
    let (started, stderr) = start(&[("TRUSTED_DOCUMENTS", path.to_str().expect("a UTF-8 path"))]);
    assert!(!started, "{stderr}");
    assert!(stderr.contains("4 of 5 documents no longer validate"), "{stderr}");
    for (text, why) in
        [(gone, "priority"), (broken, "expected"), (deep.as_str(), "QUERY_TOO_DEEP"), ("{ me { id } }", "SHA-256")]
    {
        let line = stderr
            .lines()
            .find(|line| line.contains(&sha256(text)))
            .unwrap_or_else(|| panic!("{text} not named: {stderr}"));
        assert!(line.contains(why), "{line}");
    }
    assert!(!stderr.contains(&sha256(TODOS)), "a valid document was named: {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.to_lowercase().contains("backtrace"), "{stderr}");
}

#[test]
fn an_unreadable_manifest_or_trusted_only_without_one_stops_the_start() {
    let (started, stderr) = start(&[("TRUSTED_DOCUMENTS", "/nonexistent/persisted-documents.json")]);
    assert!(!started && stderr.contains("TRUSTED_DOCUMENTS=/nonexistent/persisted-documents.json"), "{stderr}");
    let (started, stderr) = start(&[("TRUSTED_DOCUMENTS_ONLY", "true")]);
    assert!(!started && stderr.contains("TRUSTED_DOCUMENTS_ONLY=true needs TRUSTED_DOCUMENTS"), "{stderr}");
}
