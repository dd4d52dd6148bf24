//! Integration tests: the real server on port 0, over real HTTP, one fresh database each.
//!
//! Set `TODOQL_TEST_DATABASE=postgres://user@host:port/postgres` to run every test on a
//! fresh PostgreSQL database instead of a fresh SQLite file.

mod helpers;

mod auth;
pub(crate) mod better_auth;
mod document_cache;
mod fuzz;
mod http;
mod inline;
mod limits;
mod order;
mod pagination;
mod persisted;
pub(crate) mod postgres;
mod process;
mod rest;
mod schema;
pub(crate) mod scopes;
mod security;
mod subscriptions;
mod todos;
