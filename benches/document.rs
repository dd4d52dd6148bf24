//! The document cache (issue 8): what a repeated request saves by not parsing and validating
//! its query text again.
//!
//! `cargo bench --bench document`
//!
//! - `parse` against `clone`: a cache hit hands async-graphql a clone of the cached document
//!   (async-graphql strips the document it is given), which pays only while cloning is
//!   cheaper than parsing. The load test's read and a mutation with variables.
//! - `schema.execute`, cache off (zero entries) and on, in the same run: the read as its
//!   owner (one user, 20 todos, SQLite), and anonymously, where the resolver refuses at once
//!   and what is left is parsing, validation and the executor.
//! - `persisted` (issue 14): the read sent as text (anonymous, and named `query Read`, the
//!   trusted document's text), by APQ hash (learnt by the automatic store, then the document
//!   cache as for text) and by documentId (the trusted document: parsed and validated at
//!   start), on one schema in the same run, as owner and anonymously.

use std::hint::black_box;
use std::sync::Arc;

use async_graphql::parser::parse_query;
use criterion::{Criterion, criterion_group, criterion_main};

use todoql::auth::{AuthenticatedUser, SignedInHere, Viewer};
use todoql::config::Config;
use todoql::graphql::{DocumentCache, Schemas};
use todoql::state::State;

/// The load test's read.
const READ: &str = "{ todos(first: 20) { nodes { id title completed } } }";
/// A mutation with variables, as a client sends one.
const CREATE: &str = "mutation CreateTodo($input: CreateTodoInput!) { createTodo(input: $input) { id title description completed createdAt updatedAt owner { id name } } }";

fn documents(c: &mut Criterion) {
    let mut group = c.benchmark_group("document");
    for (name, text) in [("read", READ), ("createTodo", CREATE)] {
        let document = parse_query(text).expect("parses");
        group.bench_function(format!("{name}: parse"), |b| b.iter(|| black_box(parse_query(black_box(text)))));
        group.bench_function(format!("{name}: clone"), |b| b.iter(|| black_box(black_box(&document).clone())));
    }
    group.finish();
}

/// A schema over a fresh SQLite database with the given document cache.
async fn schema(dir: &std::path::Path, documents: DocumentCache) -> (Schemas, State) {
    let mut config = Config::for_database(format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()));
    config.jwt_secret = Some("a benchmark secret of at least 32 bytes, honestly".to_owned());
    // One user asks as fast as the loop goes: a cost budget would refuse most of it.
    config.cost_budget = 0;
    let state = State { documents: Arc::new(documents), ..todoql::app::open(config).await.expect("state") };
    (todoql::graphql::build(state.clone()), state)
}

/// The request data `src/http/graphql.rs` attaches before executing.
fn request(query: &str, viewer: Viewer) -> async_graphql::Request {
    async_graphql::Request::new(query)
        .data(viewer)
        .data(SignedInHere::default())
        .data(todoql::loaders::Loaders::caching())
}

