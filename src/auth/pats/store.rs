//! Creating, listing and revoking personal access tokens, as plain functions of a connection.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use sha2::{Digest, Sha256};

use super::entity::{self, Column, Entity as AccessTokens};
use crate::auth::scopes::Scopes;
use crate::clock;
use crate::error::{Error, Result};

/// What every personal access token starts with, so that secret scanners can find leaked ones.
pub const PREFIX: &str = "todoql_pat_";
/// The longest a personal access token may live, in days (`expiresInDays` is 1 to this).
pub const MAX_EXPIRY_DAYS: i32 = 365;
/// The most personal access tokens one user may hold at once (expired ones count until revoked).
pub const MAX_TOKENS_PER_USER: u64 = 100;
/// The longest name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

/// Hex SHA-256 of a token. The secret is 256 random bits: a fast hash is enough (nothing to
/// brute-force), and looking the hash up by equality leaks nothing an attacker can use, since
/// they cannot choose a token whose hash starts like a stored one.
pub(super) fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A new token: the prefix and 256 random bits, base64url.
fn secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What a new token is to be.
pub(super) struct NewToken {
    /// Its name, trimmed.
    pub name: String,
    /// Its scopes (at least one).
    pub scopes: Scopes,
    /// Its lifetime, 1 to [`MAX_EXPIRY_DAYS`] days.
    pub expires_in_days: i32,
}

impl NewToken {
    /// Checks the inputs of `createAccessToken`.
    pub(super) fn new(name: &str, scopes: Scopes, expires_in_days: i32) -> Result<Self> {
        Error::refuse_nul("name", name)?;
        let name = name.trim();
        let length = name.chars().count();
        if length == 0 || length > MAX_NAME_CHARS {
            return Err(Error::bad_input("name", format!("name must be 1 to {MAX_NAME_CHARS} characters")));
        }
        if scopes == Scopes::NONE {
            return Err(Error::bad_input("scopes", "give the token at least one scope"));
        }
        if !(1..=MAX_EXPIRY_DAYS).contains(&expires_in_days) {
            let message = format!("expiresInDays must be 1 to {MAX_EXPIRY_DAYS}: every token expires");
            return Err(Error::bad_input("expiresInDays", message));
        }
        Ok(Self { name: name.to_owned(), scopes, expires_in_days })
    }
}

/// Stores a new token for `user_id`; returns its row and the token, which is never stored.
pub(super) async fn create(db: &DatabaseConnection, user_id: &str, new: NewToken) -> Result<(entity::Model, String)> {
    // Counted before the insert: concurrent creations may pass the limit by a few, which
    // bounds the table all the same.
    let held = AccessTokens::find().filter(Column::UserId.eq(user_id)).count(db).await?;
    if held >= MAX_TOKENS_PER_USER {
        return Err(Error::AccessTokenLimitReached { limit: MAX_TOKENS_PER_USER });
    }
    let token = secret();
    let now = clock::now_micros();
    let model = entity::ActiveModel {
        id: Set(clock::new_id()),
        user_id: Set(user_id.to_owned()),
        name: Set(new.name),
        scopes: Set(new.scopes.to_claim()),
        token_hash: Set(digest(&token)),
        created_at: Set(now),
        expires_at: Set(now.saturating_add(i64::from(new.expires_in_days) * MICROS_PER_DAY)),
        last_used_at: Set(None),
    };
    let stored = AccessTokens::insert(model).exec_with_returning(db).await?;
    Ok((stored, token))
}

/// `user_id`'s tokens, newest first.
pub(super) async fn list(db: &DatabaseConnection, user_id: &str) -> Result<Vec<entity::Model>> {
    let query = AccessTokens::find().filter(Column::UserId.eq(user_id));
    Ok(query.order_by_desc(Column::CreatedAt).order_by_desc(Column::Id).all(db).await?)
}

/// Deletes `user_id`'s token `id`; whether there was one. The row goes: every later request
/// with the token finds nothing, on every instance.
pub(super) async fn revoke(db: &impl ConnectionTrait, user_id: &str, id: &str) -> Result<bool> {
    if !clock::could_be_id(id) {
        return Ok(false);
    }
    let deleted =
        AccessTokens::delete_many().filter(Column::Id.eq(id)).filter(Column::UserId.eq(user_id)).exec(db).await?;
    Ok(deleted.rows_affected > 0)
}

/// Notes that token `id` was used at `now` (microseconds), rounded down to the minute.
pub(super) async fn touch(db: &DatabaseConnection, id: &str, now: i64) -> Result<()> {
    let minute = now - now.rem_euclid(60 * 1_000_000);
    AccessTokens::update_many()
        .col_expr(Column::LastUsedAt, sea_orm::sea_query::Expr::value(minute))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
