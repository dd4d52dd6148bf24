//! Automatic persisted queries and documents by id, as Apollo Client, urql and the GraphQL over
//! HTTP persisted-documents appendix send them.

use super::support::*;

#[tokio::test]
async fn a_hash_alone_is_not_found_until_hash_and_text_register_it_then_the_hash_alone_runs_it() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    app.create_todo(&user, "persisted").await;
    let hash = sha256(TODOS);
    let by_hash = json!({ "extensions": persisted_query(&hash), "variables": { "first": 5 } });
    // What Apollo Client and urql retry on: the message for urql, the code for Apollo, either
    // status (400 under application/graphql-response+json, 200 under application/json).
    for (accept, status) in [(GRAPHQL_RESPONSE, 400), (JSON, 200)] {
        let miss = post(&app, Some(&user), accept, by_hash.clone()).await;
        assert_eq!(miss.status, status, "{}", miss.body);
        assert_eq!(miss.body["errors"][0]["message"], "PersistedQueryNotFound", "{}", miss.body);
        assert_eq!(error_code(&miss.body), "PERSISTED_QUERY_NOT_FOUND");
        assert!(miss.body.get("data").is_none(), "{}", miss.body);
    }
    // The retry: hash and text together (urql adds `miss: true`).
    let mut retry = by_hash.clone();
    retry["query"] = json!(TODOS);
    retry["extensions"]["persistedQuery"]["miss"] = json!(true);
    let registered = post(&app, Some(&user), GRAPHQL_RESPONSE, retry).await;
    let expected = json!({ "todos": { "totalCount": 1, "nodes": [{ "title": "persisted" }] } });
    assert_eq!(data(&registered), &expected);
    let hit = post(&app, Some(&user), GRAPHQL_RESPONSE, by_hash).await;
    assert_eq!(data(&hit), &expected);
}

#[tokio::test]
async fn the_sha256_prefixed_hash_graphql_code_generator_writes_is_accepted() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let hash = format!("sha256:{}", sha256(TODOS));
    let with_text = json!({ "query": TODOS, "extensions": persisted_query(&hash) });
    assert_eq!(data(&post(&app, Some(&user), JSON, with_text).await)["todos"]["totalCount"], 0);
    let alone = post(&app, Some(&user), JSON, json!({ "extensions": persisted_query(&hash) })).await;
    assert_eq!(data(&alone)["todos"]["totalCount"], 0);
}

#[tokio::test]
async fn a_text_whose_hash_is_not_the_one_sent_is_refused_and_never_registered() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    // Someone tries to plant `me` under the hash of the todos query.
    let planted = json!({ "query": "query Todos { me { email } }", "extensions": persisted_query(&sha256(TODOS)) });
    let refused = post(&app, Some(&user), GRAPHQL_RESPONSE, planted).await;
    assert_eq!(refused.status, 400);
    assert_eq!(error_code(&refused.body), "PERSISTED_QUERY_HASH_MISMATCH");
    let later = post(&app, Some(&user), JSON, json!({ "extensions": persisted_query(&sha256(TODOS)) })).await;
    assert_eq!(error_code(&later.body), "PERSISTED_QUERY_NOT_FOUND", "{}", later.body);
}

