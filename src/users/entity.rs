//! The `users` table. `password_hash` lives here and nowhere in the schema.

use sea_orm::entity::prelude::*;

/// One account.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// UUIDv7 text.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Trimmed, lower-cased, unique.
    pub email: String,
    /// Display name.
    pub name: String,
    /// argon2id PHC string; `None` for accounts without a password.
    pub password_hash: Option<String>,
    /// Microseconds since the epoch.
    pub created_at: i64,
}

/// No relations are navigated through sea-orm: stores write their joins explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The column `users.todo_count` (its name in snake case): the user's number of todos, kept by
/// triggers on `todos` (migration `m20261212_000008_count_todos`) and read only by
/// `createTodo`'s limit check; not a field of [`Model`], so loading a user never reads it.
#[derive(Copy, Clone, Debug, DeriveIden)]
pub struct TodoCount;
