//! Database work on todos, always scoped to one owner.
//!
//! Every query starts from [`TodoStore::scope`], which filters by the owner the store was
//! built for; a store can only be built from an [`AuthenticatedUser`]. There is no function
//! here that reads or writes a todo without naming its owner.

use std::sync::Arc;

use async_graphql::Context;
use sea_orm::sea_query::{
    CaseStatement, DeleteStatement, Expr, ExprTrait, Func, InsertStatement, LockType, Query, UpdateStatement,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult, Iterable,
    Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select, Statement, TransactionTrait,
    Value,
};

use super::commit::{Committer, WriteQueue};
use super::entity::{self, Column, Entity as Todos, fold};
use super::inputs::{OrderDirection, TodoFilter, TodoOrder, TodoOrderField};
use super::page::{PageArgs, Position};
use crate::auth::AuthenticatedUser;
use crate::clock;
use crate::db::{Direct, Inline, Snapshot};
use crate::error::{Error, Result};
use crate::events::{Change, Events, TodoEventKind};
use crate::state::State;
use crate::users::entity as users;

/// The todos of one owner.
#[derive(Clone, Copy)]
pub struct TodoStore<'a> {
    db: &'a DatabaseConnection,
    reader: Option<&'a Inline>,
    /// On PostgreSQL, the shared connections for the short reads ([`Direct`]).
    direct: Option<&'a Arc<Direct>>,
    /// The request's read transaction, when it has one (queries on SQLite).
    snapshot: Option<&'a Snapshot>,
    /// On SQLite, the inline writer, which commits the writes queued here together
    /// ([`super::commit`]).
    writer: Option<&'a Arc<Inline>>,
    queue: &'a Arc<WriteQueue>,
    events: &'a Events,
    owner: &'a str,
    /// The most todos the owner may keep.
    max_todos: u64,
    /// The owner's searches running at once ([`Self::searching`]).
    scans: &'a Arc<crate::auth::in_flight::InFlight>,
}

/// A validated change to a todo; `None` leaves a field as it is.
#[derive(Default)]
pub struct Changes {
    /// New trimmed title.
    pub title: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New completion state.
    pub completed: Option<bool>,
}

/// One page of todos, in the requested order.
pub struct Page {
    /// The todos.
    pub todos: Vec<entity::Model>,
    /// Whether todos come before the first one.
    pub has_previous: bool,
    /// Whether todos come after the last one.
    pub has_next: bool,
}

impl<'a> TodoStore<'a> {
    /// The store of the signed-in `owner`.
    pub fn of(state: &'a State, owner: &'a AuthenticatedUser) -> Self {
        let (reader, writer, queue) = (state.reader.as_deref(), state.writer.as_ref(), &state.writes);
        let max_todos = state.config.max_todos_per_user;
        Self {
            db: &state.db,
            reader,
            direct: state.direct.as_ref(),
            snapshot: None,
            writer,
            queue,
            events: &state.events,
            owner: &owner.id,
            max_todos,
            scans: &state.scans,
        }
    }

    /// The store of the signed-in `owner` for the request of `ctx`: its reads go through the
    /// request's snapshot when it has one ([`Snapshot`]).
    pub fn in_request(ctx: &'a Context<'_>, owner: &'a AuthenticatedUser) -> Result<Self> {
        Ok(Self { snapshot: ctx.data_opt::<Snapshot>(), ..Self::of(State::of(ctx)?, owner) })
    }

    /// The store of the signed-in `owner` whose reads go through `snapshot` when there is one
    /// ([`Snapshot`]): for HTTP handlers outside GraphQL (`rest/`).
    pub fn in_snapshot(state: &'a State, owner: &'a AuthenticatedUser, snapshot: Option<&'a Snapshot>) -> Self {
        Self { snapshot, ..Self::of(state, owner) }
    }

    /// All of this owner's todos: where every query starts.
    pub(super) fn scope(&self) -> Select<Todos> {
        Todos::find().filter(Column::OwnerId.eq(self.owner))
    }

    /// The owner's todo with this id, if any. Another user's todo is `None`, like a missing one.
    pub async fn find(&self, id: &str) -> Result<Option<entity::Model>> {
        if !clock::could_be_id(id) {
            return Ok(None);
        }
        Ok(self.scope().filter(Column::Id.eq(id)).one(self.db).await?)
    }

