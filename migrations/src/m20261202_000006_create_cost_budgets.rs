//! Creates `cost_budgets`: each user's shared cost level (issue 13), which instances on
//! PostgreSQL add their users' spending to and read the total back from.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000006_create_cost_budgets"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CostBudgets::Table)
                    .col(ColumnDef::new(CostBudgets::UserId).string_len(36).not_null().primary_key())
                    // Cost in the user's bucket as of `updated_at`; it leaks at the restore rate.
                    .col(ColumnDef::new(CostBudgets::Level).double().not_null())
                    // Microseconds since the epoch.
                    .col(ColumnDef::new(CostBudgets::UpdatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CostBudgets::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum CostBudgets {
    Table,
    UserId,
    Level,
    UpdatedAt,
}
