//! The HTTP surface: routes, and the responses shared by them.

mod graphql;
mod health;
mod media;
mod params;
mod playground;
mod ws;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::json;

use crate::graphql::AppSchema;
use crate::state::State;

/// What every handler gets: the schema and the shared state.
#[derive(Clone)]
pub struct App {
    /// The executable schema.
    pub schema: AppSchema,
    /// The shared state (also inside the schema).
    pub state: State,
}

/// Every route of todoql.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(ws::upgrade))
        .route("/playground", get(playground::page))
        .route("/", get(|| async { Redirect::temporary("/playground") }))
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(health::metrics))
        .with_state(app)
}

/// The answer to a present but unusable token (RFC 6750 §3.1).
pub(crate) fn unauthorized(message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": "UNAUTHENTICATED" } }] });
    let mut response = graphql::json_response(media::Media::Json, StatusCode::UNAUTHORIZED, body);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
    response.into_response()
}
