//! Executing `{ todos(first: 20) { nodes { id title completed } } }` in-process (issue 8),
//! against a SQLite database seeded like `scripts/load` seeds it: 20 users x 200 todos.
//!
//! `cargo bench --bench query`
//!
//! The layers, from the bottom up, so their differences say where a request's time goes:
//! - `db: rusqlite`: the two statements of a read (user exists, page of 21) with rusqlite and
//!   cached statements: the floor. Also with the LIMIT bound as a parameter, as sea-orm sends
//!   it: SQLite then re-prepares the statement on every run.
//! - `db: sqlx`: the same statements through todoql's sqlx pool, without sea-orm.
//! - `db: users::store::find`, `db: TodoStore::page`: todoql's store functions (sea-orm).
//! - `schema.execute`: parse, validate and execute through the schema, with the request data
//!   the HTTP layer attaches (viewer, loaders); no user lookup, no HTTP.
//! - `router`: the whole request through the axum router in-process (no socket): header
//!   parsing, token check, user lookup, GraphQL, JSON.
//! - `schema.execute x50 concurrent`: 50 at once on the runtime, as under load (throughput).

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request as HttpRequest, StatusCode, header};
use criterion::{Criterion, criterion_group, criterion_main};
use tower::ServiceExt;

use todoql::auth::{AuthenticatedUser, SignedInHere, Viewer};
use todoql::config::Config;
use todoql::graphql::Schemas;
use todoql::state::State;
use todoql::todos::PageArgs;
use todoql::todos::store::TodoStore;

const USERS: usize = 20;
const TODOS_PER_USER: usize = 200;
const SECRET: &str = "a benchmark secret of at least 32 bytes, honestly";
const READ: &str = "{ todos(first: 20) { nodes { id title completed } } }";
const ROUNDS: usize = 50;
/// createTodo fields per seeding request: todoql allows 20 root fields per operation.
const BATCH: usize = 20;

/// A seeded database and everything needed to query it.
struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    state: State,
    schema: Schemas,
    router: axum::Router,
    users: Vec<(String, String)>,
    next: AtomicUsize,
}

impl Fixture {
    /// The next user, round robin: (id, access token).
    fn user(&self) -> &(String, String) {
        &self.users[self.next.fetch_add(1, Ordering::Relaxed) % self.users.len()]
    }
}

fn config(url: &str) -> Config {
    let mut config = Config::for_database(url);
    config.jwt_secret = Some(SECRET.to_owned());
    config.access_token_ttl = 3600;
    config
}

/// The request data `src/http/graphql.rs` attaches before executing.
fn request(query: &str, viewer: Viewer) -> async_graphql::Request {
    async_graphql::Request::new(query)
        .data(viewer)
        .data(SignedInHere::default())
        .data(todoql::loaders::Loaders::caching())
}

async fn execute_ok(schema: &Schemas, request: async_graphql::Request) -> async_graphql::Value {
    let response = schema.execute(request).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    response.data
}

/// Opens a fresh database the way `app::build` does and seeds it through the schema:
/// signUp per user, then createTodo in batches of 20 aliased mutations (run in order).
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let config = config(&url);
    let state = todoql::app::open(config.clone()).await.expect("state");
    let schema = todoql::graphql::build(state.clone());

    let mut users = Vec::new();
    for i in 1..=USERS {
        let sign_up = format!(
            r#"mutation {{ signUp(input: {{email: "bench-{i}@bench.test", password: "bench-password-{i}", name: "Bench {i}"}}) {{ accessToken user {{ id }} }} }}"#
        );
        let data = execute_ok(&schema, request(&sign_up, Viewer::Anonymous)).await.into_json().expect("json");
        let id = data["signUp"]["user"]["id"].as_str().expect("id").to_owned();
        let token = data["signUp"]["accessToken"].as_str().expect("token").to_owned();
        let viewer = || Viewer::User(AuthenticatedUser::trusted(id.clone()));
        for chunk in 0..TODOS_PER_USER / BATCH {
            let fields: String = (1..=BATCH)
                .map(|k| {
                    let n = chunk * BATCH + k;
                    format!(r#" t{n}: createTodo(input: {{title: "Todo {n} of load user {i}"}}) {{ id }}"#)
                })
                .collect();
            execute_ok(&schema, request(&format!("mutation {{{fields} }}"), viewer())).await;
        }
        users.push((id, token));
    }
    let router = todoql::app::build(config).await.expect("router").router;
    Fixture { _dir: dir, path, state, schema, router, users, next: AtomicUsize::new(0) }
}

/// The page query as todoql's store sends it (all columns, one extra row for `hasNextPage`),
/// with the limit written in (`literal`) or bound as a parameter like sea-orm binds it.
fn page_sql(literal: bool) -> String {
    let limit = if literal { "21" } else { "?2" };
    format!(
        "SELECT id, owner_id, title, description, completed, created_at, updated_at, title_folded, \
         description_folded FROM todos WHERE owner_id = ?1 ORDER BY created_at DESC, id DESC LIMIT {limit}"
    )
}

