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

criterion_group!(benches, documents, execute);
criterion_main!(benches);
