//! Adds `users.todo_count`, each user's number of todos, kept by the database itself: triggers
//! on `todos` count every insert and delete, whatever the statement (a cascade from a deleted
//! user included), so no code path can forget it (issue 17).
//!
//! `createTodo` checks `MAX_TODOS_PER_USER` against it: one row read, where walking the
//! owner's index to its max-th entry cost PostgreSQL 300+ µs of CPU per insert once an owner
//! had a thousand todos. Counted in the same transaction as the change it counts, and
//! backfilled in this migration's (PostgreSQL runs a migration in one transaction).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261212_000008_count_todos"
    }
}

/// PostgreSQL: statement triggers, each owner's count updated once per statement. Row
/// triggers updated the owner's row once per row: each update leaves a row version behind,
/// and the next one walks past them, so one statement inserting 10,000 todos for one owner
/// took quadratic time (seconds).
const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE users ADD COLUMN todo_count BIGINT NOT NULL DEFAULT 0",
    "CREATE FUNCTION todoql_todos_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       UPDATE users SET todo_count = users.todo_count + added.n
       FROM (SELECT owner_id, count(*) AS n FROM inserted_todos GROUP BY owner_id) AS added
       WHERE users.id = added.owner_id;
       RETURN NULL;
     END $$",
    "CREATE TRIGGER todos_count_inserted AFTER INSERT ON todos
     REFERENCING NEW TABLE AS inserted_todos FOR EACH STATEMENT EXECUTE FUNCTION todoql_todos_inserted()",
    "CREATE FUNCTION todoql_todos_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       UPDATE users SET todo_count = users.todo_count - gone.n
       FROM (SELECT owner_id, count(*) AS n FROM deleted_todos GROUP BY owner_id) AS gone
       WHERE users.id = gone.owner_id;
       RETURN NULL;
     END $$",
    "CREATE TRIGGER todos_count_deleted AFTER DELETE ON todos
     REFERENCING OLD TABLE AS deleted_todos FOR EACH STATEMENT EXECUTE FUNCTION todoql_todos_deleted()",
    "UPDATE users SET todo_count = (SELECT count(*) FROM todos WHERE todos.owner_id = users.id)",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER todos_count_deleted ON todos",
    "DROP FUNCTION todoql_todos_deleted()",
    "DROP TRIGGER todos_count_inserted ON todos",
    "DROP FUNCTION todoql_todos_inserted()",
    "ALTER TABLE users DROP COLUMN todo_count",
];

/// SQLite has row triggers only (it updates a row in place: no versions pile up); its one
/// writer makes the count exact.
const SQLITE_UP: &[&str] = &[
    "ALTER TABLE users ADD COLUMN todo_count INTEGER NOT NULL DEFAULT 0",
    "CREATE TRIGGER todos_count_inserted AFTER INSERT ON todos BEGIN
       UPDATE users SET todo_count = todo_count + 1 WHERE id = NEW.owner_id;
     END",
    "CREATE TRIGGER todos_count_deleted AFTER DELETE ON todos BEGIN
       UPDATE users SET todo_count = todo_count - 1 WHERE id = OLD.owner_id;
     END",
    "UPDATE users SET todo_count = (SELECT count(*) FROM todos WHERE todos.owner_id = users.id)",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER todos_count_deleted",
    "DROP TRIGGER todos_count_inserted",
    "ALTER TABLE users DROP COLUMN todo_count",
];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => run(manager, POSTGRES_UP).await,
            _ => run(manager, SQLITE_UP).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => run(manager, POSTGRES_DOWN).await,
            _ => run(manager, SQLITE_DOWN).await,
        }
    }
}