fn execute(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let (on, state) = runtime.block_on(schema(dir.path(), DocumentCache::default()));
    let off = todoql::graphql::build(State { documents: Arc::new(DocumentCache::new(0, 0)), ..state.clone() });
    let sign_up = r#"mutation { signUp(input: {email: "bench@bench.test", password: "bench-password", name: "Bench"}) { user { id } } }"#;
    let data = runtime.block_on(on.execute(request(sign_up, Viewer::Anonymous))).data.into_json();
    let id = data.expect("json")["signUp"]["user"]["id"].as_str().expect("id").to_owned();
    let user = || Viewer::User(AuthenticatedUser::trusted(id.clone()));
    for n in 0..20 {
        let create = format!(r#"mutation {{ createTodo(input: {{title: "Todo {n}"}}) {{ id }} }}"#);
        let response = runtime.block_on(on.execute(request(&create, user())));
        assert!(response.errors.is_empty(), "{:?}", response.errors);
    }

    let mut group = c.benchmark_group("document");
    group.measurement_time(std::time::Duration::from_secs(3));
    for (cache, schema) in [("off", &off), ("on", &on)] {
        group.bench_function(format!("schema.execute read as owner, cache {cache}"), |b| {
            b.to_async(&runtime).iter(|| async {
                let response = schema.execute(request(READ, user())).await;
                assert!(response.errors.is_empty(), "{:?}", response.errors);
                black_box(response)
            })
        });
        group.bench_function(format!("schema.execute read anonymously, cache {cache}"), |b| {
            b.to_async(&runtime).iter(|| async {
                let response = schema.execute(request(READ, Viewer::Anonymous)).await;
                assert_eq!(response.errors.len(), 1);
                black_box(response)
            })
        });
    }
    group.finish();
}

/// The read as a request of each kind: text, or with these extensions (an APQ hash, the
/// documentId of a trusted document), made outside the measured loop.
fn persisted_request(
    (text, extensions): &(&str, Option<(String, async_graphql::Value)>),
    viewer: Viewer,
) -> async_graphql::Request {
    let mut request = request(text, viewer);
    if let Some((key, value)) = extensions {
        request.extensions.insert(key.clone(), value.clone());
    }
    request
}

fn persisted(c: &mut Criterion) {
    use todoql::graphql::{DocumentKey, Persisted, TrustedDocuments};
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let trusted = format!("query Read {READ}");
    let manifest = dir.path().join("persisted-documents.json");
    let entry = serde_json::json!({ DocumentKey::of_text(&trusted).to_string(): trusted });
    std::fs::write(&manifest, entry.to_string()).expect("manifest");
    let trusted = runtime.block_on(TrustedDocuments::load(&manifest, true)).expect("a valid manifest");
    let documents = DocumentCache::default().with_persisted(Persisted::new(trusted, false));
    let (schema, _) = runtime.block_on(schema(dir.path(), documents));
    let sign_up = r#"mutation { signUp(input: {email: "bench@bench.test", password: "bench-password", name: "Bench"}) { user { id } } }"#;
    let data = runtime.block_on(schema.execute(request(sign_up, Viewer::Anonymous))).data.into_json();
    let id = data.expect("json")["signUp"]["user"]["id"].as_str().expect("id").to_owned();
    let user = || Viewer::User(AuthenticatedUser::trusted(id.clone()));
    for n in 0..20 {
        let create = format!(r#"mutation {{ createTodo(input: {{title: "Todo {n}"}}) {{ id }} }}"#);
        assert!(runtime.block_on(schema.execute(request(&create, user()))).errors.is_empty());
    }
    let hash = DocumentKey::of_text(READ).to_string();
    let apq = serde_json::json!({ "version": 1, "sha256Hash": hash });
    let apq = Some(("persistedQuery".to_owned(), async_graphql::Value::from_json(apq).expect("a value")));
    let document_id = async_graphql::Value::String(DocumentKey::of_text(&format!("query Read {READ}")).to_string());
    let named = format!("query Read {READ}");
    let kinds = [
        ("text", (READ, None)),
        ("text `query Read …`", (named.as_str(), None)),
        ("APQ hash", ("", apq)),
        ("documentId of `query Read …`", ("", Some(("documentId".to_owned(), document_id)))),
    ];
    // The APQ client's first request: hash and text, so the store learns the text.
    let mut learn = persisted_request(&kinds[2].1, user());
    learn.query = READ.to_owned();
    assert!(runtime.block_on(schema.execute(learn)).errors.is_empty());

    let mut group = c.benchmark_group("persisted");
    group.measurement_time(std::time::Duration::from_secs(3));
    for (kind, request) in &kinds {
        group.bench_function(format!("read as owner, {kind}"), |b| {
            b.to_async(&runtime).iter(|| async {
                let response = schema.execute(persisted_request(request, user())).await;
                assert!(response.errors.is_empty(), "{:?}", response.errors);
                black_box(response)
            })
        });
        group.bench_function(format!("read anonymously, {kind}"), |b| {
            b.to_async(&runtime).iter(|| async {
                let response = schema.execute(persisted_request(request, Viewer::Anonymous)).await;
                assert_eq!(response.errors.len(), 1);
                black_box(response)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, documents, execute, persisted);
criterion_main!(benches);