fn read(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let fixture = runtime.block_on(fixture());
    let args = PageArgs::new(Some(20), None, None, None, None, None).expect("args");

    let mut group = c.benchmark_group("todos(first: 20)");
    group.measurement_time(std::time::Duration::from_secs(3));

    // The floor: the same two statements with rusqlite on this thread.
    let connection = rusqlite::Connection::open(&fixture.path).expect("rusqlite");
    for literal in [true, false] {
        let name = if literal { "db: rusqlite" } else { "db: rusqlite, LIMIT bound as a parameter" };
        let sql = page_sql(literal);
        group.bench_function(name, |b| {
            b.iter(|| {
                let (id, _) = fixture.user();
                let exists: i64 = connection
                    .prepare_cached("SELECT count(*) FROM users WHERE id = ?1")
                    .and_then(|mut s| s.query_row([id], |r| r.get(0)))
                    .expect("user");
                let mut page = connection.prepare_cached(&sql).expect("prepare");
                let row = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(String, String, bool)> {
                    Ok((r.get(0)?, r.get(2)?, r.get(4)?))
                };
                let rows: Vec<(String, String, bool)> = if literal {
                    page.query_map(rusqlite::params![id], row).and_then(Iterator::collect)
                } else {
                    page.query_map(rusqlite::params![id, 21], row).and_then(Iterator::collect)
                }
                .expect("page");
                assert_eq!((exists, rows.len()), (1, 21));
                black_box(rows)
            })
        });
    }

    // The same statements through todoql's sqlx pool, without sea-orm.
    let pool = fixture.state.db.get_sqlite_connection_pool();
    for literal in [true, false] {
        let name = if literal { "db: sqlx" } else { "db: sqlx, LIMIT bound as a parameter" };
        let sql = page_sql(literal);
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                let (id, _) = fixture.user();
                let exists: (i64,) = sea_orm::sqlx::query_as("SELECT count(*) FROM users WHERE id = ?1")
                    .bind(id)
                    .fetch_one(pool)
                    .await
                    .expect("user");
                let mut page = sea_orm::sqlx::query_as::<_, (String, String, String, Option<String>, bool)>(
                    // Built from constants only.
                    sea_orm::sqlx::AssertSqlSafe(sql.clone()),
                )
                .bind(id);
                if !literal {
                    page = page.bind(21_i64);
                }
                let rows = page.fetch_all(pool).await.expect("page");
                assert_eq!((exists.0, rows.len()), (1, 21));
                black_box(rows)
            })
        });
    }

    // todoql's own store functions (sea-orm over sqlx), as the HTTP layer and resolver call them.
    group.bench_function("db: users::store::find", |b| {
        b.to_async(&runtime).iter(|| async {
            let (id, _) = fixture.user();
            black_box(todoql::users::store::find(&fixture.state.db, id).await.expect("user"))
        })
    });
    group.bench_function("db: TodoStore::page", |b| {
        b.to_async(&runtime).iter(|| async {
            let owner = AuthenticatedUser::trusted(fixture.user().0.clone());
            let page = TodoStore::of(&fixture.state, &owner).page(&args).await.expect("page");
            assert_eq!(page.todos.len(), 20);
            black_box(page.has_next)
        })
    });

    group.bench_function("schema.execute", |b| {
        b.to_async(&runtime).iter(|| async {
            let (id, _) = fixture.user();
            let viewer = Viewer::User(AuthenticatedUser::trusted(id.clone()));
            black_box(execute_ok(&fixture.schema, request(READ, viewer)).await)
        })
    });

    let body = serde_json::json!({ "query": READ }).to_string();
    let peer = std::net::SocketAddr::from(([127, 0, 0, 1], 40000));
    group.bench_function("router (in-process HTTP)", |b| {
        b.to_async(&runtime).iter(|| async {
            let (_, token) = fixture.user();
            let mut request = HttpRequest::post("/graphql")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::from(body.clone()))
                .expect("request");
            // What `into_make_service_with_connect_info` adds for a real connection.
            request.extensions_mut().insert(ConnectInfo(peer));
            let response = fixture.router.clone().oneshot(request).await.expect("infallible");
            assert_eq!(response.status(), StatusCode::OK);
            black_box(axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body"))
        })
    });

    // Many concurrent requests at once, as the server sees them under load (c=32).
    group.throughput(criterion::Throughput::Elements(ROUNDS as u64));
    group.bench_function("schema.execute x50 concurrent", |b| {
        b.to_async(&runtime).iter(|| async {
            let tasks: Vec<_> = (0..ROUNDS)
                .map(|_| {
                    let (id, _) = fixture.user().clone();
                    let schema = fixture.schema.clone();
                    tokio::spawn(async move {
                        let viewer = Viewer::User(AuthenticatedUser::trusted(id));
                        execute_ok(&schema, request(READ, viewer)).await;
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("task");
            }
        })
    });
    group.finish();
}

criterion_group!(benches, read);
criterion_main!(benches);