    /// Adds a todo, unless the owner has [`max_todos`](crate::config::Config::max_todos_per_user)
    /// already (`TODO_LIMIT_REACHED`).
    ///
    /// One statement, `INSERT … SELECT … WHERE (the owner's todo_count) < max`: the count is
    /// kept by triggers on `todos` (migration `m20261212_000008_count_todos`), so the check
    /// reads one row, and commits with the insert. On PostgreSQL the owner's row is locked
    /// (`FOR UPDATE`) until the insert commits, so concurrent inserts of one owner cannot
    /// each see room for one more; SQLite's single writer makes that so already.
    pub async fn create(&self, title: String, description: Option<String>) -> Result<entity::Model> {
        let now = clock::now_micros();
        let todo = entity::Model {
            id: clock::new_id(),
            owner_id: self.owner.to_owned(),
            title_folded: fold(&title),
            description_folded: description.as_deref().map(fold),
            title,
            description,
            completed: false,
            created_at: now,
            updated_at: now,
        };
        let values = Column::iter().map(|column| match column {
            Column::Id => Expr::val(todo.id.as_str()),
            Column::OwnerId => Expr::val(self.owner),
            Column::Title => Expr::val(todo.title.as_str()),
            Column::Description => Expr::val(todo.description.clone()),
            Column::Completed => Expr::val(false),
            Column::CreatedAt | Column::UpdatedAt => Expr::val(now),
            Column::TitleFolded => Expr::val(todo.title_folded.as_str()),
            Column::DescriptionFolded => Expr::val(todo.description_folded.clone()),
        });
        let count = Query::select()
            .column(users::TodoCount)
            .from(users::Entity)
            .and_where(users::Column::Id.eq(self.owner))
            .lock(LockType::Update)
            .to_owned();
        let room = Expr::SubQuery(None, Box::new(count.into())).lt(self.max_todos);
        let select = Query::select().exprs(values).and_where(room).to_owned();
        let mut insert = Query::insert();
        insert
            .into_table(Todos)
            .columns(Column::iter())
            .select_from(select)
            .map_err(|e| Error::Internal(format!("building the insert: {e}")))?;
        // The row is known before it is written: on PostgreSQL its change is announced by the
        // insert itself ([`Events::announcing`]).
        let change = Change::of(TodoEventKind::Created, &todo);
        match self.write(TodoEventKind::Created, Write::Insert(insert), Some(change)).await {
            // An insert writes nothing only when the owner is at the limit.
            Err(Error::NotFound) => Err(Error::TodoLimitReached { limit: self.max_todos }),
            written => written,
        }
    }

    /// Applies changes to a todo in one statement; `NOT_FOUND` when it is not the owner's.
    pub async fn update(&self, id: &str, changes: Changes) -> Result<entity::Model> {
        let mut update = Todos::update_many().col_expr(Column::UpdatedAt, advanced_timestamp());
        if let Some(title) = changes.title {
            update = update
                .col_expr(Column::TitleFolded, Expr::value(fold(&title)))
                .col_expr(Column::Title, Expr::value(title));
        }
        if let Some(description) = changes.description {
            update = update
                .col_expr(Column::DescriptionFolded, Expr::value(description.as_deref().map(fold)))
                .col_expr(Column::Description, Expr::value(description));
        }
        if let Some(completed) = changes.completed {
            update = update.col_expr(Column::Completed, Expr::value(completed));
        }
        self.finish(update, id).await
    }

    /// Flips a todo's `completed` in one statement; `NOT_FOUND` when it is not the owner's.
    pub async fn toggle(&self, id: &str) -> Result<entity::Model> {
        let update = Todos::update_many()
            .col_expr(Column::UpdatedAt, advanced_timestamp())
            .col_expr(Column::Completed, Expr::col(Column::Completed).not());
        self.finish(update, id).await
    }

    async fn finish(&self, update: sea_orm::UpdateMany<Todos>, id: &str) -> Result<entity::Model> {
        if !clock::could_be_id(id) {
            return Err(Error::NotFound);
        }
        let update = update.filter(Column::Id.eq(id)).filter(Column::OwnerId.eq(self.owner));
        self.write(TodoEventKind::Updated, Write::Update(update.into_query()), None).await
    }

    /// Deletes a todo; `NOT_FOUND` when it is not the owner's.
    pub async fn delete(&self, id: &str) -> Result<()> {
        if !clock::could_be_id(id) {
            return Err(Error::NotFound);
        }
        let delete = Todos::delete_many().filter(Column::Id.eq(id)).filter(Column::OwnerId.eq(self.owner));
        self.write(TodoEventKind::Deleted, Write::Delete(delete.into_query()), None).await?;
        Ok(())
    }

