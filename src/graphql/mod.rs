//! The GraphQL schema: roots merged from each domain, limits, and the SDL.

mod admission;
mod cache;
mod hostile;
mod limits;
mod order;
mod persisted;
mod public;
mod shape;
mod trusted;

use std::sync::Arc;

use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};

pub use admission::SocketSubscriptions;
pub(crate) use admission::{afford_any, refused};
pub use cache::{CacheCounts, DocumentCache};
pub use limits::{MAX_ALIASES, MAX_COMPLEXITY, MAX_DEPTH, MAX_DIRECTIVES, MAX_ROOT_FIELDS};
pub use persisted::{
    DOCUMENT_ID, DocumentKey, MAX_AUTOMATIC_BYTES, MAX_AUTOMATIC_DOCUMENTS, Persisted, lift_document_id, requested_key,
};
use public::carries_credentials;
pub use public::{is_public_operation, selected_operation};
pub use shape::{MAX_NESTING, MAX_QUERY_BYTES};
pub use trusted::{TrustedDocuments, TrustedError};

use crate::auth::AuthMutation;
use crate::auth::pats::{AccessTokenMutation, AccessTokenQuery};
use crate::state::State;
use crate::todos::{TodoMutation, TodoQuery, TodoSubscription};
use crate::users::UserQuery;

/// Codes of errors raised before execution: the request as a whole was refused (HTTP answers
/// them 400 under `application/graphql-response+json`; WebSockets with an `error` message).
const REQUEST_ERROR_CODES: [&str; 13] = [
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "OPERATION_RESOLUTION_FAILURE",
    "QUERY_TOO_DEEP",
    "QUERY_TOO_COMPLEX",
    "TOO_MANY_DIRECTIVES",
    "QUERY_TOO_LARGE",
    "TOO_MANY_SUBSCRIPTIONS",
    // Persisted documents ([`Persisted`]).
    "BAD_REQUEST",
    "PERSISTED_QUERY_NOT_FOUND",
    "PERSISTED_QUERY_NOT_IN_LIST",
    "PERSISTED_QUERY_ID_REQUIRED",
    "PERSISTED_QUERY_HASH_MISMATCH",
];

/// Whether `code` is one of a request refused as a whole before it ran.
pub fn is_request_error(code: &str) -> bool {
    REQUEST_ERROR_CODES.contains(&code)
}

/// The query root.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(UserQuery, TodoQuery, AccessTokenQuery);

/// The mutation root.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(AuthMutation, TodoMutation, AccessTokenMutation);

/// The subscription root.
#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct Subscription(TodoSubscription);

/// The schema todoql serves.
pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// The schema, twice: `full` runs every check on a request, `validated` only what a request
/// needs to run, for requests whose document, operation and variables passed `full`'s
/// checks before ([`Schemas::execute`] decides).
///
/// Why two: async-graphql runs every field of a request through the schema's extensions
/// when it has any (a registry lookup and a boxed future per field and list item), and the
/// checks and the document cache are an extension ([`limits`]). A request the cache has
/// seen validated needs none of it. On the load benchmark's read (60 fields) that was
/// about a seventh of the server's CPU time per request (README, Performance).
#[derive(Clone)]
pub struct Schemas {
    /// Every check, the document cache and the error codes ([`limits`]); subscriptions.
    pub full: AppSchema,
    /// No extension; async-graphql's fast validation (complexity, depth, fragment cycles).
    validated: AppSchema,
    documents: Arc<DocumentCache>,
    state: State,
    /// The root fields of every operation type, and the introspection ones.
    root_fields: Arc<std::collections::HashSet<String>>,
}

impl Schemas {
    /// Whether `name` is a root field of this schema: the names a metrics label may carry.
    pub fn is_root_field(&self, name: &str) -> bool {
        self.root_fields.contains(name)
    }

    /// Runs `request` on `validated` when the document cache holds a successful validation of
    /// its document, operation and variables, else on `full` (which validates, and keeps a
    /// success). Both give errors the same codes. A signed-in caller's request first waits for
    /// one of their in-flight slots, and its cost is drawn from their budget
    /// ([`admission`]).
    pub async fn execute(&self, request: impl Into<async_graphql::Request>) -> async_graphql::Response {
        let mut request = request.into();
        if let Err(refused) = self.documents.attach(&mut request) {
            return async_graphql::Response::from_errors(vec![refused]);
        }
        let viewer = request.data.get(&std::any::TypeId::of::<crate::auth::Viewer>());
        let user = admission::user(viewer.and_then(|v| v.downcast_ref())).cloned();
        let _slot = match admission::slot(&self.state, user.as_ref()).await {
            Ok(slot) => slot,
            Err(error) => return admission::refused(error),
        };
        let mut request = request.data(admission::Admitted);
        match self.documents.validation(&request) {
            Some(cache::Validation::Cached(result)) => {
                let order = order::Order::of_request(&mut request);
                let charge = match admission::charge(&self.state, user.as_ref(), result.complexity) {
                    Ok(charge) => charge,
                    Err(error) => return admission::refused(error),
                };
                let mut response = self.validated.execute(request).await;
                if let Some(order) = order {
                    order.apply(&mut response.data);
                }
                response.errors = response.errors.into_iter().map(limits::coded_input_error).collect();
                admission::report(response, charge)
            }
            plan => self.full.execute(request.data(limits::Planned::new(plan))).await,
        }
    }
}

fn builder(extension: Option<limits::Limits>) -> SchemaBuilder<Query, Mutation, Subscription> {
    let builder = Schema::build(Query::default(), Mutation::default(), Subscription::default())
        .limit_complexity(MAX_COMPLEXITY)
        .limit_directives(MAX_DIRECTIVES);
    match extension {
        Some(limits) => builder.extension(limits),
        None => builder.validation_mode(async_graphql::ValidationMode::Fast),
    }
}

/// The schemas, serving with `state` (and caching documents in `state.documents`).
pub fn build(state: State) -> Schemas {
    let documents = state.documents.clone();
    let schema = |extension| {
        let mut builder = builder(extension);
        if !state.config.graphql_introspection {
            // Suggestions ("did you mean …") would leak the schema that introspection hides.
            builder = builder.disable_introspection().disable_suggestions();
        }
        builder.data(state.clone()).finish()
    };
    let timeout = std::time::Duration::from_secs(state.config.request_timeout);
    let full = schema(Some(limits::Limits::new(documents.clone(), timeout)));
    let root_fields = Arc::new(root_fields(&full));
    Schemas { full, validated: schema(None), documents, state, root_fields }
}

/// The schema in SDL, as `todoql schema` prints it and `schema.graphql` holds it.
pub fn sdl() -> String {
    builder(Some(limits::Limits::new(Arc::default(), std::time::Duration::MAX))).finish().sdl()
}

/// The field names of the schema's root types, read from its SDL, and `__schema`, `__type`
/// and `__typename`.
fn root_fields(schema: &AppSchema) -> std::collections::HashSet<String> {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let mut names: std::collections::HashSet<String> =
        ["__schema", "__type", "__typename"].into_iter().map(str::to_owned).collect();
    let Ok(document) = async_graphql::parser::parse_schema(schema.sdl()) else { return names };
    for definition in document.definitions {
        if let TypeSystemDefinition::Type(ty) = definition
            && ["Query", "Mutation", "Subscription"].contains(&ty.node.name.node.as_str())
            && let TypeKind::Object(object) = ty.node.kind
        {
            names.extend(object.fields.into_iter().map(|field| field.node.name.node.to_string()));
        }
    }
    names
}
