//! `GET /playground`: GraphiQL, pointed at this server.

use async_graphql::http::GraphiQLSource;
use axum::response::Html;

/// The GraphiQL page.
pub async fn page() -> Html<String> {
    Html(GraphiQLSource::build().endpoint("/graphql").title("todoql").finish())
}
