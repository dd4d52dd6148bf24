//! Creates `external_identities`: which todoql user an external issuer's subject (a Better
//! Auth user) is linked to. The primary key is the (issuer, subject) pair, so mapping a
//! token to its user is one indexed read.

use sea_orm_migration::prelude::*;

use crate::m20261125_000001_create_users::Users;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000005_create_external_identities"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ExternalIdentities::Table)
                    // The token's `iss`, exactly as configured (e.g. `https://app.example.com`).
                    .col(ColumnDef::new(ExternalIdentities::Issuer).string_len(512).not_null())
                    // The token's `sub`: the user's id at the issuer.
                    .col(ColumnDef::new(ExternalIdentities::Subject).string_len(255).not_null())
                    .col(ColumnDef::new(ExternalIdentities::UserId).string_len(36).not_null())
                    // The `email` claim when the identity was linked, whether or not the
                    // user row could take it (an email already in use is never merged).
                    .col(ColumnDef::new(ExternalIdentities::Email).string_len(254).null())
                    .col(ColumnDef::new(ExternalIdentities::CreatedAt).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .name("pk_external_identities")
                            .col(ExternalIdentities::Issuer)
                            .col(ExternalIdentities::Subject),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_external_identities_user")
                            .from(ExternalIdentities::Table, ExternalIdentities::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Deleting a user cascades here; without the index that is a full scan.
        manager
            .create_index(
                Index::create()
                    .name("idx_external_identities_user")
                    .table(ExternalIdentities::Table)
                    .col(ExternalIdentities::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ExternalIdentities::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum ExternalIdentities {
    Table,
    Issuer,
    Subject,
    UserId,
    Email,
    CreatedAt,
}
