//! The PostgreSQL performance reference for `scripts/load` (issue 17): what examples/ceiling.rs
//! is for SQLite, the fastest honest way to serve todoql's hottest read and its write with this
//! stack on PostgreSQL, and no GraphQL.
//!
//! `POST /graphql` with `Authorization: Bearer <jwt>` verifies the HS256 token exactly as
//! examples/ceiling.rs does (same secret, HS256 only, `exp` and `sub` required, 5 s leeway, the
//! same 401 and body) and then:
//!
//! - a body whose `query` does not start with `mutation` is the read
//!   `{ todos(first: 20) { nodes { id title completed } } }`: one user lookup and the caller's
//!   20 newest todos (`ORDER BY created_at DESC, id DESC`, todoql's default order, on the
//!   same `idx_todos_owner_created` index), answered as
//!   `{"data":{"todos":{"nodes":[{"id","title","completed"}]}}}`;
//! - a body whose `query` starts with `mutation` is `createTodo(input: $input) { id }` (what
//!   scripts/load.d/graphql.lua's `write` sends): the title and description of
//!   `variables.input`, trimmed and checked like todoql's, inserted for the caller with a fresh
//!   UUIDv7 and microsecond timestamps, refused past `MAX_TODOS_PER_USER` (default 10,000)
//!   like todoql, and announced with the same `pg_notify` payload on todoql's channel, in the
//!   insert's transaction; answered as `{"data":{"createTodo":{"id":…}}}`.
//!
//! It does the same database work as todoql (the user lookup, the page or the guarded insert
//! and its notification) with tokio-postgres, statements prepared once per connection, and
//! `CEILING_POOL` connections (default: twice the cores) shared by every request in turn: a
//! tokio-postgres client pipelines the statements of concurrent requests on its connection
//! instead of lending the connection to one request at a time. A read sends its two statements
//! together (one round trip); a write is one statement (its own transaction: the user check,
//! the limit check, the insert and the notification). What is left between this and todoql is
//! the cost of GraphQL, sea-orm, sqlx, its pool and its round trips.
//!
//! ```text
//! cargo build --release --example ceiling_pg
//! DATABASE_URL=postgres://todoql@127.0.0.1:55432/db JWT_SECRET=... BIND_ADDR=127.0.0.1:8001 \
//!   target/release/examples/ceiling_pg
//! JWT_SECRET=... target/release/examples/ceiling_pg expired-token <user-id>   # expired an hour ago
//! ```

#[path = "reference/tokens.rs"]
mod tokens;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tokens::{Tokens, expired_token, json, unauthorized};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Statement};

/// One pooled connection and its prepared statements.
struct Connection {
    client: Client,
    user_exists: Statement,
    page: Statement,
    create: Statement,
}

/// What the handler shares.
struct Shared {
    tokens: Tokens,
    connections: Vec<Connection>,
    next: AtomicUsize,
    /// todoql's `MAX_TODOS_PER_USER`.
    max_todos: i64,
}

impl Shared {
    /// The next connection, in turn.
    fn connection(&self) -> &Connection {
        &self.connections[self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len()]
    }
}

/// The request body: the query's text only to tell a mutation from the read.
#[derive(Deserialize)]
struct GraphqlBody {
    query: String,
    #[serde(default)]
    variables: Option<Variables>,
}

#[derive(Deserialize)]
struct Variables {
    input: Option<CreateTodoInput>,
}

#[derive(Deserialize)]
struct CreateTodoInput {
    title: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Serialize)]
struct Node {
    id: String,
    title: String,
    completed: bool,
}

#[derive(Serialize)]
struct Nodes {
    nodes: Vec<Node>,
}

#[derive(Serialize)]
struct Todos {
    todos: Nodes,
}

#[derive(Serialize)]
struct Answer<T> {
    data: T,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    create_todo: CreatedId,
}

#[derive(Serialize)]
struct CreatedId {
    id: String,
}

