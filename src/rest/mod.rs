//! The REST routes of the FastAPI-era frontend (`/api/{user_id}/tasks…`), a sibling of
//! `graphql/`: axum handlers over the same [`Viewer`](crate::auth::Viewer) checks, the same
//! [`TodoStore`](crate::todos::store::TodoStore) and the same events, answering with
//! FastAPI's conventions, and their OpenAPI document generated from the same code.

mod body;
mod caller;
mod problem;
mod query;
mod routes;
mod scopes;
mod task;
mod tasks;

pub use routes::{openapi, router};
