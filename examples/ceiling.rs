//! The performance reference for `scripts/load` (issue 8): the fastest honest way to serve
//! todoql's hottest read with this stack, and no GraphQL.
//!
//! `POST /graphql` with `Authorization: Bearer <jwt>` verifies the HS256 token exactly as
//! todoql does (same secret, HS256 only, `exp` and `sub` required, 5 s leeway), checks that
//! the token's user still exists, and answers what todoql answers to
//! `{ todos(first: 20) { nodes { id title completed } } }`: the caller's 20 newest todos as
//! `{"data":{"todos":{"nodes":[{"id","title","completed"}]}}}`. It does the same database
//! work as todoql (one user lookup, one indexed page query) but with rusqlite, a cached
//! prepared statement and one connection per runtime worker, run inline: what is left
//! between this and todoql is the cost of GraphQL, sea-orm and sqlx.
//!
//! `GET /api/{user_id}/tasks` does the REST read's work the same way: the token, the path's
//! user against its subject (403), the user check and the 20 newest tasks with the seven
//! fields todoql's REST routes answer — the REST read's own reference (issue 16), where the
//! GraphQL read's answers three fields.
//!
//! A bad or expired token gets todoql's 401 and body. The request body must be JSON with a
//! `query` string; the query text itself is not read.
//!
//! ```text
//! cargo build --release --example ceiling
//! DATABASE_URL=sqlite:///tmp/x.db JWT_SECRET=... BIND_ADDR=127.0.0.1:8001 target/release/examples/ceiling
//! JWT_SECRET=... target/release/examples/ceiling expired-token <user-id>   # prints a token that expired an hour ago
//! ```

#[path = "reference/tokens.rs"]
mod tokens;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::{Deserialize, Serialize};
use tokens::{Tokens, expired_token, json, unauthorized};

/// What the handler shares.
struct Shared {
    tokens: Tokens,
    database: String,
}

/// The request body: only its shape is checked.
#[derive(Deserialize)]
struct GraphqlBody<'a> {
    #[allow(dead_code)]
    #[serde(borrow)]
    query: &'a str,
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
struct Answer {
    data: Todos,
}

const USER_EXISTS: &str = "SELECT 1 FROM users WHERE id = ?1";
/// The REST read's page: the same 20 newest todos, every field a task shows.
const TASKS: &str = "SELECT id, title, description, completed, created_at, updated_at FROM todos \
    WHERE owner_id = ?1 ORDER BY created_at DESC, id DESC LIMIT 20";

/// A task as the REST routes answer it (FastAPI + SQLModel's shape).
#[derive(Serialize)]
struct Task<'a> {
    id: String,
    user_id: &'a str,
    title: String,
    description: Option<String>,
    completed: bool,
    created_at: String,
    updated_at: String,
}
const PAGE: &str = "SELECT id, title, completed FROM todos WHERE owner_id = ?1 \
                    ORDER BY created_at DESC, id DESC LIMIT 20";

thread_local! {
    /// One read connection per runtime worker thread: no pool, no lock, no hop to another thread.
    static CONNECTION: RefCell<Option<Connection>> = const { RefCell::new(None) };
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("JWT_SECRET").map_err(|_| "JWT_SECRET must be set")?;
    if secret.len() < 32 {
        return Err("JWT_SECRET must be at least 32 bytes".into());
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("expired-token") {
        let sub = args.get(1).ok_or("usage: ceiling expired-token <user-id>")?;
        println!("{}", expired_token(&secret, sub)?);
        return Ok(());
    }
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL must be set")?;
    let database = sqlite_path(&url).to_owned();
    let bind: SocketAddr = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:8001".to_owned()).parse()?;

    let shared = Arc::new(Shared { tokens: Tokens::new(&secret), database });
    // Fail now, not on the first request, when the database is unusable.
    with_connection(&shared, |c| c.query_row("SELECT count(*) FROM todos", [], |r| r.get::<_, i64>(0)))?;

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let app = Router::new()
            .route("/graphql", post(graphql))
            .route("/api/{user_id}/tasks", get(tasks))
            .route("/healthz", get(|| async { "ok" }))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind(bind).await?;
        eprintln!("ceiling: serving on {}", listener.local_addr()?);
        axum::serve(listener, app).await
    })?;
    Ok(())
}