/// todoql's event payload (`events::Change` as `events::postgres::encode` writes it: the
/// folded columns left empty), so that todoql's listeners read the ceiling's writes as theirs.
#[derive(Serialize)]
struct Change<'a> {
    kind: &'static str,
    todo_id: &'a str,
    owner_id: &'a str,
    todo: EventTodo<'a>,
}

#[derive(Serialize)]
struct EventTodo<'a> {
    id: &'a str,
    owner_id: &'a str,
    title: &'a str,
    description: Option<&'a str>,
    completed: bool,
    created_at: i64,
    updated_at: i64,
    title_folded: &'static str,
    description_folded: Option<&'static str>,
}

const USER_EXISTS: &str = "SELECT 1 FROM users WHERE id = $1";
const PAGE: &str = "SELECT id, title, completed FROM todos WHERE owner_id = $1 \
                    ORDER BY created_at DESC, id DESC LIMIT 20";
/// The write in one statement, so one transaction: no row when the user is gone or already
/// has `$8 + 1` todos (the check todoql makes: is there a todo at offset max - 1?).
const CREATE: &str = "WITH inserted AS ( \
     INSERT INTO todos (id, owner_id, title, description, completed, created_at, updated_at, \
                        title_folded, description_folded) \
     SELECT $1::text, $2::text, $3::text, $4::text, false, $5::int8, $5::int8, $6::text, $7::text \
     WHERE EXISTS (SELECT 1 FROM users WHERE id = $2::text) \
       AND NOT EXISTS (SELECT 1 FROM todos WHERE owner_id = $2::text OFFSET $8::int8 LIMIT 1) \
     RETURNING id) \
   SELECT pg_notify('todoql_todo_events', $9::text) FROM inserted";

const TODO_LIMIT_REACHED: &[u8] =
    br#"{"data":null,"errors":[{"message":"too many todos","extensions":{"code":"TODO_LIMIT_REACHED"}}]}"#;
const USER_GONE: &[u8] = br#"{"data":null,"errors":[{"message":"the user of this token no longer exists","extensions":{"code":"UNAUTHENTICATED"}}]}"#;
const INTERNAL: &[u8] = br#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("JWT_SECRET").map_err(|_| "JWT_SECRET must be set")?;
    if secret.len() < 32 {
        return Err("JWT_SECRET must be at least 32 bytes".into());
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("expired-token") {
        let sub = args.get(1).ok_or("usage: ceiling_pg expired-token <user-id>")?;
        println!("{}", expired_token(&secret, sub)?);
        return Ok(());
    }
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL must be set")?;
    let bind: SocketAddr = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:8001".to_owned()).parse()?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let size = match std::env::var("CEILING_POOL") {
        Ok(n) => n.parse::<usize>().map_err(|_| "CEILING_POOL must be a number")?.max(1),
        Err(_) => cores * 2,
    };
    let max_todos = match std::env::var("MAX_TODOS_PER_USER") {
        Ok(n) => n.parse::<i64>().map_err(|_| "MAX_TODOS_PER_USER must be a number")?.max(1),
        Err(_) => 10_000,
    };

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let mut connections = Vec::with_capacity(size);
        for _ in 0..size {
            connections.push(connect(&url).await?);
        }
        let shared =
            Arc::new(Shared { tokens: Tokens::new(&secret), connections, next: AtomicUsize::new(0), max_todos });
        let app =
            Router::new().route("/graphql", post(graphql)).route("/healthz", get(|| async { "ok" })).with_state(shared);
        let listener = tokio::net::TcpListener::bind(bind).await?;
        eprintln!("ceiling_pg: serving on {} with {size} connections", listener.local_addr()?);
        axum::serve(listener, app).await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}

/// Opens one connection, drives it on the runtime, and prepares its statements (which also
/// fails now, not on the first request, when the schema is not todoql's).
async fn connect(url: &str) -> Result<Connection, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            eprintln!("ceiling_pg: a connection failed: {error}");
        }
    });
    let user_exists = client.prepare(USER_EXISTS).await?;
    let page = client.prepare(PAGE).await?;
    let create = client.prepare(CREATE).await?;
    Ok(Connection { client, user_exists, page, create })
}

