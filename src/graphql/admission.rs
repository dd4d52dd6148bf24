//! Admitting a signed-in user's query or mutation (issue 13): a slot among their requests in
//! flight ([`crate::auth::in_flight`]), then its calculated cost from their budget
//! ([`crate::auth::budget`]), reported back in `extensions.cost`.
//!
//! Over HTTP, [`super::Schemas::execute`] takes the slot before anything else and marks the
//! request [`Admitted`]; the cost is charged where the validation is known (the cache, or the
//! limits extension). Over WebSocket, the limits extension does both.

use async_graphql::{ErrorExtensions, Response, ServerError};

use crate::auth::budget::Charge;
use crate::auth::in_flight::Slot;
use crate::auth::{AuthenticatedUser, Viewer};
use crate::error::{Error, Result};
use crate::state::State;

/// Marks a request whose slot was taken before it reached the schema.
pub(super) struct Admitted;

/// The signed-in user a viewer is, if any.
pub(super) fn user(viewer: Option<&Viewer>) -> Option<&AuthenticatedUser> {
    match viewer {
        Some(Viewer::User(user)) => Some(user),
        _ => None,
    }
}

/// One of `user`'s in-flight slots (none for anonymous callers, whose operations are the
/// sign-in mutations, limited on their own).
pub(super) async fn slot(state: &State, user: Option<&AuthenticatedUser>) -> Result<Option<Slot>> {
    match user {
        Some(user) => state.in_flight.enter(&user.id).await.map(Some),
        None => Ok(None),
    }
}

/// Draws `cost` from `user`'s budget (nothing for anonymous callers, or with no budget).
pub(super) fn charge(state: &State, user: Option<&AuthenticatedUser>, cost: usize) -> Result<Option<Charge>> {
    match user {
        Some(user) if state.budget.is_on() => state.budget.charge(&user.id, cost as u64).map(Some),
        _ => Ok(None),
    }
}

/// Refuses a request of `user_id` before it is parsed when their budget has not one unit left
/// ([`crate::auth::budget::CostBudget::exhausted`]): a refusal then costs a lookup, not a parse
/// and a validation. HTTP requests are checked once their token is, WebSocket operations as
/// they are prepared.
pub(crate) fn afford_any(state: &State, user_id: &str) -> Result<()> {
    match state.budget.exhausted(user_id) {
        Some(retry_after) => Err(Error::BudgetSpent { retry_after }),
        None => Ok(()),
    }
}

/// What an operation refused by validation costs when it is not for its complexity: it
/// asked for nothing measurable, but validating it was work.
pub const INVALID_OPERATION_COST: u64 = 50;

/// Charges `user` for an operation refused by validation: one too complex, the most an
/// admitted operation may cost ([`super::limits::MAX_COMPLEXITY`]); any other,
/// [`INVALID_OPERATION_COST`] — in full, into a debt when less is left. A client sending such
/// operations in a loop (issue 13, attack a': twenty aliased searches refused 4,000 times a
/// second) runs into its budget as one sending admitted ones does.
pub(super) fn charge_refused(state: &State, user: Option<&AuthenticatedUser>, too_complex: bool) {
    if let Some(user) = user {
        let cost = if too_complex { super::limits::MAX_COMPLEXITY as u64 } else { INVALID_OPERATION_COST };
        state.budget.spend(&user.id, cost);
    }
}

/// The response to an operation that was not admitted: about the request as a whole, so
/// the error has no location.
pub(crate) fn refused(error: Error) -> Response {
    Response::from_errors(vec![refused_error(error)])
}

/// The error of an operation that was not admitted, without a location.
pub(super) fn refused_error(error: Error) -> ServerError {
    let extended = error.extend();
    let mut refused = ServerError::new(extended.message, None);
    refused.extensions = extended.extensions;
    refused
}

/// Reports what the operation cost in `extensions.cost`.
pub(super) fn report(mut response: Response, charge: Option<Charge>) -> Response {
    if let Some(charge) = charge {
        response.extensions.insert("cost".to_owned(), charge.to_value());
    }
    response
}

/// The subscriptions running on one WebSocket, bounded (`WS_MAX_SUBSCRIPTIONS_PER_SOCKET`): the
/// socket puts it in its session data, and the limits extension reserves a place for each
/// subscription it prepares. The place is held by the operation's extensions, which live as
/// long as its stream: it is given back when the subscription ends or the socket closes.
#[derive(Clone)]
pub struct SocketSubscriptions {
    running: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    max: usize,
}

/// A subscription's place on its socket.
pub(super) struct SubscriptionPlace(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl SocketSubscriptions {
    /// Room for `max` subscriptions at once.
    pub fn new(max: usize) -> Self {
        Self { running: Default::default(), max }
    }

    /// A place for one more subscription, unless `max` run already.
    pub(super) fn reserve(&self) -> Option<SubscriptionPlace> {
        use std::sync::atomic::Ordering::{AcqRel, Acquire};
        let taken = self.running.fetch_update(AcqRel, Acquire, |n| (n < self.max).then_some(n + 1)).is_ok();
        taken.then(|| SubscriptionPlace(self.running.clone()))
    }
}

impl Drop for SubscriptionPlace {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}
