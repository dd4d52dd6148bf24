//! Who calls a REST route: the bearer token, verified exactly as on `/graphql`
//! ([`bearer::authenticate`]), then the one rule of this layer — the path's `{user_id}` must
//! be the token's subject. Everything else about ownership is the [`TodoStore`]'s.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::Method;
use axum::http::request::Parts;

use super::problem::Problem;
use crate::auth::bearer::{self, Credential};
use crate::auth::in_flight::Slot;
use crate::auth::{AuthenticatedUser, Viewer};
use crate::db::Snapshot;
use crate::error::Error;
use crate::http::App;
use crate::state::State;
use crate::todos::store::TodoStore;
use crate::users::store as users;

/// The answer FastAPI's `HTTPBearer` gives a request without credentials.
const NO_TOKEN: &str = "Not authenticated";

/// The signed-in caller of a REST route, whose subject is the path's `{user_id}`.
pub struct Caller {
    /// The todoql user the token proves.
    user: AuthenticatedUser,
    /// The token's `sub`, which is the path's `{user_id}`: the todoql user id for todoql's
    /// tokens, the issuer's user id for Better Auth's (what its frontend knows).
    subject: String,
    /// On SQLite, the read transaction a `GET`'s reads share: the user check and the list
    /// see one state, and the transaction is begun and ended once.
    snapshot: Option<Snapshot>,
    /// One of the user's in-flight slots, held while the route runs (as a GraphQL request
    /// holds one).
    _slot: Slot,
}

/// What any task route costs from the user's budget: a task's seven fields and the route
/// itself, as a GraphQL request for one todo with every field would. A list also pays for
/// each task it may return ([`Caller::charge`]).
pub const ROUTE_COST: u64 = 8;

impl Caller {
    /// The caller's todos; reads go through the request's snapshot when it has one.
    pub fn store<'a>(&'a self, state: &'a State) -> TodoStore<'a> {
        TodoStore::in_snapshot(state, &self.user, self.snapshot.as_ref())
    }

    /// Draws `cost` more from the user's budget (`429` with `Retry-After` when it cannot pay).
    pub fn charge(&self, state: &State, cost: u64) -> Result<(), Problem> {
        if state.budget.is_on() {
            state.budget.charge(&self.user.id, cost)?;
        }
        Ok(())
    }

    /// The id the path names the caller by: the `user_id` of every task it is shown.
    pub fn subject(&self) -> &str {
        &self.subject
    }
}

impl FromRequestParts<App> for Caller {
    type Rejection = Problem;

    /// 401 without a usable token (and the refusal counted, as on `/graphql`); 403 when the
    /// token's subject is not the path's `{user_id}`, or when the token lacks the route's scope
    /// ([`super::scopes`]; then with `WWW-Authenticate: Bearer error="insufficient_scope"`). Authentication comes before anything
    /// is read from the body, so a stranger learns nothing from the answers to bad input.
    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Problem> {
        let state = &app.state;
        state.outage.check()?;
        // A personal access token's lookup is the user check: in the GET's snapshot too.
        let early = match &state.reader {
            Some(reader) if parts.method == Method::GET && bearer::is_personal(&parts.headers) => reader.snapshot(),
            _ => None,
        };
        let credential = bearer::authenticate_in(&parts.headers, state, early.as_ref()).await;
        let snapshot = match (&credential, &state.reader) {
            _ if early.is_some() => early,
            (Credential::Valid { .. } | Credential::Linked { .. } | Credential::Personal { .. }, Some(reader))
                if parts.method == Method::GET =>
            {
                reader.snapshot()
            }
            _ => None,
        };
        let (viewer, subject) = match credential {
            Credential::Absent => return Err(Problem::unauthorized(NO_TOKEN)),
            Credential::Valid { user_id, access, .. } => match users::exists(state, snapshot.as_ref(), &user_id)
                .await
                .inspect_err(|error| state.outage.notice(error))?
            {
                true => (Viewer::User(AuthenticatedUser { id: user_id.clone(), access }), user_id),
                false => (Viewer::Deleted, user_id),
            },
            Credential::Linked { user_id, subject, access, .. } => {
                (Viewer::User(AuthenticatedUser { id: user_id, access }), subject)
            }
            Credential::Personal { user_id, access, .. } => {
                (Viewer::User(AuthenticatedUser { id: user_id.clone(), access }), user_id)
            }
            Credential::Failed(error) => return Err(error.into()),
            Credential::Invalid(reason) => {
                // Debug, not info: a flood of bad tokens must not become a flood of log lines.
                tracing::debug!(reason, "rejected a bearer token");
                state.metrics.auth_failure(reason);
                return Err(Problem::unauthorized(reason));
            }
        };
        let user = viewer.user()?.clone();
        tracing::Span::current().record("user_id", user.id.as_str());
        if path_param(parts, "user_id").await? != subject {
            return Err(Error::Forbidden.into());
        }
        // Refused for scope before it queues or costs anything.
        let required = super::scopes::required(&parts.method);
        if !required.allows(user.access.scopes) {
            return Err(Error::InsufficientScope(required).into());
        }
        // The fairness of `/graphql`: the user's requests queue behind each other, and each
        // draws from the same budget.
        let slot = state.in_flight.enter(&user.id).await?;
        let caller = Self { user, subject, snapshot, _slot: slot };
        caller.charge(state, ROUTE_COST)?;
        Ok(caller)
    }
}

/// The `{id}` of a task route, percent-decoded. Ids are opaque: one that names nothing is
/// answered as missing by the store, never refused here.
pub struct TaskId(pub String);

impl FromRequestParts<App> for TaskId {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &App) -> Result<Self, Problem> {
        Ok(Self(path_param(parts, "id").await?))
    }
}

/// A parameter of the matched path; a path that does not decode (not UTF-8) matches no route.
async fn path_param(parts: &mut Parts, name: &str) -> Result<String, Problem> {
    let params = RawPathParams::from_request_parts(parts, &()).await.map_err(|_| Problem::no_route())?;
    let found = params.iter().find_map(|(key, value)| (key == name).then(|| value.to_owned()));
    found.ok_or_else(|| Error::Internal(format!("the route has no {{{name}}}")).into())
}
