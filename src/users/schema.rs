//! The `User` GraphQL type and the `me` query.

use async_graphql::{ComplexObject, Context, ErrorExtensions, Object, SimpleObject};
use chrono::{DateTime, Utc};
use todoql_macros::scoped;

use super::entity;
use crate::auth::{SelfOnly, SignedIn, caller};
use crate::error::Error;
use crate::loaders::Loaders;
use crate::state::{State, request_data};
use crate::todos::{PageArgs, TodoConnection, TodoFilter, TodoOrder};

/// A todoql account. Its private fields are visible only to the user themself.
#[scoped]
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct User {
    /// Opaque id. Any scope reads it: a token's holder knows whose it is (the REST routes'
    /// paths carry it), and `todo { owner { id } }` needs no profile.
    #[scopes(["profile:read"], ["todos:read"], ["todos:write"])]
    pub id: async_graphql::ID,
    /// Trimmed, lower-cased email. Only the user themself may read it.
    #[scopes(["profile:read"])]
    #[graphql(guard = "SelfOnly(&self.id)")]
    pub email: String,
    /// Display name.
    #[scopes(["profile:read"])]
    pub name: String,
    /// When the account was created.
    #[scopes(["profile:read"])]
    pub created_at: DateTime<Utc>,
}

impl From<entity::Model> for User {
    fn from(model: entity::Model) -> Self {
        Self {
            id: model.id.into(),
            email: model.email,
            name: model.name,
            created_at: crate::clock::to_datetime(model.created_at),
        }
    }
}

#[scoped]
#[ComplexObject]
impl User {
    /// This user's todos, newest first unless `orderBy` says otherwise. Only the user
    /// themself may read them.
    #[allow(clippy::too_many_arguments)]
    #[scopes(["todos:read"])]
    #[graphql(
        guard = "SelfOnly(&self.id)",
        complexity = "crate::todos::connection_complexity(first, last, filter.as_ref(), child_complexity)"
    )]
    async fn todos(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Take the first n todos (0..=100; 20 when neither first nor last is given).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Take the last n todos (0..=100).")] last: Option<i32>,
        #[graphql(desc = "End before this cursor.")] before: Option<String>,
        #[graphql(desc = "Which todos to include.")] filter: Option<TodoFilter>,
        #[graphql(desc = "Sort order; CREATED_AT DESC by default, ties broken by id.")] order_by: Option<TodoOrder>,
    ) -> async_graphql::Result<TodoConnection> {
        // This user's, whoever the token names: the guard has let the caller see them (a
        // request may sign another user in and read that user's todos in its payload).
        let args = PageArgs::new(first, after, last, before, filter, order_by)?;
        let loader = request_data::<Loaders>(ctx)?.pages(State::of(ctx)?);
        let page = loader.load_one((self.id.to_string(), args)).await.map_err(|e| e.extend())?;
        Ok(page.ok_or_else(|| Error::Internal("page loader returned nothing".to_owned()))?)
    }
}

/// Queries about the signed-in user.
#[derive(Default)]
pub struct UserQuery;

#[scoped]
#[Object]
impl UserQuery {
    /// The signed-in user. `UNAUTHENTICATED` when anonymous.
    #[scopes(["profile:read"])]
    #[graphql(guard = "SignedIn")]
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let user = caller(ctx)?;
        let loader = request_data::<Loaders>(ctx)?.users(State::of(ctx)?);
        let found = loader.load_one(user.id.clone()).await.map_err(|e| e.extend())?;
        Ok(found.ok_or(Error::Unauthenticated("the user of this token no longer exists"))?)
    }
}