#[tokio::test]
async fn malformed_persisted_query_extensions_are_bad_requests() {
    let app = TestApp::spawn().await;
    for extensions in [
        json!({ "persistedQuery": { "version": 2, "sha256Hash": sha256(TODOS) } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": "abc" } }),
        json!({ "persistedQuery": "abc" }),
    ] {
        let answer = post(&app, None, JSON, json!({ "extensions": extensions })).await;
        assert_eq!(answer.status, 400, "{extensions}: {}", answer.body);
        assert_eq!(error_code(&answer.body), "BAD_REQUEST");
    }
    let answer = post(&app, None, JSON, json!({ "documentId": "sha256:abc" })).await;
    assert_eq!((answer.status, error_code(&answer.body)), (400, "BAD_REQUEST"), "{}", answer.body);
}

#[tokio::test]
async fn hashed_queries_run_over_get_and_persisted_mutations_never_do() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let hash = sha256(TODOS);
    let params = [("extensions", persisted_query(&hash)), ("variables", json!({ "first": 1 }))];
    let miss = get(&app, Some(&user), JSON, &params).await;
    assert_eq!((miss.status, error_code(&miss.body)), (200, "PERSISTED_QUERY_NOT_FOUND"));
    // urql's retry stays on GET with the text in the URL; Apollo's goes to POST.
    let with_text: Vec<(&str, Value)> = params.iter().cloned().chain([("query", json!(TODOS))]).collect();
    assert_eq!(data(&get(&app, Some(&user), JSON, &with_text).await)["todos"]["totalCount"], 0);
    assert_eq!(data(&get(&app, Some(&user), GRAPHQL_RESPONSE, &params).await)["todos"]["totalCount"], 0);

    let mutation = sha256(CREATE);
    let variables = json!({ "input": { "title": "never over GET" } });
    let registered = json!({ "query": CREATE, "variables": variables, "extensions": persisted_query(&mutation) });
    assert_eq!(data(&post(&app, Some(&user), JSON, registered).await)["createTodo"]["title"], "never over GET");
    for params in [
        vec![("extensions", persisted_query(&mutation)), ("variables", variables.clone())],
        vec![("documentId", json!(format!("sha256:{mutation}"))), ("variables", variables.clone())],
    ] {
        let refused = get(&app, Some(&user), JSON, &params).await;
        assert_eq!(refused.status, 405, "{}", refused.body);
        assert_eq!(refused.headers["allow"], "POST");
    }
    let todos = post(&app, Some(&user), JSON, json!({ "query": TODOS })).await;
    assert_eq!(data(&todos)["todos"]["totalCount"], 1, "the GET mutations ran");
}

#[tokio::test]
async fn a_document_id_names_a_persisted_document_over_post_and_get() {
    let app = TestApp::spawn().await;
    let user = app.sign_up().await;
    let id = format!("sha256:{}", sha256(TODOS));
    let unknown = post(&app, Some(&user), GRAPHQL_RESPONSE, json!({ "documentId": id })).await;
    assert_eq!((unknown.status, error_code(&unknown.body)), (400, "PERSISTED_QUERY_NOT_FOUND"));
    // The appendix's advice: the client sends document and id together, the server checks them.
    let both = json!({ "documentId": id, "query": TODOS, "operationName": "Todos", "variables": { "first": 2 } });
    assert_eq!(data(&post(&app, Some(&user), JSON, both).await)["todos"]["totalCount"], 0);
    let by_id = json!({ "documentId": id, "operationName": "Todos", "variables": { "first": 2 } });
    assert_eq!(data(&post(&app, Some(&user), JSON, by_id).await)["todos"]["totalCount"], 0);
    let params = [("documentId", json!(id)), ("operationName", json!("Todos")), ("variables", json!({ "first": 2 }))];
    assert_eq!(data(&get(&app, Some(&user), GRAPHQL_RESPONSE, &params).await)["todos"]["totalCount"], 0);
}

#[tokio::test]
async fn a_persisted_request_answers_exactly_like_its_text_for_owners_strangers_and_anonymous_callers() {
    let app = TestApp::spawn().await;
    let (owner, stranger) = (app.sign_up().await, app.sign_up().await);
    let id = app.create_todo(&owner, "only mine").await;
    let query = "query One($id: ID!) { todo(id: $id) { title } me { email } }";
    let hash = sha256(query);
    let variables = json!({ "id": id });
    post(
        &app,
        Some(&owner),
        JSON,
        json!({ "query": query, "variables": variables, "extensions": persisted_query(&hash) }),
    )
    .await;
    for user in [Some(&owner), Some(&stranger), None] {
        let text = post(&app, user, GRAPHQL_RESPONSE, json!({ "query": query, "variables": variables })).await;
        let by_hash = json!({ "extensions": persisted_query(&hash), "variables": variables });
        let persisted = post(&app, user, GRAPHQL_RESPONSE, by_hash).await;
        let by_id = json!({ "documentId": format!("sha256:{hash}"), "variables": variables });
        let by_id = post(&app, user, GRAPHQL_RESPONSE, by_id).await;
        let text = (text.status, without_cost(text.body));
        assert_eq!((persisted.status, without_cost(persisted.body)), text);
        assert_eq!((by_id.status, without_cost(by_id.body)), text);
    }
}
