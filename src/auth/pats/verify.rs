//! Authenticating a request by a personal access token: one indexed lookup by the token's
//! hash, on every request. Nothing about a token is cached, so a revocation (a deleted row)
//! holds on every instance from the moment it commits. It costs what a JWT's user check
//! costs: a JWT request looks its user up once ([`crate::users::store::exists`]); a token
//! request looks up the token instead, and its user with it.

use sea_orm::{ColumnTrait, EntityTrait, JoinType, QueryFilter, QuerySelect};

use super::entity::{Column, Entity as AccessTokens};
use super::store::{self, PREFIX};
use crate::auth::bearer::Credential;
use crate::auth::scopes::{Access, Scopes};
use crate::clock;
use crate::db::Snapshot;
use crate::error::Result;
use crate::state::State;
use crate::users::entity as users;

/// How stale `lastUsedAt` may get before a request writes it again, microseconds.
const TOUCH_EVERY: i64 = 60 * 1_000_000;

/// Whether `token` is a personal access token (by its prefix) rather than a JWT.
pub fn is_personal(token: &str) -> bool {
    token.starts_with(PREFIX)
}

/// A token's row, as the lookup reads it: id, user id, scopes, expiry, last use.
type Found = (String, String, String, i64, Option<i64>);

/// The credential a personal access token proves: its user (who exists: the lookup joins
/// them) with exactly its scopes; `Invalid` for an unknown, revoked or expired token.
pub async fn authenticate(token: &str, state: &State, snapshot: Option<&Snapshot>) -> Credential {
    let found = match lookup(state, snapshot, &store::digest(token)).await {
        Ok(found) => found,
        Err(error) => return Credential::Failed(error),
    };
    let Some((token_id, user_id, scopes, expires_at, last_used_at)) = found else {
        return Credential::Invalid("the personal access token is unknown or was revoked");
    };
    let now = clock::now_micros();
    if expires_at <= now {
        return Credential::Invalid("the token has expired");
    }
    if last_used_at.is_none_or(|last| now - last >= TOUCH_EVERY) && state.pats.should_touch(&token_id, now) {
        // Off the request's path: a read must not wait for a write, nor fail with it.
        let (db, id) = (state.db.clone(), token_id.clone());
        tokio::spawn(async move {
            if let Err(error) = store::touch(&db, &id, now).await {
                tracing::debug!(code = error.code(), "could not note a personal access token's use");
            }
        });
    }
    Credential::Personal {
        user_id,
        token_id,
        expires_at: expires_at / 1_000_000,
        access: Access::personal(Scopes::from_claim(&scopes)),
    }
}

/// Whether token `token_id` still exists and has not expired: what a socket authenticated by
/// it asks when revocations may have been missed.
pub async fn still_valid(state: &State, token_id: &str) -> Result<bool> {
    let query = AccessTokens::find_by_id(token_id).select_only().column(Column::ExpiresAt);
    let expires_at = query.into_tuple::<i64>().one(&state.db).await?;
    Ok(expires_at.is_some_and(|at| at > clock::now_micros()))
}

/// The token whose hash is `hash`, joined to its user; inline on SQLite, in `snapshot` when
/// the request has one; on PostgreSQL's shared connections ([`crate::db::Direct`]: one
/// indexed lookup) when it has them.
async fn lookup(state: &State, snapshot: Option<&Snapshot>, hash: &str) -> Result<Option<Found>> {
    let owner = AccessTokens::belongs_to(users::Entity).from(Column::UserId).to(users::Column::Id).into();
    let query = AccessTokens::find()
        .select_only()
        .columns([Column::Id, Column::UserId, Column::Scopes, Column::ExpiresAt, Column::LastUsedAt])
        .join(JoinType::InnerJoin, owner)
        .filter(Column::TokenHash.eq(hash))
        .limit(1);
    let map = |row: &rusqlite::Row<'_>| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?));
    if let Some(rows) = crate::db::select(snapshot, state.reader.as_deref(), &query, map) {
        return Ok(rows?.into_iter().next());
    }
    let map = |row: &tokio_postgres::Row| {
        Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?, row.try_get(4)?))
    };
    if let Some(rows) = crate::db::select_direct(state.direct.as_ref(), &query, map).await {
        return Ok(rows?.into_iter().next());
    }
    Ok(query.into_tuple::<Found>().one(&state.db).await?)
}
