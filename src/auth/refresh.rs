//! Refresh tokens: opaque random strings, stored only as SHA-256 hashes, rotated on every
//! use. Presenting a token that was already rotated revokes its whole family, since one of
//! the two holders must be a thief.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sea_orm::ExprTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, Statement, TransactionTrait,
};
use sha2::{Digest, Sha256};

use crate::clock;
use crate::error::{Error, Result};

pub(crate) mod entity {
    //! The `refresh_tokens` table.

    use sea_orm::entity::prelude::*;

    /// One issued refresh token.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "refresh_tokens")]
    pub struct Model {
        /// UUIDv7 text.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The user it signs in.
        pub user_id: String,
        /// Every token descending from one sign-in shares a family.
        pub family_id: String,
        /// Hex SHA-256 of the token.
        pub token_hash: String,
        /// Microseconds since the epoch.
        pub created_at: i64,
        /// Microseconds since the epoch.
        pub expires_at: i64,
        /// When it was exchanged for its successor.
        pub used_at: Option<i64>,
        /// When its family was revoked.
        pub revoked_at: Option<i64>,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{Column, Entity as RefreshTokens};

/// Hex SHA-256 of a token: 256 random bits need no slow hash.
fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Stores a new token for `user_id` in `family_id` and returns the token.
async fn insert(db: &impl ConnectionTrait, user_id: &str, family_id: &str, ttl_secs: u64) -> Result<String> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let now = clock::now_micros();
    let ttl_micros = i64::try_from(ttl_secs).unwrap_or(i64::MAX).saturating_mul(1_000_000);
    let model = entity::ActiveModel {
        id: Set(clock::new_id()),
        user_id: Set(user_id.to_owned()),
        family_id: Set(family_id.to_owned()),
        token_hash: Set(digest(&token)),
        created_at: Set(now),
        expires_at: Set(now.saturating_add(ttl_micros)),
        used_at: Set(None),
        revoked_at: Set(None),
    };
    RefreshTokens::insert(model).exec_without_returning(db).await?;
    Ok(token)
}

/// Starts a new family (a fresh sign-in) and returns its first token.
pub async fn issue(db: &DatabaseConnection, user_id: &str, ttl_secs: u64) -> Result<String> {
    insert(db, user_id, &clock::new_id(), ttl_secs).await
}

/// Exchanges a token for its successor; returns the user id and the new token.
///
/// Unknown, expired and revoked tokens are refused; a token that was already exchanged
/// revokes its family. The check and the exchange are one conditional `UPDATE`, so two
/// concurrent uses of one token (on any number of instances) cannot both succeed.
pub async fn rotate(db: &DatabaseConnection, token: &str, ttl_secs: u64) -> Result<(String, String)> {
    let Some(found) = RefreshTokens::find().filter(Column::TokenHash.eq(digest(token))).one(db).await? else {
        return Err(Error::InvalidRefreshToken);
    };
    let now = clock::now_micros();
    if found.revoked_at.is_some() || found.expires_at <= now {
        return Err(Error::InvalidRefreshToken);
    }
    let txn = db.begin().await?;
    lock_family(&txn, &found.family_id).await?;
    let claimed = RefreshTokens::update_many()
        .col_expr(Column::UsedAt, Expr::value(now))
        .filter(Column::Id.eq(&found.id))
        .filter(Column::UsedAt.is_null())
        .filter(Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected == 0 {
        txn.rollback().await?;
        revoke_family(db, &found.family_id).await?;
        tracing::warn!(user_id = %found.user_id, "refresh token replayed; family revoked");
        return Err(Error::InvalidRefreshToken);
    }
    let next = insert(&txn, &found.user_id, &found.family_id, ttl_secs).await?;
    txn.commit().await?;
    Ok((found.user_id, next))
}

/// Revokes the family of `token`, if the token exists.
pub async fn revoke(db: &DatabaseConnection, token: &str) -> Result<()> {
    if let Some(found) = RefreshTokens::find().filter(Column::TokenHash.eq(digest(token))).one(db).await? {
        revoke_family(db, &found.family_id).await?;
    }
    Ok(())
}

async fn revoke_family(db: &DatabaseConnection, family_id: &str) -> Result<()> {
    let txn = db.begin().await?;
    lock_family(&txn, family_id).await?;
    RefreshTokens::update_many()
        .col_expr(Column::RevokedAt, Expr::value(clock::now_micros()))
        .filter(Column::FamilyId.eq(family_id))
        .filter(Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// Serialises the writes of one family until the transaction ends (PostgreSQL).
///
/// Without it, a `signOut` racing a `refreshSession` could leave the new token alive: the
/// revocation's `UPDATE` waits for the rotation's lock on the old token, then revokes what it
/// saw when it began — not the successor the rotation inserted meanwhile. With it, whichever
/// comes second sees all of the first's work. SQLite has one writer at a time already.
async fn lock_family(txn: &DatabaseTransaction, family_id: &str) -> Result<()> {
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        let lock = Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 7))",
            [family_id.into()],
        );
        txn.execute_raw(lock).await?;
    }
    Ok(())
}

/// Deletes tokens that can no longer be used: expired, or of a revoked family. Used tokens of
/// a live family stay until they expire: presenting one again is how a theft is noticed.
pub async fn sweep(db: &DatabaseConnection) -> Result<u64> {
    let deleted = RefreshTokens::delete_many()
        .filter(Column::ExpiresAt.lt(clock::now_micros()).or(Column::RevokedAt.is_not_null()))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}
