//! The todo GraphQL types and root fields.

use async_graphql::{Context, ErrorExtensions, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use todoql_macros::scoped;

use super::entity;
use super::inputs::{self, CreateTodoInput, TodoFilter, TodoOrder, TodoOrderField, UpdateTodoInput};
use super::page::{PageArgs, Position};
use super::store::{Changes, Page, TodoStore};
use crate::auth::{AuthenticatedUser, SelfOnly, SignedIn, caller};
use crate::error::{Error, Result};
use crate::loaders::Loaders;
use crate::state::State;
use crate::state::request_data;
use crate::users::User;

/// A todo. Only its owner can ever reach it.
pub struct Todo(entity::Model);

// Fields resolve one after another (`serial`): none of them waits on anything but the owner's
// DataLoader, which batches across the todos of a list all the same, and a list of todos no
// longer sets up a concurrent future set per todo (a few percent of a page's CPU time).
/// A todo. Only its owner can ever reach it.
#[scoped]
#[Object(serial)]
impl Todo {
    /// Opaque id.
    #[scopes(["todos:read"], ["todos:write"])]
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// 1 to 200 characters.
    #[scopes(["todos:read"], ["todos:write"])]
    #[graphql(guard = "SelfOnly(&self.0.owner_id)")]
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// Free text, at most 2000 characters.
    #[scopes(["todos:read"], ["todos:write"])]
    #[graphql(guard = "SelfOnly(&self.0.owner_id)")]
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// Done or not.
    #[scopes(["todos:read"], ["todos:write"])]
    #[graphql(guard = "SelfOnly(&self.0.owner_id)")]
    async fn completed(&self) -> bool {
        self.0.completed
    }

    /// When the todo was created.
    #[scopes(["todos:read"], ["todos:write"])]
    async fn created_at(&self) -> DateTime<Utc> {
        crate::clock::to_datetime(self.0.created_at)
    }

    /// When the todo last changed.
    #[scopes(["todos:read"], ["todos:write"])]
    async fn updated_at(&self) -> DateTime<Utc> {
        crate::clock::to_datetime(self.0.updated_at)
    }

    /// The user who owns it (always the caller).
    #[scopes(["todos:read"], ["todos:write"])]
    #[graphql(guard = "SelfOnly(&self.0.owner_id)")]
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let loader = request_data::<Loaders>(ctx)?.users(State::of(ctx)?);
        let owner = loader.load_one(self.0.owner_id.clone()).await.map_err(|e| e.extend())?;
        Ok(owner.ok_or(Error::Unauthenticated("the user of this token no longer exists"))?)
    }
}

impl From<entity::Model> for Todo {
    fn from(model: entity::Model) -> Self {
        Self(model)
    }
}

/// An edge of a todo connection.
#[scoped]
#[derive(SimpleObject)]
pub struct TodoEdge {
    /// Where this todo stands in the list; pass it as `after` or `before`.
    #[scopes(["todos:read"])]
    cursor: String,
    /// The todo.
    #[scopes(["todos:read"])]
    node: Todo,
}

/// Relay page information.
#[scoped]
#[derive(SimpleObject, Clone)]
pub struct PageInfo {
    /// Whether todos follow this page.
    #[scopes(["todos:read"])]
    has_next_page: bool,
    /// Whether todos precede this page.
    #[scopes(["todos:read"])]
    has_previous_page: bool,
    /// Cursor of the first todo of the page.
    #[scopes(["todos:read"])]
    start_cursor: Option<String>,
    /// Cursor of the last todo of the page.
    #[scopes(["todos:read"])]
    end_cursor: Option<String>,
}

/// A page of todos (Relay cursor connection).
#[derive(Clone)]
pub struct TodoConnection {
    owner: AuthenticatedUser,
    filter: TodoFilter,
    field: TodoOrderField,
    /// Shared by the clones the page loader hands out (a clone per load, and the resolver
    /// lends the todos instead of copying them).
    todos: std::sync::Arc<[Todo]>,
    page_info: PageInfo,
    /// Shared by the clones the page loader hands out, so a count runs once per page.
    total: std::sync::Arc<tokio::sync::OnceCell<i64>>,
}

impl TodoConnection {
    /// The connection for `page`, fetched for `owner` with `args`.
    pub fn new(owner: AuthenticatedUser, args: &PageArgs, page: Page) -> Self {
        let field = args.order.field;
        let cursor = |todo: &entity::Model| Position::of(todo, field).cursor(field);
        let page_info = PageInfo {
            has_next_page: page.has_next,
            has_previous_page: page.has_previous,
            start_cursor: page.todos.first().map(cursor),
            end_cursor: page.todos.last().map(cursor),
        };
        let todos = page.todos.into_iter().map(Todo).collect();
        Self { owner, filter: args.filter.clone(), field, todos, page_info, total: Default::default() }
    }
}

/// A page of todos (Relay cursor connection).
#[scoped]
#[Object]
impl TodoConnection {
    /// The todos with their cursors.
    #[scopes(["todos:read"])]
    async fn edges(&self) -> Vec<TodoEdge> {
        self.todos
            .iter()
            .map(|todo| TodoEdge {
                cursor: Position::of(&todo.0, self.field).cursor(self.field),
                node: Todo(todo.0.clone()),
            })
            .collect()
    }

