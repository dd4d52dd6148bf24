//! Linking external identities to todoql users. A request with a known identity costs one
//! primary-key read; the first token of an identity provisions its user.
//!
//! An identity never merges with an account by email: that would hand a todoql account to
//! whoever can register its email at the issuer. A new identity's user takes the `email`
//! claim only when no account uses it; otherwise it gets a placeholder under the reserved
//! `.invalid` domain (RFC 6761) that can receive no mail and collide with no real address,
//! and the claimed email is kept in the identity row.

use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait, QuerySelect, SqlErr, TransactionTrait};

use super::entity::{self, Entity as Identities};
use super::issuer::ExternalClaims;
use crate::clock;
use crate::error::{Error, Result};
use crate::users::{entity as users, store as user_store};

/// The longest email and name todoql stores, in characters (as for signUp).
const MAX_EMAIL_CHARS: usize = 254;
const MAX_NAME_CHARS: usize = 100;

/// The id of the todoql user linked to `claims.sub` at `issuer`, provisioning one first
/// when the identity is new.
pub async fn link(db: &DatabaseConnection, issuer: &str, claims: &ExternalClaims) -> Result<String> {
    match find(db, issuer, &claims.sub).await? {
        Some(user_id) => Ok(user_id),
        None => provision(db, issuer, claims).await,
    }
}

/// The user linked to an identity. The foreign key cascades deletes, so a linked user exists.
pub async fn find(db: &DatabaseConnection, issuer: &str, subject: &str) -> Result<Option<String>> {
    Ok(Identities::find_by_id((issuer.to_owned(), subject.to_owned()))
        .select_only()
        .column(entity::Column::UserId)
        .into_tuple::<String>()
        .one(db)
        .await?)
}

/// Creates a user (no password: it can only sign in through the issuer) and its identity.
async fn provision(db: &DatabaseConnection, issuer: &str, claims: &ExternalClaims) -> Result<String> {
    let claimed = claims.email.as_deref().and_then(normalize_email);
    let name = display_name(claims.name.as_deref(), claimed.as_deref());
    for attempt in 0..2 {
        let user_id = clock::new_id();
        let email = match &claimed {
            Some(email) if attempt == 0 && user_store::find_by_email(db, email).await?.is_none() => email.clone(),
            _ => placeholder_email(&user_id),
        };
        match insert(db, issuer, claims, &user_id, email, &name, claimed.clone()).await {
            Ok(()) => {
                tracing::info!(%user_id, %issuer, subject = %claims.sub, "provisioned a user for an external identity");
                return Ok(user_id);
            }
            Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                // A concurrent first request linked this identity, or someone took the email
                // since we looked: use that link, or retry with a placeholder.
                if let Some(user_id) = find(db, issuer, &claims.sub).await? {
                    return Ok(user_id);
                }
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(Error::Internal(format!("cannot provision a user for {}'s subject {}", issuer, claims.sub)))
}

async fn insert(
    db: &DatabaseConnection,
    issuer: &str,
    claims: &ExternalClaims,
    user_id: &str,
    email: String,
    name: &str,
    claimed: Option<String>,
) -> std::result::Result<(), DbErr> {
    let now = clock::now_micros();
    let txn = db.begin().await?;
    let user = users::ActiveModel {
        id: Set(user_id.to_owned()),
        email: Set(email),
        name: Set(name.to_owned()),
        password_hash: Set(None),
        created_at: Set(now),
    };
    users::Entity::insert(user).exec_without_returning(&txn).await?;
    let identity = entity::ActiveModel {
        issuer: Set(issuer.to_owned()),
        subject: Set(claims.sub.clone()),
        user_id: Set(user_id.to_owned()),
        email: Set(claimed),
        created_at: Set(now),
    };
    Identities::insert(identity).exec_without_returning(&txn).await?;
    txn.commit().await
}

/// An email as signUp would store it, or `None` when the claim is not a usable address.
fn normalize_email(email: &str) -> Option<String> {
    let email = email.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let usable = !local.is_empty() && !domain.is_empty() && !domain.contains('@');
    (usable && email.chars().count() <= MAX_EMAIL_CHARS).then_some(email)
}

/// The `name` claim trimmed to what signUp allows; else the email's local part; else "User".
fn display_name(name: Option<&str>, email: Option<&str>) -> String {
    let from_email = || email.and_then(|e| e.split('@').next()).map(str::to_owned);
    let name = name.map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned).or_else(from_email);
    name.map_or_else(|| "User".to_owned(), |n| n.chars().take(MAX_NAME_CHARS).collect::<String>().trim_end().to_owned())
}

/// A unique address that can never be delivered to or collide with a real one.
fn placeholder_email(user_id: &str) -> String {
    format!("{user_id}@external.invalid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claimed_emails_are_normalised_like_sign_up_or_dropped() {
        assert_eq!(normalize_email("  Alice@Example.COM "), Some("alice@example.com".to_owned()));
        assert_eq!(normalize_email("no-at-sign"), None);
        assert_eq!(normalize_email("a@b@c"), None);
        assert_eq!(normalize_email("@example.com"), None);
        assert_eq!(normalize_email(&format!("{}@example.com", "a".repeat(250))), None);
    }

    #[test]
    fn names_fall_back_to_the_email_then_a_default() {
        assert_eq!(display_name(Some("  Ada Lovelace "), Some("ada@example.com")), "Ada Lovelace");
        assert_eq!(display_name(Some("   "), Some("ada@example.com")), "ada");
        assert_eq!(display_name(None, None), "User");
        assert_eq!(display_name(Some(&"é".repeat(300)), None).chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn placeholders_are_reserved_addresses() {
        assert!(placeholder_email("0190-x").ends_with("@external.invalid"));
    }
}
