//! Creates `rate_limits`: failure counters shared by every instance on the database.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000004_create_rate_limits"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RateLimits::Table)
                    // `email:<address>` or `client:<ip>`.
                    .col(ColumnDef::new(RateLimits::Key).string_len(300).not_null().primary_key())
                    // Start of the current fixed window, microseconds since the epoch.
                    .col(ColumnDef::new(RateLimits::WindowStart).big_integer().not_null())
                    .col(ColumnDef::new(RateLimits::Failures).integer().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(RateLimits::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum RateLimits {
    Table,
    Key,
    WindowStart,
    Failures,
}