    /// Runs one write and publishes its change, after commit and in commit order
    /// ([`Events`]); a write that fails or rolls back publishes nothing.
    ///
    /// On PostgreSQL the change is staged inside the write's transaction. On SQLite the
    /// statement commits on its own while the write-order lock is held, so commits and events
    /// still go in the same order: inline ([`Inline`]) when it can, else on the pool.
    ///
    /// The write runs in its own task: if the request is cancelled (a client hangs up, the
    /// request times out) while the commit is under way, the commit and its event still go
    /// together, so no subscriber misses a change that happened.
    ///
    /// `known` is the change the write will make when that is known before it runs (an
    /// insert): on PostgreSQL the statement then announces it itself, one round trip in all.
    async fn write(&self, kind: TodoEventKind, write: Write, known: Option<Change>) -> Result<entity::Model> {
        let (db, events, queue) = (self.db.clone(), self.events.clone(), self.queue.clone());
        let (writer, direct) = (self.writer.cloned(), self.direct.cloned());
        let task = tokio::spawn(async move {
            let statement = write.returning_row(db.get_database_backend());
            if let Some(writer) = &writer {
                let committer = Committer::Sqlite(writer);
                return super::commit::write(&queue, committer, &events, &db, kind, statement, None).await;
            }
            let _order = events.begin().await;
            let announcing = known.and_then(|change| Some((events.announcing(statement.clone(), &change)?, change)));
            let model = if let Some((announcing, change)) = announcing {
                if let Some(direct) = &direct {
                    let committer = Committer::Postgres(direct);
                    return super::commit::write(&queue, committer, &events, &db, kind, announcing, Some(change)).await;
                }
                announced(&db, announcing, &change).await?
            } else if events.stages_in_transaction() {
                let txn = db.begin().await?;
                let model = returned(&txn, statement).await?;
                events.stage(&txn, &Change::of(kind, &model)).await?;
                txn.commit().await?;
                model
            } else {
                returned(&db, statement).await?
            };
            events.committed(Change::of(kind, &model));
            Ok(model)
        });
        task.await.map_err(|e| Error::Internal(format!("write task failed: {e}")))?
    }

    /// How many of the owner's todos the filter matches, whatever the cursor.
    pub async fn count(&self, filter: &TodoFilter) -> Result<u64> {
        let _searching = self.searching(filter).await?;
        let matched = self.scope().filter(matching(filter, self.backend()));
        let count = Expr::col((Todos, Column::Id)).count();
        let select = matched.clone().select_only().column_as(count, "count");
        if let Some(found) = self.read(&select, |row| row.get::<_, i64>(0)) {
            return Ok(found?.first().map_or(0, |&n| u64::try_from(n).unwrap_or(0)));
        }
        if let Some(found) = self.direct(&select, is_quick(filter), |row| row.try_get::<_, i64>(0)).await {
            return Ok(found?.first().map_or(0, |&n| u64::try_from(n).unwrap_or(0)));
        }
        Ok(matched.count(self.db).await?)
    }

    /// One page of a Relay connection (the algorithm of the Relay cursor connection spec:
    /// apply `after`/`before`, then `first`, then `last`).
    pub async fn page(&self, args: &PageArgs) -> Result<Page> {
        let _searching = self.searching(&args.filter).await?;
        let order = args.order;
        let quick = is_quick(&args.filter);
        let mut window = self.scope().filter(matching(&args.filter, self.backend()));
        if let Some(after) = &args.after {
            window = window.filter(beyond(after, order, true));
        }
        if let Some(before) = &args.before {
            window = window.filter(beyond(before, order, false));
        }
        let (mut todos, mut has_previous, mut has_next) = (Vec::new(), false, false);
        if let Some(first) = args.first {
            todos = self.all(sorted(window, order, false).limit(first + 1), quick).await?;
            has_next = todos.len() as u64 > first;
            todos.truncate(first as usize);
            if let Some(last) = args.last {
                let last = last as usize;
                has_previous = todos.len() > last;
                todos.drain(..todos.len().saturating_sub(last));
            }
        } else if let Some(last) = args.last {
            todos = self.all(sorted(window, order, true).limit(last + 1), quick).await?;
            has_previous = todos.len() as u64 > last;
            todos.truncate(last as usize);
            todos.reverse();
        }
        // Outside the window: does anything stand before `after` or after `before`?
        if args.last.is_none()
            && let Some(after) = &args.after
        {
            has_previous =
                self.any(beyond(after, order, false).add(matching(&args.filter, self.backend())), quick).await?;
        }
        if args.first.is_none()
            && let Some(before) = &args.before
        {
            has_next = self.any(beyond(before, order, true).add(matching(&args.filter, self.backend())), quick).await?;
        }
        Ok(Page { todos, has_previous, has_next })
    }

