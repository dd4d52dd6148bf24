//! Database work on users, as plain functions of a connection.

use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, SqlErr};

use super::entity::{self, Entity as Users};
use crate::clock;
use crate::db::Snapshot;
use crate::error::{Error, Result};
use crate::state::State;

/// A validated new account.
pub struct NewUser {
    /// Normalised email.
    pub email: String,
    /// Trimmed name.
    pub name: String,
    /// argon2id hash of the password.
    pub password_hash: String,
}

/// Inserts an account; `EMAIL_TAKEN` when the email exists.
pub async fn create(db: &DatabaseConnection, user: NewUser) -> Result<entity::Model> {
    let model = entity::ActiveModel {
        id: Set(clock::new_id()),
        email: Set(user.email),
        name: Set(user.name),
        password_hash: Set(Some(user.password_hash)),
        created_at: Set(clock::now_micros()),
    };
    Users::insert(model).exec_with_returning(db).await.map_err(|error| match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => Error::EmailTaken,
        _ => Error::Database(error),
    })
}

/// The account with this (normalised) email.
pub async fn find_by_email(db: &DatabaseConnection, email: &str) -> Result<Option<entity::Model>> {
    Ok(Users::find().filter(entity::Column::Email.eq(email)).one(db).await?)
}

/// The account with this id.
pub async fn find(db: &DatabaseConnection, id: &str) -> Result<Option<entity::Model>> {
    Ok(Users::find_by_id(id).one(db).await?)
}

/// Whether the account with this id exists: the check every authenticated request makes,
/// inline on SQLite ([`crate::db::Inline`]), in the request's snapshot when it has one; on
/// PostgreSQL (on its shared connections, [`crate::db::Direct`], else the pool) at most once
/// per [`super::known::TTL`] per account ([`super::Known`]).
pub async fn exists(state: &State, snapshot: Option<&Snapshot>, id: &str) -> Result<bool> {
    let select = || Users::find_by_id(id).select_only().column(entity::Column::Id);
    if state.reader.is_some()
        && let Some(found) = crate::db::select(snapshot, state.reader.as_deref(), &select(), |_| Ok(()))
    {
        return Ok(!found?.is_empty());
    }
    // Asked before a statement is built: on PostgreSQL most checks end here.
    if state.known_users.recently(id) {
        return Ok(true);
    }
    let select = select();
    let found = match crate::db::select_direct(state.direct.as_ref(), &select, |_| Ok(())).await {
        Some(found) => !found?.is_empty(),
        None => select.into_tuple::<String>().one(&state.db).await?.is_some(),
    };
    if found {
        state.known_users.note(id);
    }
    Ok(found)
}

/// The accounts with these ids, in no particular order.
pub async fn find_many(db: &DatabaseConnection, ids: &[String]) -> Result<Vec<entity::Model>> {
    Ok(Users::find().filter(entity::Column::Id.is_in(ids.iter().cloned())).all(db).await?)
}
