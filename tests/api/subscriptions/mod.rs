//! `Subscription.todoEvents` over a real WebSocket (`GET /graphql/ws`): authentication in
//! `connection_init`, both subprotocols, ownership, commit order, back-pressure, and (on
//! PostgreSQL) events crossing from one instance to another; writes over the REST routes
//! reach subscribers the same way (`rest.rs`).
//!
//! Timeouts here only turn a hang into a failure; no test asserts how fast anything is.

mod connection;
mod delivery;
mod postgres;
mod rest;
mod support;
mod tokens;
