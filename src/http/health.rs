//! Liveness, readiness and metrics for operators.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use super::App;

/// `GET /healthz`: 200 while the process runs.
pub async fn live() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 when the database answers, else 503 (at once while it is known down).
pub async fn ready(State(app): State<App>) -> impl IntoResponse {
    if app.state.outage.check().is_ok() && crate::db::is_ready(&app.state.db).await {
        (StatusCode::OK, "ready\n")
    } else {
        app.state.outage.notice_unreachable();
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(app): State<App>) -> impl IntoResponse {
    let (size, idle) = pool_usage(&app.state.db);
    let mut body = app.state.metrics.render(app.state.statements.total(), size, idle, app.state.documents.counts());
    let inline: Vec<_> = [&app.state.reader, &app.state.writer].into_iter().flatten().collect();
    if !inline.is_empty() {
        body.push_str(crate::db::Inline::METRIC_HEADER);
        inline.iter().for_each(|statements| statements.render(&mut body));
    }
    if let Some(writer) = &app.state.writer {
        writer.render_commits(&mut body);
    }
    if let Some(direct) = &app.state.direct {
        direct.render(&mut body);
    }
    app.state.writes.render(&mut body);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body)
}

/// Open and idle connections of the pool.
fn pool_usage(db: &sea_orm::DatabaseConnection) -> (u32, usize) {
    match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
    }
}