    /// The todos.
    #[scopes(["todos:read"])]
    async fn nodes(&self) -> &[Todo] {
        &self.todos
    }

    /// Where this page stands.
    #[scopes(["todos:read"])]
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }

    /// How many todos the filter matches, on every page.
    #[scopes(["todos:read"])]
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let total = self
            .total
            .get_or_try_init(|| async {
                let count = TodoStore::in_request(ctx, &self.owner)?.count(&self.filter).await?;
                Ok::<_, Error>(i64::try_from(count).unwrap_or(i64::MAX))
            })
            .await?;
        Ok(*total)
    }
}

/// Todo queries.
#[derive(Default)]
pub struct TodoQuery;

/// Todo queries.
#[scoped]
#[Object]
impl TodoQuery {
    /// The caller's todo with this id; null when it is missing or not the caller's.
    #[scopes(["todos:read"])]
    #[graphql(guard = "SignedIn")]
    async fn todo(&self, ctx: &Context<'_>, #[graphql(desc = "The todo's id.")] id: ID) -> Result<Option<Todo>> {
        let store = TodoStore::in_request(ctx, caller(ctx)?)?;
        Ok(store.find(&id).await?.map(Todo))
    }

    /// The caller's todos, newest first unless `orderBy` says otherwise.
    #[scopes(["todos:read"])]
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        guard = "SignedIn",
        complexity = "super::connection_complexity(first, last, filter.as_ref(), child_complexity)"
    )]
    async fn todos(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Take the first n todos (0..=100; 20 when neither first nor last is given).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
        #[graphql(desc = "Take the last n todos (0..=100).")] last: Option<i32>,
        #[graphql(desc = "End before this cursor.")] before: Option<String>,
        #[graphql(desc = "Which todos to include.")] filter: Option<TodoFilter>,
        #[graphql(desc = "Sort order; CREATED_AT DESC by default, ties broken by id.")] order_by: Option<TodoOrder>,
    ) -> Result<TodoConnection> {
        let owner = caller(ctx)?;
        let args = PageArgs::new(first, after, last, before, filter, order_by)?;
        let page = TodoStore::in_request(ctx, owner)?.page(&args).await?;
        Ok(TodoConnection::new(owner.clone(), &args, page))
    }
}

/// Todo mutations.
#[derive(Default)]
pub struct TodoMutation;

/// Todo mutations.
#[scoped]
#[Object]
impl TodoMutation {
    /// Adds a todo for the caller.
    #[scopes(["todos:write"])]
    #[graphql(guard = "SignedIn")]
    async fn create_todo(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new todo.")] input: CreateTodoInput,
    ) -> Result<Todo> {
        let title = inputs::normalize_title(&input.title)?;
        if let Some(description) = &input.description {
            inputs::check_description(description)?;
        }
        let store = TodoStore::in_request(ctx, caller(ctx)?)?;
        Ok(Todo(store.create(title, input.description).await?))
    }

    /// Changes the fields given; absent fields stay as they are. `NOT_FOUND` unless the todo
    /// is the caller's.
    #[scopes(["todos:write"])]
    #[graphql(guard = "SignedIn")]
    async fn update_todo(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The todo's id.")] id: ID,
        #[graphql(desc = "The fields to change.")] input: UpdateTodoInput,
    ) -> Result<Todo> {
        let changes = changes(input)?;
        let store = TodoStore::in_request(ctx, caller(ctx)?)?;
        Ok(Todo(store.update(&id, changes).await?))
    }

    /// Flips `completed`. `NOT_FOUND` unless the todo is the caller's.
    #[scopes(["todos:write"])]
    #[graphql(guard = "SignedIn")]
    async fn toggle_todo(&self, ctx: &Context<'_>, #[graphql(desc = "The todo's id.")] id: ID) -> Result<Todo> {
        let store = TodoStore::in_request(ctx, caller(ctx)?)?;
        Ok(Todo(store.toggle(&id).await?))
    }

    /// Deletes a todo and returns its id. `NOT_FOUND` unless the todo is the caller's.
    #[scopes(["todos:write"])]
    #[graphql(guard = "SignedIn")]
    async fn delete_todo(&self, ctx: &Context<'_>, #[graphql(desc = "The todo's id.")] id: ID) -> Result<ID> {
        let store = TodoStore::in_request(ctx, caller(ctx)?)?;
        store.delete(&id).await?;
        Ok(id)
    }
}

/// Validates an update's fields.
fn changes(input: UpdateTodoInput) -> Result<Changes> {
    use async_graphql::MaybeUndefined::{Null, Undefined, Value};
    let title = match input.title {
        Undefined => None,
        Null => return Err(Error::bad_input("title", "title may not be null")),
        Value(title) => Some(inputs::normalize_title(&title)?),
    };
    let description = match input.description {
        Undefined => None,
        Null => Some(None),
        Value(description) => {
            inputs::check_description(&description)?;
            Some(Some(description))
        }
    };
    let completed = match input.completed {
        Undefined => None,
        Null => return Err(Error::bad_input("completed", "completed may not be null")),
        Value(completed) => Some(completed),
    };
    Ok(Changes { title, description, completed })
}