async fn graphql(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(user_id) = shared.tokens.subject(&headers) else {
        return unauthorized();
    };
    let Ok(body) = serde_json::from_slice::<GraphqlBody>(&body) else {
        return bad_request("send a JSON body with a query");
    };
    if body.query.trim_start().starts_with("mutation") {
        let Some(input) = body.variables.and_then(|v| v.input) else {
            return bad_request("send the todo as variables.input");
        };
        create(&shared, &user_id, input).await
    } else {
        read(&shared, &user_id).await
    }
}

/// The caller's 20 newest todos; the user lookup and the page go out together.
async fn read(shared: &Shared, user_id: &String) -> Response {
    let connection = shared.connection();
    let client = &connection.client;
    let params: [&(dyn ToSql + Sync); 1] = [user_id];
    let page =
        tokio::try_join!(client.query_opt(&connection.user_exists, &params), client.query(&connection.page, &params));
    match page {
        Ok((None, _)) => json(StatusCode::OK, USER_GONE.to_vec()),
        Ok((Some(_), rows)) => {
            let nodes = rows.iter().map(|r| Node { id: r.get(0), title: r.get(1), completed: r.get(2) }).collect();
            let answer = Answer { data: Todos { todos: Nodes { nodes } } };
            json(StatusCode::OK, serde_json::to_vec(&answer).unwrap_or_default())
        }
        Err(_) => json(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL.to_vec()),
    }
}

/// Adds a todo for the caller, as todoql's `createTodo` does.
async fn create(shared: &Shared, user_id: &String, input: CreateTodoInput) -> Response {
    let title = input.title.trim();
    let length = title.chars().count();
    if !(1..=200).contains(&length) || title.contains('\0') {
        return bad_input("title", "the title must be 1 to 200 characters");
    }
    let description = input.description.as_deref();
    if description.is_some_and(|d| d.chars().count() > 2000 || d.contains('\0')) {
        return bad_input("description", "the description must be at most 2000 characters");
    }
    let id = uuid::Uuid::now_v7().to_string();
    let now = chrono::Utc::now().timestamp_micros();
    let todo = EventTodo {
        id: &id,
        owner_id: user_id,
        title,
        description,
        completed: false,
        created_at: now,
        updated_at: now,
        title_folded: "",
        description_folded: None,
    };
    let change = Change { kind: "Created", todo_id: &id, owner_id: user_id, todo };
    let Ok(payload) = serde_json::to_string(&change) else {
        return json(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL.to_vec());
    };
    // todoql sends a change too large for one notification in parts; the load's titles fit.
    if payload.len() > 7900 {
        return bad_input("description", "this reference sends no change in parts");
    }
    let title_folded = title.to_lowercase();
    let description_folded = description.map(str::to_lowercase);
    let connection = shared.connection();
    let offset = shared.max_todos - 1;
    let inserted = connection
        .client
        .query_opt(
            &connection.create,
            &[&id, user_id, &title, &description, &now, &title_folded, &description_folded, &offset, &payload],
        )
        .await;
    match inserted {
        Ok(Some(_)) => {
            let answer = Answer { data: Created { create_todo: CreatedId { id } } };
            json(StatusCode::OK, serde_json::to_vec(&answer).unwrap_or_default())
        }
        // Nothing inserted: the user is gone, or at the limit.
        Ok(None) => match connection.client.query_opt(&connection.user_exists, &[user_id]).await {
            Ok(Some(_)) => json(StatusCode::OK, TODO_LIMIT_REACHED.to_vec()),
            Ok(None) => json(StatusCode::OK, USER_GONE.to_vec()),
            Err(_) => json(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL.to_vec()),
        },
        Err(_) => json(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL.to_vec()),
    }
}

fn bad_request(message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]});
    json(StatusCode::BAD_REQUEST, body.to_string().into_bytes())
}

fn bad_input(field: &str, message: &str) -> Response {
    let body = serde_json::json!({"data": null, "errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT", "field": field}}]});
    json(StatusCode::OK, body.to_string().into_bytes())
}
