//! Database migrations for todoql, applied by `todoql migrate` and at the start of `todoql serve`.
//!
//! Timestamps are stored as integer microseconds since the Unix epoch so that SQLite and
//! PostgreSQL order and compare them identically; ids are UUIDv7 strings.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_users;
mod m20261125_000002_create_todos;
mod m20261125_000003_create_refresh_tokens;
mod m20261125_000004_create_rate_limits;
mod m20261125_000005_create_external_identities;
mod m20261202_000006_create_cost_budgets;
mod m20261210_000007_create_access_tokens;
mod m20261212_000008_count_todos;

/// Every migration todoql knows, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_users::Migration),
            Box::new(m20261125_000002_create_todos::Migration),
            Box::new(m20261125_000003_create_refresh_tokens::Migration),
            Box::new(m20261125_000004_create_rate_limits::Migration),
            Box::new(m20261125_000005_create_external_identities::Migration),
            Box::new(m20261202_000006_create_cost_budgets::Migration),
            Box::new(m20261210_000007_create_access_tokens::Migration),
            Box::new(m20261212_000008_count_todos::Migration),
        ]
    }
}

/// A text column whose ordering is byte order on every backend.
///
/// PostgreSQL's default collation depends on the cluster's locale; `"C"` makes `ORDER BY title`
/// and keyset comparisons behave exactly as SQLite's built-in `BINARY` collation does.
fn binary_collated(manager: &SchemaManager, column: &mut ColumnDef) {
    if manager.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Postgres {
        column.extra("COLLATE \"C\"");
    }
}
