//! The HTTP surface: routes, and the responses shared by them.

mod caching;
mod graphql;
mod health;
mod media;
mod params;
mod playground;
pub mod server;
mod trace;
mod ws;
pub use ws::Sockets;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::graphql::Schemas;
use crate::state::State;

/// What every handler gets: the schema and the shared state, behind one `Arc`.
///
/// axum clones a handler's state for every request, and the layers' too: the parts by value
/// were a few dozen `Arc`s and a set of strings, whose clones and drops took a fifth of the
/// CPU of a rejected request (`perf` of `scripts/load`'s reject). One `Arc` is one count.
#[derive(Clone)]
pub struct App(std::sync::Arc<AppParts>);

/// The parts of an [`App`].
pub struct AppParts {
    /// The executable schemas.
    pub schemas: Schemas,
    /// The shared state (also inside the schema).
    pub state: State,
    /// Open subscription sockets per user, for `WS_MAX_CONNECTIONS_PER_USER`.
    pub sockets: std::sync::Arc<ws::Sockets>,
    /// Becomes `true` when the server shuts down: open WebSockets close with 1001.
    pub going_away: tokio::sync::watch::Receiver<bool>,
}

impl App {
    /// The app of these parts.
    pub fn new(parts: AppParts) -> Self {
        Self(std::sync::Arc::new(parts))
    }
}

impl std::ops::Deref for App {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// Every route of todoql.
pub fn router(app: App) -> Router {
    let body_limit = DefaultBodyLimit::max(app.state.config.max_body_bytes);
    // No origin allowed, no layer: a cross-origin browser is refused either way (no
    // `Access-Control-Allow-Origin`, a preflight answered 405), and the layer's per-request
    // clone and `Vary` header were 4% of a refused request's CPU (`perf` of scripts/load).
    let cors = tower::util::option_layer(cors(&app.state.config.cors_allowed_origins));
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(ws::upgrade))
        .route("/playground", get(playground::page))
        .route("/playground/assets/{file}", get(playground::asset))
        .route("/", get(root))
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready).layer(axum::middleware::from_fn(detach)))
        .route("/metrics", get(health::metrics))
        .merge(crate::rest::router(&app).layer(axum::middleware::from_fn(detach)))
        .layer(body_limit)
        .layer(cors)
        .layer(trace::Trace)
        .with_state(app)
}

/// Serves a request that reaches the database in a task of its own ([`detached`]).
async fn detach(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    detached(next.run(request)).await
}

/// Runs `serving` — the part of a request that reaches the database — in a task of its own,
/// in the request's span.
///
/// A client that goes away drops the connection's future; without a task of its own, that
/// would drop a database statement mid-flight, and a pooled PostgreSQL connection dropped
/// mid-statement is closed (the server logs "Connection reset by peer", and the pool reopens
/// it under load). Detached, the request runs to its end and its answer is discarded; time is
/// still bounded by `REQUEST_TIMEOUT` and `STATEMENT_TIMEOUT`. Only that part: a request
/// answered from memory (a refused token, the playground, `/healthz`) stays on its
/// connection's task, where a hand-off to another task cost a tenth of a refusal's CPU
/// (`perf` and A/B runs of the reject of `scripts/load`, issue 17).
pub(crate) async fn detached(serving: impl Future<Output = Response> + Send + 'static) -> Response {
    use tracing::Instrument;
    match tokio::spawn(serving.in_current_span()).await {
        Ok(response) => response,
        Err(failed) => {
            tracing::error!(%failed, "a request's task failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

/// `GET /`: the playground when it is served, else a pointer to the API.
async fn root(axum::extract::State(app): axum::extract::State<App>) -> Response {
    if app.state.config.playground && !app.state.config.trusted_documents_only {
        Redirect::temporary("/playground").into_response()
    } else {
        (StatusCode::NOT_FOUND, "todoql: GraphQL is served at /graphql\n").into_response()
    }
}

/// CORS for the configured origins only; `None` (no layer) when none is allowed.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    let allowed: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o.trim()).ok()).collect();
    if allowed.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .max_age(std::time::Duration::from_secs(600));
    Some(layer)
}

/// The answer to a present but unusable token (RFC 6750 §3.1).
pub(crate) fn unauthorized(message: &str) -> Response {
    /// `{"errors":[{"message":…,"extensions":{"code":"UNAUTHENTICATED"}}]}`, serialised
    /// straight from borrowed parts: the answer to every request a flood of bad tokens sends.
    #[derive(serde::Serialize)]
    struct Refusal<'a> {
        errors: [Refused<'a>; 1],
    }
    #[derive(serde::Serialize)]
    struct Refused<'a> {
        message: &'a str,
        extensions: Code,
    }
    #[derive(serde::Serialize)]
    struct Code {
        code: &'static str,
    }
    let refusal = Refusal { errors: [Refused { message, extensions: Code { code: "UNAUTHENTICATED" } }] };
    let body = serde_json::to_vec(&refusal).unwrap_or_default();
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(media::Media::Json.content_type())),
            (header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\"")),
        ],
        body,
    )
        .into_response()
}
