//! Hostile documents are refused before anything runs.

use super::support::*;

#[tokio::test]
async fn an_operation_with_more_than_twenty_root_fields_is_refused_before_anything_runs() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let twenty = format!("{{ {} }}", "__typename ".repeat(20));
    assert_eq!(
        without_cost(app.as_user(&user, &twenty, json!({})).await),
        json!({ "data": { "__typename": "Query" } })
    );

    let creates: String =
        (0..21).map(|i| format!("t{i}: createTodo(input: {{ title: \"t{i}\" }}) {{ id }} ")).collect();
    // Written plainly, and wrapped in fragments, which must not hide them.
    let inline = format!("mutation {{ ... on Mutation {{ {creates} }} }}");
    let spread = format!("mutation {{ ...M }} fragment M on Mutation {{ {creates} }}");
    for document in [format!("mutation {{ {creates} }}"), inline, spread] {
        let (status, body) = app.post(Some(&user.token), &document, json!({})).await;
        assert_eq!((status, error_code(&body)), (200, "QUERY_TOO_COMPLEX"), "{document}: {body}");
        assert!(body.get("data").is_none(), "{body}");
    }
    let body = app.as_user(&user, "{ todos { totalCount } }", json!({})).await;
    assert_eq!(body["data"]["todos"]["totalCount"], 0, "a refused mutation ran: {body}");
}

#[tokio::test]
async fn a_document_with_more_than_thirty_aliases_is_refused() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let aliased = |n: usize| format!("{{ me {{ {} }} }}", (0..n).map(|i| format!("a{i}: id ")).collect::<String>());
    let body = app.as_user(&user, &aliased(30), json!({})).await;
    assert_eq!(body["data"]["me"]["a29"], user.id.as_str(), "{body}");
    let body = app.as_user(&user, &aliased(31), json!({})).await;
    assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX", "{body}");
    assert!(body.get("data").is_none(), "{body}");
}

#[tokio::test]
async fn more_than_four_directives_on_a_field_are_refused() {
    let app = TestApp::spawn().await;
    let directives = |n: usize| format!("{{ __typename {} }}", "@include(if: true) ".repeat(n));
    assert_eq!(app.anonymous(&directives(4), json!({})).await, json!({ "data": { "__typename": "Query" } }));
    let body = app.anonymous(&directives(5), json!({})).await;
    assert_eq!(error_code(&body), "TOO_MANY_DIRECTIVES", "{body}");
    assert!(body.get("data").is_none(), "{body}");
}

#[tokio::test]
async fn fragments_spreading_each_other_over_and_over_are_refused_without_expanding_them() {
    // Its own process: were the document expanded, a worker would spin for ever, and only a
    // process can be stopped from outside.
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path(), &fresh_database(dir.path()).await, &[]);
    server.ready().await;
    // About 1 KB that inlines to 10^12 fields: walked spread by spread, it never ends.
    let levels = 12;
    let mut bomb = String::from("{ ...F0 }\n");
    for i in 0..levels {
        bomb.push_str(&format!("fragment F{i} on Query {{ {} }}\n", format!("...F{} ", i + 1).repeat(10)));
    }
    bomb.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
    let (status, body) = server.graphql(None, &bomb, json!({})).await;
    assert_eq!((status, error_code(&body)), (200, "QUERY_TOO_COMPLEX"), "{body}");
    assert!(body.get("data").is_none(), "{body}");
    // A cycle is refused too, not followed for ever.
    let cycle = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
    let (_, body) = server.graphql(None, cycle, json!({})).await;
    assert!(["QUERY_TOO_DEEP", "GRAPHQL_VALIDATION_FAILED"].contains(&error_code(&body)), "{body}");
    assert!(body.get("data").is_none(), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn query_text_over_32_kib_is_refused_with_413() {
    let app = TestApp::spawn().await;
    let padded = |bytes: usize| {
        let query = "{ __typename }\n#";
        format!("{query}{}", "x".repeat(bytes - query.len()))
    };
    let (status, body) = app.post(None, &padded(32 * 1024), json!({})).await;
    assert_eq!((status, &body), (200, &json!({ "data": { "__typename": "Query" } })));
    let (status, body) = app.post(None, &padded(32 * 1024 + 1), json!({})).await;
    assert_eq!(status, 413, "{body}");
    assert!(body["errors"][0]["extensions"]["code"].is_string(), "{body}");
    assert!(body.get("data").is_none(), "{body}");
}

#[tokio::test]
async fn a_batch_of_requests_in_a_json_array_is_refused_with_400() {
    let app = TestApp::spawn().await;
    let batch = json!([{ "query": "{ __typename }" }, { "query": "{ __typename }" }]).to_string();
    let (status, body) = post_json(&app, batch).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["errors"][0]["extensions"]["code"].is_string(), "{body}");
    assert!(body.get("data").is_none(), "{body}");
}

#[tokio::test]
async fn a_body_over_max_body_bytes_is_refused_with_413() {
    let app = TestApp::spawn().await;
    assert_eq!(app.config.max_body_bytes, 1024 * 1024);
    // The padding rides in the variables: the query text itself stays small.
    let sized = |bytes: usize| {
        let body = json!({ "query": "{ __typename }", "variables": { "pad": "" } }).to_string();
        json!({ "query": "{ __typename }", "variables": { "pad": "x".repeat(bytes - body.len()) } }).to_string()
    };
    let (status, _) = post_json(&app, sized(1024 * 1024)).await;
    assert_eq!(status, 200);
    let (status, _) = post_json(&app, sized(1024 * 1024 + 1)).await;
    assert_eq!(status, 413);

    let small = TestApp::spawn_with(|c| c.max_body_bytes = 4096).await;
    assert_eq!(post_json(&small, sized(4096)).await.0, 200);
    assert_eq!(post_json(&small, sized(4097)).await.0, 413);
}

#[tokio::test]
async fn introspection_and_field_suggestions_are_on_by_default() {
    let app = TestApp::spawn().await;
    assert!(app.config.graphql_introspection);
    let body = app.anonymous("{ __schema { queryType { name } } }", json!({})).await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query", "{body}");
    let body = app.anonymous("{ todoz { totalCount } }", json!({})).await;
    assert!(body["errors"][0]["message"].as_str().unwrap_or("").contains("Did you mean"), "{body}");
}

#[tokio::test]
async fn with_introspection_off_the_schema_is_refused_and_errors_suggest_no_names() {
    let app = TestApp::spawn_with(|c| c.graphql_introspection = false).await;
    for document in [
        "{ __schema { queryType { name } } }",
        "{ __type(name: \"Todo\") { fields { name } } }",
        "{ ...F } fragment F on Query { __schema { types { name } } }",
    ] {
        let (status, body) = app.post(None, document, json!({})).await;
        assert_eq!((status, error_code(&body)), (200, "GRAPHQL_VALIDATION_FAILED"), "{document}: {body}");
        assert!(body.get("data").is_none(), "{document}: {body}");
    }
    let body = app.anonymous("{ __typename }", json!({})).await;
    assert_eq!(body, json!({ "data": { "__typename": "Query" } }));
    for typo in ["{ todoz { totalCount } }", "{ todos(frist: 1) { totalCount } }", "{ me { emial } }"] {
        let body = app.anonymous(typo, json!({})).await;
        assert!(body["errors"].is_array(), "{body}");
        assert!(!body.to_string().contains("Did you mean"), "{typo}: {body}");
    }
}
