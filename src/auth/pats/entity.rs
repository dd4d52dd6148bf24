//! The `access_tokens` table.

use sea_orm::entity::prelude::*;

/// One personal access token. The secret is not here: only its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "access_tokens")]
pub struct Model {
    /// UUIDv7 text: what `accessTokens` shows and `revokeAccessToken` takes.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The user it authenticates as.
    pub user_id: String,
    /// The name its user gave it.
    pub name: String,
    /// Its scopes, space-separated.
    pub scopes: String,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// Microseconds since the epoch.
    pub created_at: i64,
    /// Microseconds since the epoch.
    pub expires_at: i64,
    /// Microseconds since the epoch, to the minute; `None` until first used.
    pub last_used_at: Option<i64>,
}

/// No navigable relations: the lookup writes its join to `users` explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
