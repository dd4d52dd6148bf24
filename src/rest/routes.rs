//! The REST router and its OpenAPI document, built from one declaration: each handler's
//! `#[utoipa::path]` registers its route and documents it, and [`ApiDoc`] adds what the whole
//! API shares (the bearer scheme, the refusals).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::problem::{
    Forbidden, Invalid, Issue, Loc, Message, NotFound, Problem, TooManyRequests, Unauthorized, Unprocessable,
};
use super::tasks;
use crate::http::App;
use crate::metrics::Metrics;

/// What every REST operation shares.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "todoql REST API",
        description = "The task routes of the FastAPI-era frontend, served by todoql over the same \
            owner-scoped store, input rules and change events as its GraphQL API. Every route needs \
            `Authorization: Bearer <jwt>` (a todoql access token, or Better Auth's when configured) \
            whose `sub` is the path's `{user_id}`, or a personal access token (`todoql_pat_…`) of that \
            user. Reads need the scope `todos:read`, writes `todos:write`. Refusals are `{\"detail\": …}` as FastAPI writes them."
    ),
    modifiers(&BearerScheme),
    security(("bearer" = [])),
    components(
        schemas(Message, Invalid, Issue, Loc),
        responses(Unauthorized, Forbidden, NotFound, TooManyRequests, Unprocessable),
    ),
    tags((name = "tasks", description = "The caller's tasks."))
)]
struct ApiDoc;

/// Adds the `bearer` security scheme every operation requires.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some(
                "A todoql access token (HS256), a personal access token (`todoql_pat_…`), or a Better Auth \
                 JWT when `BETTER_AUTH_URL` is set.",
            ))
            .build();
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The routes with their documentation, under `/api`.
fn documented() -> OpenApiRouter<App> {
    let tasks = OpenApiRouter::default()
        .routes(routes!(tasks::list, tasks::create))
        .routes(routes!(tasks::show, tasks::replace, tasks::remove))
        .routes(routes!(tasks::complete));
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api", tasks)
}

/// The OpenAPI 3.1 document of the REST routes, pretty-printed: what `GET /api/openapi.json`
/// serves, `todoql openapi` prints and `openapi.json` holds.
pub fn openapi() -> String {
    let mut document = documented().into_openapi();
    super::scopes::document(&mut document);
    pretty(&document)
}

/// A document as JSON, two-space indented, with a final newline (as a file holds it).
fn pretty(document: &utoipa::openapi::OpenApi) -> String {
    let mut text = document.to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

/// The REST routes: the tasks and `GET /api/openapi.json`, each request timed by route and
/// bounded by `REQUEST_TIMEOUT`; any other path under `/api` is FastAPI's `{"detail": "Not Found"}`.
pub fn router(app: &App) -> Router<App> {
    let (tasks, mut document) = documented().split_for_parts();
    super::scopes::document(&mut document);
    // Serialised once: each request hands out the same bytes.
    let document = Bytes::from(pretty(&document));
    let served = get(move || {
        let document = document.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], document) }
    });
    let api = Router::new().route("/openapi.json", served).fallback(|| async { Problem::no_route() });
    let observer =
        Observer { metrics: app.state.metrics.clone(), timeout: Duration::from_secs(app.state.config.request_timeout) };
    tasks.merge(Router::new().nest("/api", api)).route_layer(axum::middleware::from_fn_with_state(observer, observe))
}

/// What [`observe`] needs: a few words, cloned per request, where the whole `App` is a few
/// dozen (its clone and drop were about a percent of a REST read's CPU).
#[derive(Clone)]
struct Observer {
    metrics: Arc<Metrics>,
    timeout: Duration,
}

/// Names the request's span after its route, bounds its time and counts it by route.
async fn observe(State(observer): State<Observer>, request: Request, next: Next) -> Response {
    let method = method_label(request.method());
    let path = request.extensions().get::<MatchedPath>().cloned();
    let route = path.as_ref().map_or("unmatched", MatchedPath::as_str);
    tracing::Span::current().record("operation", tracing::field::display(format_args!("{method} {route}")));
    let started = Instant::now();
    let response = match tokio::time::timeout(observer.timeout, next.run(request)).await {
        Ok(response) => response,
        // The writes run in tasks of their own: a write stopped here still commits with its event.
        Err(_) => Problem::timed_out().into_response(),
    };
    observer.metrics.route(route, method, response.status().as_u16(), started.elapsed());
    response
}

/// A method as a metrics label (the REST routes answer no others).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