    /// A search scans every one of the owner's descriptions (no index serves a substring): the
    /// owner's searches run one at a time, however many requests or aliases ask for them, so
    /// one user's scans hold one pooled connection, never the pool. Other reads go on at once.
    pub(super) async fn searching(&self, filter: &TodoFilter) -> Result<Option<crate::auth::in_flight::Slot>> {
        match filter.search.as_deref() {
            Some(search) if !search.is_empty() => Ok(Some(self.scans.enter(self.owner).await?)),
            _ => Ok(None),
        }
    }

    pub(super) fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Runs `select` inline on SQLite (in the request's snapshot when it has one); `None`
    /// when it is to run on the pool.
    fn read<T>(
        &self,
        select: &impl QueryTrait,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Option<Result<Vec<T>>> {
        crate::db::select(self.snapshot, self.reader, select, map)
    }

    /// Runs `select` on PostgreSQL's shared connections ([`Direct`]) when it is `quick` (see
    /// [`is_quick`]); `None` when it is to run on the pool.
    async fn direct<T>(
        &self,
        select: &impl QueryTrait,
        quick: bool,
        map: impl FnMut(&tokio_postgres::Row) -> std::result::Result<T, tokio_postgres::Error>,
    ) -> Option<Result<Vec<T>>> {
        if !quick {
            return None;
        }
        crate::db::select_direct(self.direct, select, map).await
    }

    /// The todos `select` finds: inline on SQLite ([`Inline`]), on PostgreSQL's shared
    /// connections when `quick` ([`Direct`]), else through the pool.
    pub(super) async fn all(&self, select: Select<Todos>, quick: bool) -> Result<Vec<entity::Model>> {
        if let Some(found) = self.read(&select, todo_of_row) {
            return found;
        }
        if let Some(found) = self.direct(&select, quick, todo_of_pg_row).await {
            return found;
        }
        Ok(select.all(self.db).await?)
    }

    async fn any(&self, condition: Condition, quick: bool) -> Result<bool> {
        let select = self.scope().filter(condition).select_only().column(Column::Id).limit(1);
        if let Some(found) = self.read(&select, |_| Ok(())) {
            return Ok(!found?.is_empty());
        }
        if let Some(found) = self.direct(&select, quick, |_| Ok(())).await {
            return Ok(!found?.is_empty());
        }
        Ok(select.into_tuple::<String>().one(self.db).await?.is_some())
    }
}

/// A todo from a row of `SELECT` over every column, which sea-orm lists in the order of
/// [`Column`]'s variants (by position: looking columns up by name cost a few percent of a read).
pub(super) fn todo_of_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<entity::Model> {
    Ok(entity::Model {
        id: row.get(Column::Id as usize)?,
        owner_id: row.get(Column::OwnerId as usize)?,
        title: row.get(Column::Title as usize)?,
        description: row.get(Column::Description as usize)?,
        completed: row.get(Column::Completed as usize)?,
        created_at: row.get(Column::CreatedAt as usize)?,
        updated_at: row.get(Column::UpdatedAt as usize)?,
        title_folded: row.get(Column::TitleFolded as usize)?,
        description_folded: row.get(Column::DescriptionFolded as usize)?,
    })
}

/// [`todo_of_row`] for a PostgreSQL row.
pub(super) fn todo_of_pg_row(row: &tokio_postgres::Row) -> std::result::Result<entity::Model, tokio_postgres::Error> {
    Ok(entity::Model {
        id: row.try_get(Column::Id as usize)?,
        owner_id: row.try_get(Column::OwnerId as usize)?,
        title: row.try_get(Column::Title as usize)?,
        description: row.try_get(Column::Description as usize)?,
        completed: row.try_get(Column::Completed as usize)?,
        created_at: row.try_get(Column::CreatedAt as usize)?,
        updated_at: row.try_get(Column::UpdatedAt as usize)?,
        title_folded: row.try_get(Column::TitleFolded as usize)?,
        description_folded: row.try_get(Column::DescriptionFolded as usize)?,
    })
}

/// Whether a read under `filter` is quick enough for PostgreSQL's shared connections, where
/// it is pipelined with other requests' reads and answered in turn: anything but a search
/// (which scans every description of its owner) walks an index range of the owner's todos.
pub(super) fn is_quick(filter: &TodoFilter) -> bool {
    filter.search.as_deref().is_none_or(str::is_empty)
}

/// A write of one todo.
enum Write {
    Insert(InsertStatement),
    Update(UpdateStatement),
    Delete(DeleteStatement),
}

impl Write {
    /// The statement for `backend`, `RETURNING` the row written, its columns in [`Column`] order.
    fn returning_row(self, backend: DbBackend) -> Statement {
        let columns = || Query::returning().columns(Column::iter());
        match self {
            Self::Insert(mut insert) => backend.build(insert.returning(columns())),
            Self::Update(mut update) => backend.build(update.returning(columns())),
            Self::Delete(mut delete) => backend.build(delete.returning(columns())),
        }
    }
}

/// The todo a write statement returned; `NOT_FOUND` when it wrote none (not the owner's).
pub(super) async fn returned(db: &impl ConnectionTrait, statement: Statement) -> Result<entity::Model> {
    let row = db.query_one_raw(statement).await?.ok_or(Error::NotFound)?;
    Ok(entity::Model::from_query_result(&row, "")?)
}

/// The todo a write that announces `change` itself ([`Events::announcing`]) returned, run
/// alone on the pool; `NOT_FOUND` when it wrote none.
pub(super) async fn announced(db: &DatabaseConnection, statement: Statement, change: &Change) -> Result<entity::Model> {
    match db.query_one_raw(statement).await {
        Ok(Some(row)) => Ok(entity::Model::from_query_result(&row, "")?),
        Ok(None) => Err(Error::NotFound),
        // Its error may quote the payload, as a failed `pg_notify`'s does.
        Err(error) => Err(crate::events::announcing_failed(error, change)),
    }
}

/// `updated_at` set to now, or one microsecond past its old value if the clock has not moved
/// on: every change strictly advances it.
fn advanced_timestamp() -> sea_orm::sea_query::SimpleExpr {
    let now = clock::now_micros();
    CaseStatement::new()
        .case(Expr::col(Column::UpdatedAt).gte(now), Expr::col(Column::UpdatedAt).add(1))
        .finally(Expr::value(now))
        .into()
}

/// The filter as a condition, for `backend`.
///
/// `search` is a plain substring test on the folded columns: SQLite's `instr` or PostgreSQL's
/// `strpos`, which compare bytes (`memcmp`). A `LIKE '%…%'` did the same work a character at a
/// time, with its escapes: a 200-character pattern against a 2,000-character description took
/// it about a millisecond per row in the worst case, so one search of a large account held a
/// thread for seconds.
pub(super) fn matching(filter: &TodoFilter, backend: DbBackend) -> Condition {
    let mut condition = Condition::all();
    if let Some(completed) = filter.completed {
        condition = condition.add(Column::Completed.eq(completed));
    }
    if let Some(search) = &filter.search {
        let needle = fold(search);
        let function = match backend {
            DbBackend::Postgres => "strpos",
            _ => "instr",
        };
        let contains = |column: Column| {
            Expr::expr(Func::cust(function).arg(Expr::col(column)).arg(Expr::val(needle.clone()))).gt(0)
        };
        condition =
            condition.add(Condition::any().add(contains(Column::TitleFolded)).add(contains(Column::DescriptionFolded)));
    }
    condition
}

/// The column an order sorts by.
fn sort_column(field: TodoOrderField) -> Column {
    match field {
        TodoOrderField::CreatedAt => Column::CreatedAt,
        TodoOrderField::UpdatedAt => Column::UpdatedAt,
        TodoOrderField::Title => Column::Title,
    }
}

/// Sorts by the order's field then id, reversed for `last`.
pub(super) fn sorted(select: Select<Todos>, order: TodoOrder, reversed: bool) -> Select<Todos> {
    let ascending = (order.direction == OrderDirection::Asc) != reversed;
    let direction = if ascending { Order::Asc } else { Order::Desc };
    select.order_by(sort_column(order.field), direction.clone()).order_by(Column::Id, direction)
}

/// Todos strictly past `position` in the list's order (`forward`), or strictly before it.
fn beyond(position: &Position, order: TodoOrder, forward: bool) -> Condition {
    let column = sort_column(order.field);
    let (value, id): (Value, &str) = match position {
        Position::Time(micros, id) => ((*micros).into(), id),
        Position::Title(title, id) => (title.clone().into(), id),
    };
    let greater = (order.direction == OrderDirection::Asc) == forward;
    let (past_value, past_id) = if greater {
        (column.gt(value.clone()), Column::Id.gt(id))
    } else {
        (column.lt(value.clone()), Column::Id.lt(id))
    };
    Condition::any().add(past_value).add(Condition::all().add(column.eq(value)).add(past_id))
}
