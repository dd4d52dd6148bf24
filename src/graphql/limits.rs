//! Refuses hostile documents before anything runs, gives every error a stable code, and
//! serves parsed documents and validations from the document cache.

use std::any::TypeId;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest, NextSubscribe,
    NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Variables};
use futures_util::stream::{BoxStream, StreamExt};

use super::admission;
use super::cache::{DocumentCache, Validation};
use super::hostile::refuse_hostile;
use super::order::Order;
use crate::auth::Viewer;
use crate::state::State;

/// The deepest selection a document may have (introspection excepted).
pub const MAX_DEPTH: usize = 10;
/// The deepest an introspection subtree (`__schema`, `__type`) may go: GraphiQL's standard
/// introspection query nests `ofType` about 13 levels.
pub(super) const MAX_INTROSPECTION_DEPTH: usize = 20;
/// The complexity budget: a full `todos(first: 100)` page with every field fits.
pub const MAX_COMPLEXITY: usize = 5_000;
/// The most root fields one operation may select.
pub const MAX_ROOT_FIELDS: usize = 20;
/// The most aliased fields one document may hold.
pub const MAX_ALIASES: usize = 30;
/// The most directives on one field.
pub const MAX_DIRECTIVES: usize = 4;
/// The most selections an operation may hold once its fragments are inlined: GraphiQL's
/// introspection query has a few hundred. It bounds the work of everything that walks the
/// document inline (the hostile document checks, async-graphql's complexity check, execution) against
/// fragments that spread each other many times over, a few hundred bytes growing
/// exponentially.
pub const MAX_SELECTIONS: usize = 2_000;

/// The limits extension: one [`RequestLimits`] per request, sharing the document cache.
pub(super) struct Limits {
    documents: Arc<DocumentCache>,
    timeout: Duration,
}

impl Limits {
    /// Limits sharing `documents`; each query or mutation runs for at most `timeout`.
    pub(super) fn new(documents: Arc<DocumentCache>, timeout: Duration) -> Self {
        Self { documents, timeout }
    }
}

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        let (documents, timeout) = (self.documents.clone(), self.timeout);
        Arc::new(RequestLimits {
            documents,
            timeout,
            validation: Mutex::new(None),
            cost: Mutex::new(0),
            place: Mutex::new(None),
            order: Arc::default(),
        })
    }
}

/// The limits extension for one request.
struct RequestLimits {
    documents: Arc<DocumentCache>,
    /// `REQUEST_TIMEOUT`: HTTP requests are timed as a whole by the HTTP layer; this bounds the
    /// queries and mutations a WebSocket runs just the same.
    timeout: Duration,
    /// Decided in `prepare_request`, which sees the whole request; used by `validation`.
    validation: Mutex<Option<Validation>>,
    /// The operation's calculated cost, found by `validation`; charged by `execute`.
    cost: Mutex<usize>,
    /// A subscription's place on its WebSocket, held as long as the operation (whose stream
    /// owns these extensions) runs.
    place: Mutex<Option<admission::SubscriptionPlace>>,
    /// The order the operation selects its fields in, read in `prepare_request`; its
    /// responses are put in it ([`Order`]). Shared with a subscription's stream, which is
    /// built before the request is prepared.
    order: Arc<Mutex<Option<Arc<Order>>>>,
}

