//! The GraphQL schema: roots merged from each domain, limits, and the SDL.

mod limits;
mod public;

use async_graphql::{EmptySubscription, MergedObject, Schema, SchemaBuilder};

pub use limits::{MAX_COMPLEXITY, MAX_DEPTH};
pub use public::is_public_operation;

use crate::auth::AuthMutation;
use crate::state::State;
use crate::todos::{TodoMutation, TodoQuery};
use crate::users::UserQuery;

/// The query root.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(UserQuery, TodoQuery);

/// The mutation root.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(AuthMutation, TodoMutation);

/// The schema todoql serves.
pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .extension(limits::Limits)
        .limit_complexity(MAX_COMPLEXITY)
}

/// The schema, serving with `state`.
pub fn build(state: State) -> AppSchema {
    builder().data(state).finish()
}

/// The schema in SDL, as `todoql schema` prints it and `schema.graphql` holds it.
pub fn sdl() -> String {
    builder().finish().sdl()
}
