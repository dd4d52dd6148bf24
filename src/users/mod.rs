//! Users: accounts, their GraphQL type and the loader that batches them.

pub(crate) mod entity;
mod known;
mod loader;
mod schema;
pub mod store;

pub use known::Known;
pub use loader::{UserLoader, Users};
pub use schema::{User, UserQuery};