#[async_trait::async_trait]
impl Extension for RequestLimits {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // Measured here, before async-graphql's own parse-time checks (recursion depth,
        // directives): those follow every fragment spread afresh, so fragments that spread each
        // other ten times over would take them exponential time. The HTTP layer has attached
        // the document already (WebSocket operations get it here); a document that does not
        // parse is reported by `parse_query`.
        // A WebSocket operation of a user with no budget left is refused before it is parsed
        // (HTTP requests were, once their token was checked).
        if request.data.get(&TypeId::of::<admission::Admitted>()).is_none()
            && let Some(state) = ctx.data_opt::<State>()
        {
            let viewer = request.data.get(&TypeId::of::<Viewer>()).and_then(|v| v.downcast_ref::<Viewer>());
            if let Some(user) = admission::user(viewer.or_else(|| ctx.data_opt::<Viewer>())) {
                admission::afford_any(state, &user.id).map_err(admission::refused_error)?;
            }
        }
        self.documents.attach(&mut request)?;
        let operation_name = request.operation_name.clone();
        if let Ok(document) = request.parsed_query() {
            refuse_hostile(ctx, document)?;
            let Some(operation) = super::selected_operation(document, operation_name.as_deref()) else {
                return Err(unresolved_operation(operation_name.as_deref()));
            };
            if let Some(subscriptions) = ctx.data_opt::<admission::SocketSubscriptions>()
                && operation.node.ty == OperationType::Subscription
            {
                let Some(place) = subscriptions.reserve() else {
                    let message = "this WebSocket runs as many subscriptions as it may; complete one first";
                    return Err(coded(ServerError::new(message, None), "TOO_MANY_SUBSCRIPTIONS"));
                };
                if let Ok(mut held) = self.place.lock() {
                    *held = Some(place);
                }
            }
            // Looked up already by `Schemas::execute` (HTTP), or not yet (WebSocket).
            let plan = match request.data.get(&TypeId::of::<Planned>()).and_then(|d| d.downcast_ref::<Planned>()) {
                Some(planned) => planned.0.lock().ok().and_then(|mut plan| plan.take()),
                None => self.documents.validation(&request),
            };
            if let Ok(mut validation) = self.validation.lock() {
                *validation = plan;
            }
            // Only once the document is known not to be hostile: the order inlines fragments.
            if let Ok(mut order) = self.order.lock() {
                *order = Order::of_request(&mut request).map(Arc::new);
            }
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|e| {
            let code = if e.message.contains("number of directives") {
                "TOO_MANY_DIRECTIVES"
            } else if e.message.contains("recursion depth") {
                "QUERY_TOO_DEEP"
            } else {
                "GRAPHQL_PARSE_FAILED"
            };
            coded(e, code)
        })
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let plan = self.validation.lock().ok().and_then(|mut plan| plan.take());
        if let Some(Validation::Cached(result)) = plan {
            self.note_cost(&result);
            return Ok(result);
        }
        let too_complex = |e: &ServerError| e.message.contains("too complex");
        let result = next.run(ctx).await.map_err(|errors| {
            if let Some(state) = ctx.data_opt::<State>() {
                let user = admission::user(ctx.data_opt::<Viewer>());
                admission::charge_refused(state, user, errors.iter().any(too_complex));
            }
            errors
                .into_iter()
                .map(|e| {
                    let code = if too_complex(&e) { "QUERY_TOO_COMPLEX" } else { "GRAPHQL_VALIDATION_FAILED" };
                    coded(e, code)
                })
                .collect::<Vec<_>>()
        })?;
        self.note_cost(&result);
        // Only successes are kept: errors carry positions and messages, so they are made afresh.
        if let Some(Validation::Remember(key)) = plan {
            self.documents.remember(key, result);
        }
        Ok(result)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, self.ordered(stream))
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let user = admission::user(ctx.data_opt::<Viewer>());
        let (state, admitted) = (ctx.data_opt::<State>(), ctx.data_opt::<admission::Admitted>().is_some());
        let mut charge = None;
        let mut slot = None;
        if let Some(state) = state {
            if let Err(down) = state.outage.check() {
                return admission::refused(down);
            }
            // WebSocket operations take their slot here; HTTP requests took it already.
            if !admitted {
                match tokio::time::timeout(self.timeout, admission::slot(state, user)).await {
                    Ok(Ok(taken)) => slot = taken,
                    Ok(Err(error)) => return admission::refused(error),
                    Err(_) => return timed_out(),
                }
            }
            let cost = self.cost.lock().map_or(0, |cost| *cost);
            match admission::charge(state, user, cost) {
                Ok(charged) => charge = charged,
                Err(error) => return admission::refused(error),
            }
        }
        let Ok(mut response) = tokio::time::timeout(self.timeout, next.run(ctx, operation_name)).await else {
            return timed_out();
        };
        drop(slot);
        if let Some(order) = self.order.lock().ok().and_then(|order| order.clone()) {
            order.apply(&mut response.data);
        }
        if let Some(state) = state
            && response.errors.iter().any(|e| e.message == crate::error::DATABASE_UNAVAILABLE)
        {
            state.outage.notice_unreachable();
        }
        response.errors = response.errors.into_iter().map(coded_input_error).collect();
        admission::report(response, charge)
    }
}

impl RequestLimits {
    /// Each event of a subscription in the order its document selects (the order is read
    /// when the request is prepared, after the stream is built).
    fn ordered<'s>(&self, stream: BoxStream<'s, Response>) -> BoxStream<'s, Response> {
        let order = self.order.clone();
        stream
            .map(move |mut response| {
                if let Some(order) = order.lock().ok().and_then(|order| order.clone()) {
                    order.apply(&mut response.data);
                }
                response
            })
            .boxed()
    }

    fn note_cost(&self, result: &ValidationResult) {
        if let Ok(mut cost) = self.cost.lock() {
            *cost = result.complexity;
        }
    }
}

/// An operation stopped for time.
fn timed_out() -> Response {
    let message = "the request took too long and was stopped";
    Response::from_errors(vec![coded(ServerError::new(message, None), "TIMEOUT")])
}

/// The code of an error raised while executing: resolvers code their own errors; what is left
/// is input coercion by async-graphql.
pub(super) fn coded_input_error(error: ServerError) -> ServerError {
    coded(error, "BAD_USER_INPUT")
}

/// The validation [`Schemas::execute`](super::Schemas::execute) looked up for a request, for
/// the extension to use rather than look it up again.
pub(super) struct Planned(Mutex<Option<Validation>>);

impl Planned {
    pub(super) fn new(plan: Option<Validation>) -> Self {
        Self(Mutex::new(plan))
    }
}

/// Sets `extensions.code` unless the error has one.
pub(super) fn coded(mut error: ServerError, code: &str) -> ServerError {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
    error
}

/// The request error for a document in which `operation_name` picks no operation: a name
/// no operation has, or none given for a document of several. (async-graphql says the same
/// later, without a code, as if it were an error of the operation.)
fn unresolved_operation(operation_name: Option<&str>) -> ServerError {
    let message = match operation_name {
        Some(name) => format!("Unknown operation named \"{name}\""),
        None => "Operation name required in request.".to_owned(),
    };
    coded(ServerError::new(message, None), "OPERATION_RESOLUTION_FAILURE")
}
