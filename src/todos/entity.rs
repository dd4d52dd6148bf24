//! The `todos` table.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One todo, always owned by one user.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "todos")]
pub struct Model {
    /// UUIDv7 text.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The owner's user id.
    pub owner_id: String,
    /// Trimmed title.
    pub title: String,
    /// Free text.
    pub description: Option<String>,
    /// Done or not.
    pub completed: bool,
    /// Microseconds since the epoch.
    pub created_at: i64,
    /// Microseconds since the epoch; strictly increases on every change.
    pub updated_at: i64,
    /// Lower-cased title, for `search`.
    pub title_folded: String,
    /// Lower-cased description, for `search`.
    pub description_folded: Option<String>,
}

/// No navigable relations: the store writes its conditions explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Case folding used for `search`, applied identically to stored text and queries so that
/// SQLite and PostgreSQL agree beyond ASCII (`ÄPFEL` finds `äpfel`).
pub fn fold(text: &str) -> String {
    text.to_lowercase()
}
