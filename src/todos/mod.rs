//! Todos: the table, the owner-scoped store, cursor pagination and the GraphQL surface.

pub mod commit;
pub(crate) mod entity;
mod inputs;
pub mod listing;
mod loader;
mod page;
mod schema;
pub mod store;
mod subscription;

pub use commit::WriteQueue;
pub use inputs::{
    CreateTodoInput, OrderDirection, TodoFilter, TodoOrder, TodoOrderField, UpdateTodoInput, check_description,
    normalize_title,
};
pub use loader::{TodoPageLoader, TodoPages};
pub use page::{PageArgs, SEARCH_COST, connection_complexity};
pub use schema::{Todo, TodoConnection, TodoMutation, TodoQuery};
pub use subscription::{TodoEvent, TodoSubscription};
