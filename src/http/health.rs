//! Liveness, readiness and metrics for operators.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use super::App;

/// `GET /healthz`: 200 while the process runs.
pub async fn live() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 when the database answers, else 503.
pub async fn ready(State(app): State<App>) -> impl IntoResponse {
    if crate::db::is_ready(&app.state.db).await {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(app): State<App>) -> impl IntoResponse {
    let body = format!(
        "# HELP todoql_db_statements_total SQL statements issued.\n\
         # TYPE todoql_db_statements_total counter\n\
         todoql_db_statements_total {}\n",
        app.state.statements.total()
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body)
}
