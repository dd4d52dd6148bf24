//! The GraphQL schema: roots merged from each domain, limits, and the SDL.

mod cache;
mod hostile;
mod limits;
mod public;

use std::sync::Arc;

use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};

pub use cache::{CacheCounts, DocumentCache};
pub use limits::{MAX_ALIASES, MAX_COMPLEXITY, MAX_DEPTH, MAX_DIRECTIVES, MAX_ROOT_FIELDS};
use public::carries_credentials;
pub use public::{is_public_operation, selected_operation};

use crate::auth::AuthMutation;
use crate::state::State;
use crate::todos::{TodoMutation, TodoQuery, TodoSubscription};
use crate::users::UserQuery;

/// The query root.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(UserQuery, TodoQuery);

/// The mutation root.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(AuthMutation, TodoMutation);

/// The subscription root.
#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct Subscription(TodoSubscription);

/// The schema todoql serves.
pub type AppSchema = Schema<Query, Mutation, Subscription>;

fn builder(documents: Arc<DocumentCache>) -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query::default(), Mutation::default(), Subscription::default())
        .extension(limits::Limits::new(documents))
        .limit_complexity(MAX_COMPLEXITY)
        .limit_directives(MAX_DIRECTIVES)
}

/// The schema, serving with `state` (and caching documents in `state.documents`).
pub fn build(state: State) -> AppSchema {
    let mut builder = builder(state.documents.clone());
    if !state.config.graphql_introspection {
        // Suggestions ("did you mean …") would leak the schema that introspection hides.
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder.data(state).finish()
}

/// The schema in SDL, as `todoql schema` prints it and `schema.graphql` holds it.
pub fn sdl() -> String {
    builder(Arc::default()).finish().sdl()
}
