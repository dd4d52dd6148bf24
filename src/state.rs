//! The state shared by every request: attached to the schema once, read by resolvers.

use std::sync::Arc;

use async_graphql::Context;
use sea_orm::DatabaseConnection;

use crate::auth::tokens::TokenKeys;
use crate::config::Config;
use crate::db::StatementCounter;
use crate::error::{Error, Result};
use crate::events::Events;

/// What every resolver may use.
#[derive(Clone)]
pub struct State {
    /// The database pool.
    pub db: DatabaseConnection,
    /// On SQLite, read-only connections for the hot reads ([`crate::db::Inline`]).
    pub reader: Option<Arc<crate::db::Inline>>,
    /// On PostgreSQL, shared connections for the short reads ([`crate::db::Direct`]).
    pub direct: Option<Arc<crate::db::Direct>>,
    /// On SQLite, the read-write connection for todo writes ([`crate::db::Inline`]).
    pub writer: Option<Arc<crate::db::Inline>>,
    /// Todo writes waiting to be committed together by the writer ([`crate::todos::commit`]).
    pub writes: Arc<crate::todos::WriteQueue>,
    /// Access token keys.
    pub keys: Arc<TokenKeys>,
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// Statements issued so far.
    pub statements: Arc<StatementCounter>,
    /// Todo change events.
    pub events: Events,
    /// Request and authentication metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Parsed and validated documents, by query text (the schema's limits extension and the
    /// HTTP layer share it).
    pub documents: Arc<crate::graphql::DocumentCache>,
    /// Each user's requests in flight ([`crate::auth::in_flight`]).
    pub in_flight: Arc<crate::auth::in_flight::InFlight>,
    /// Each user's searches running at once: one ([`crate::todos::TodoStore`]).
    pub scans: Arc<crate::auth::in_flight::InFlight>,
    /// Accounts recently seen to exist, for the user check on the pool ([`crate::users::Known`]).
    pub known_users: Arc<crate::users::Known>,
    /// Sign-in and sign-up budgets the database refused, until their windows end
    /// ([`crate::auth::throttle::Spent`]).
    pub spent: Arc<crate::auth::throttle::Spent>,
    /// Each user's cost budget ([`crate::auth::budget`]).
    pub budget: Arc<crate::auth::budget::CostBudget>,
    /// Whether the database is known to be down ([`crate::db::Outage`]).
    pub outage: Arc<crate::db::Outage>,
    /// The external token issuer (Better Auth) trusted beside todoql's own key, if any.
    pub external: Option<Arc<crate::auth::external::ExternalIssuer>>,
    /// Personal access tokens' revocations and use ([`crate::auth::pats`]).
    pub pats: Arc<crate::auth::pats::Pats>,
}

impl State {
    /// The state attached to the schema `ctx` belongs to.
    pub fn of<'a>(ctx: &'a Context<'_>) -> Result<&'a State> {
        ctx.data::<State>().map_err(|_| Error::Internal("the schema was built without its state".to_owned()))
    }
}

/// Per-request data the HTTP layer attaches (loaders, the viewer): its absence is a bug,
/// reported as an internal error rather than shown to the client.
pub fn request_data<'a, T: std::any::Any + Send + Sync>(ctx: &'a Context<'_>) -> Result<&'a T> {
    ctx.data::<T>().map_err(|_| Error::Internal(format!("request data {} missing", std::any::type_name::<T>())))
}
