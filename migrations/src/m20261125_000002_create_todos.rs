//! Creates `todos`, owned by a user and deleted with them, with one index per sort order.

use sea_orm_migration::prelude::*;

use crate::m20261125_000001_create_users::Users;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000002_create_todos"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut id = ColumnDef::new(Todos::Id);
        id.string_len(36).not_null().primary_key();
        crate::binary_collated(manager, &mut id);
        let mut title = ColumnDef::new(Todos::Title);
        title.string_len(800).not_null();
        crate::binary_collated(manager, &mut title);
        manager
            .create_table(
                Table::create()
                    .table(Todos::Table)
                    .col(id)
                    .col(ColumnDef::new(Todos::OwnerId).string_len(36).not_null())
                    .col(title)
                    .col(ColumnDef::new(Todos::Description).text().null())
                    .col(ColumnDef::new(Todos::Completed).boolean().not_null().default(false))
                    .col(ColumnDef::new(Todos::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Todos::UpdatedAt).big_integer().not_null())
                    // Lower-cased copies, written by the application, so that `search` folds
                    // case beyond ASCII identically on SQLite and PostgreSQL.
                    .col(ColumnDef::new(Todos::TitleFolded).text().not_null())
                    .col(ColumnDef::new(Todos::DescriptionFolded).text().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_todos_owner")
                            .from(Todos::Table, Todos::OwnerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_todos_owner_created", Todos::CreatedAt),
            ("idx_todos_owner_updated", Todos::UpdatedAt),
            ("idx_todos_owner_title", Todos::Title),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Todos::Table)
                        .col(Todos::OwnerId)
                        .col(column)
                        .col(Todos::Id)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Todos::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Todos {
    Table,
    Id,
    OwnerId,
    Title,
    Description,
    Completed,
    CreatedAt,
    UpdatedAt,
    TitleFolded,
    DescriptionFolded,
}
