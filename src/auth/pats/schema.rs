//! `accessTokens`, `createAccessToken` and `revokeAccessToken`: managing personal access
//! tokens, from a full session only.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use todoql_macros::scoped;

use super::entity;
use super::store::{self, NewToken};
use crate::auth::caller;
use crate::auth::scopes::{Scope, Scopes, SessionOnly};
use crate::clock::to_datetime;
use crate::error::Result;
use crate::state::State;

/// A personal access token as its owner sees it: never its secret.
#[scoped]
#[derive(SimpleObject)]
pub struct AccessToken {
    /// Opaque id, for `revokeAccessToken`.
    #[scopes(["todos:read", "todos:write", "profile:read"])]
    id: ID,
    /// The name its owner gave it.
    #[scopes(["todos:read", "todos:write", "profile:read"])]
    name: String,
    /// What it may do.
    #[scopes(["todos:read", "todos:write", "profile:read"])]
    scopes: Vec<Scope>,
    /// When it was created.
    #[scopes(["todos:read", "todos:write", "profile:read"])]
    created_at: DateTime<Utc>,
    /// When it last authenticated a request, to the minute; null until then.
    #[scopes(["todos:read", "todos:write", "profile:read"])]
    last_used_at: Option<DateTime<Utc>>,
    /// When it stops working.
    #[scopes(["todos:read", "todos:write", "profile:read"])]
    expires_at: DateTime<Utc>,
}

impl From<entity::Model> for AccessToken {
    fn from(model: entity::Model) -> Self {
        Self {
            id: model.id.into(),
            name: model.name,
            scopes: Scopes::from_claim(&model.scopes).iter().collect(),
            created_at: to_datetime(model.created_at),
            last_used_at: model.last_used_at.map(to_datetime),
            expires_at: to_datetime(model.expires_at),
        }
    }
}

/// A new personal access token, with its secret: shown this once, never again.
#[scoped]
#[derive(SimpleObject)]
pub struct CreatedAccessToken {
    /// The secret to send as `Authorization: Bearer <token>`. It starts with `todoql_pat_`;
    /// todoql keeps only its hash, so store it now.
    #[scopes(["todos:read", "todos:write", "profile:read"])]
    token: String,
    /// The token's details, as `accessTokens` lists them.
    #[scopes(["todos:read", "todos:write", "profile:read"])]
    access_token: AccessToken,
}

/// A personal access token to create.
#[derive(InputObject)]
pub struct CreateAccessTokenInput {
    /// What it is for: 1 to 100 characters after trimming.
    name: String,
    /// What it may do: at least one scope.
    scopes: Vec<Scope>,
    /// Days until it expires: 1 to 365. Every token expires.
    expires_in_days: i32,
}

/// Listing personal access tokens.
#[derive(Default)]
pub struct AccessTokenQuery;

#[scoped]
#[Object]
impl AccessTokenQuery {
    /// The caller's personal access tokens, newest first, expired ones included until revoked.
    /// Only a full session may list them (`FORBIDDEN` for a personal access token).
    #[scopes(["todos:read", "todos:write", "profile:read"])]
    #[graphql(guard = "SessionOnly")]
    async fn access_tokens(&self, ctx: &Context<'_>) -> Result<Vec<AccessToken>> {
        let user = caller(ctx)?;
        let tokens = store::list(&State::of(ctx)?.db, &user.id).await?;
        Ok(tokens.into_iter().map(AccessToken::from).collect())
    }
}

/// Creating and revoking personal access tokens.
#[derive(Default)]
pub struct AccessTokenMutation;

#[scoped]
#[Object]
impl AccessTokenMutation {
    /// Creates a personal access token for scripts and dashboards: it authenticates as the
    /// caller with exactly `scopes`, over HTTP and WebSocket, until it expires or is revoked.
    /// Its secret is in the answer and nowhere else. Only a full session may create one.
    #[scopes(["todos:read", "todos:write", "profile:read"])]
    #[graphql(guard = "SessionOnly")]
    async fn create_access_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token to create.")] input: CreateAccessTokenInput,
    ) -> Result<CreatedAccessToken> {
        let scopes = input.scopes.into_iter().collect();
        let new = NewToken::new(&input.name, scopes, input.expires_in_days)?;
        let user = caller(ctx)?;
        let (stored, token) = store::create(&State::of(ctx)?.db, &user.id, new).await?;
        Ok(CreatedAccessToken { token, access_token: AccessToken::from(stored) })
    }

    /// Revokes one of the caller's personal access tokens, at once on every instance: requests
    /// with it are refused from now on and sockets it opened close with 4403. True when this
    /// revoked it; false when the caller has no token with this id (already revoked, or never
    /// theirs). Only a full session may revoke.
    #[scopes(["todos:read", "todos:write", "profile:read"])]
    #[graphql(guard = "SessionOnly")]
    async fn revoke_access_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token's id, as `accessTokens` lists it.")] id: ID,
    ) -> Result<bool> {
        let user = caller(ctx)?;
        let state = State::of(ctx)?;
        state.pats.revoke(&state.db, &user.id, &id).await
    }
}