/// The file of a `sqlite://path?options` URL (or a bare path).
fn sqlite_path(url: &str) -> &str {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    rest.split('?').next().unwrap_or(rest)
}

/// Runs `f` on this thread's connection, opening it on first use.
fn with_connection<T>(shared: &Shared, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    CONNECTION.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let connection = Connection::open_with_flags(
                &shared.database,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            connection.busy_timeout(std::time::Duration::from_secs(10))?;
            *slot = Some(connection);
        }
        match slot.as_ref() {
            Some(connection) => f(connection),
            None => Err(rusqlite::Error::InvalidQuery),
        }
    })
}

async fn graphql(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(user_id) = shared.tokens.subject(&headers) else {
        return unauthorized();
    };
    if serde_json::from_slice::<GraphqlBody>(&body).is_err() {
        return json(
            StatusCode::BAD_REQUEST,
            br#"{"errors":[{"message":"send a JSON body with a query","extensions":{"code":"BAD_REQUEST"}}]}"#.to_vec(),
        );
    }
    let page = with_connection(&shared, |c| {
        let exists = c.prepare_cached(USER_EXISTS)?.query_row([&user_id], |_| Ok(())).optional()?;
        if exists.is_none() {
            return Ok(None);
        }
        let mut statement = c.prepare_cached(PAGE)?;
        let rows =
            statement.query_map([&user_id], |r| Ok(Node { id: r.get(0)?, title: r.get(1)?, completed: r.get(2)? }))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map(Some)
    });
    match page {
        Ok(Some(nodes)) => {
            let answer = Answer { data: Todos { todos: Nodes { nodes } } };
            json(StatusCode::OK, serde_json::to_vec(&answer).unwrap_or_default())
        }
        Ok(None) => json(
            StatusCode::OK,
            br#"{"data":null,"errors":[{"message":"the user of this token no longer exists","extensions":{"code":"UNAUTHENTICATED"}}]}"#.to_vec(),
        ),
        Err(_) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#.to_vec(),
        ),
    }
}

/// `GET /api/{user_id}/tasks`: the REST read's work with nothing around it — the token, the
/// path's user against its subject (403), the user check and the 20 newest tasks, each with
/// the seven fields todoql's REST routes answer (RFC 3339 timestamps). Query parameters are
/// not read: `scripts/load` asks `?limit=20`, the default here.
async fn tasks(State(shared): State<Arc<Shared>>, Path(path_user): Path<String>, headers: HeaderMap) -> Response {
    let Some(user_id) = shared.tokens.subject(&headers) else {
        return unauthorized();
    };
    if user_id != path_user {
        return json(StatusCode::FORBIDDEN, br#"{"detail":"this token is not the path's user"}"#.to_vec());
    }
    let instant = |micros: i64| {
        chrono::DateTime::from_timestamp_micros(micros)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
            .unwrap_or_default()
    };
    let page = with_connection(&shared, |c| {
        if c.prepare_cached(USER_EXISTS)?.query_row([&user_id], |_| Ok(())).optional()?.is_none() {
            return Ok(None);
        }
        let mut statement = c.prepare_cached(TASKS)?;
        let rows = statement.query_map([&user_id], |r| {
            Ok(Task {
                id: r.get(0)?,
                user_id: &user_id,
                title: r.get(1)?,
                description: r.get(2)?,
                completed: r.get(3)?,
                created_at: instant(r.get(4)?),
                updated_at: instant(r.get(5)?),
            })
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map(|tasks| serde_json::to_vec(&tasks).ok())
    });
    match page {
        Ok(Some(body)) => json(StatusCode::OK, body),
        Ok(None) => json(StatusCode::UNAUTHORIZED, br#"{"detail":"the user of this token no longer exists"}"#.to_vec()),
        Err(_) => json(StatusCode::INTERNAL_SERVER_ERROR, br#"{"detail":"internal error"}"#.to_vec()),
    }
}
