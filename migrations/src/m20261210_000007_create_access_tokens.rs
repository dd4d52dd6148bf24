//! Creates `access_tokens`: personal access tokens (issue 15), each a user's named, scoped,
//! expiring credential, stored only as the SHA-256 of its secret.

use sea_orm_migration::prelude::*;

use crate::m20261125_000001_create_users::Users;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261210_000007_create_access_tokens"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AccessTokens::Table)
                    .col(ColumnDef::new(AccessTokens::Id).string_len(36).not_null().primary_key())
                    .col(ColumnDef::new(AccessTokens::UserId).string_len(36).not_null())
                    .col(ColumnDef::new(AccessTokens::Name).string_len(400).not_null())
                    // The scopes' names, space-separated, as an OAuth `scope` value.
                    .col(ColumnDef::new(AccessTokens::Scopes).string_len(200).not_null())
                    // SHA-256 of the token, hex: the token itself is never stored. Unique, so
                    // authenticating a request is one indexed lookup.
                    .col(ColumnDef::new(AccessTokens::TokenHash).string_len(64).not_null().unique_key())
                    // Microseconds since the epoch.
                    .col(ColumnDef::new(AccessTokens::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(AccessTokens::ExpiresAt).big_integer().not_null())
                    // Written at most once a minute per token, off the request's path.
                    .col(ColumnDef::new(AccessTokens::LastUsedAt).big_integer().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_access_tokens_user")
                            .from(AccessTokens::Table, AccessTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_access_tokens_user")
                    .table(AccessTokens::Table)
                    .col(AccessTokens::UserId)
                    .col(AccessTokens::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AccessTokens::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum AccessTokens {
    Table,
    Id,
    UserId,
    Name,
    Scopes,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
}
