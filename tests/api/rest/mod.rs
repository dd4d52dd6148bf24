//! The REST routes of the FastAPI-era frontend (`/api/{user_id}/tasks…`) over real HTTP: every
//! route's answers, FastAPI's refusals, the cross-user matrix, what REST and GraphQL see of each
//! other, and the OpenAPI document (validated by a real validator, and kept from drifting).
//! Events of REST writes are tested with the subscriptions (`subscriptions/rest.rs`).

mod listing;
mod openapi;
mod ownership;
mod refusals;
mod routes;
pub(crate) mod support;
mod surface;
