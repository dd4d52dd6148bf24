//! The `external_identities` table: an (issuer, subject) pair linked to a todoql user.

use sea_orm::entity::prelude::*;

/// One external identity.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "external_identities")]
pub struct Model {
    /// The token's `iss`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub issuer: String,
    /// The token's `sub`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject: String,
    /// The linked todoql user.
    pub user_id: String,
    /// The `email` claim when the identity was linked.
    pub email: Option<String>,
    /// Microseconds since the epoch.
    pub created_at: i64,
}

/// No navigable relations: the store writes its queries explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
