//! Relay connection arguments and opaque keyset cursors.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::entity;
use super::inputs::{TodoFilter, TodoOrder, TodoOrderField};
use crate::error::{Error, Result};

/// The most todos one page may hold.
pub const MAX_PAGE: i32 = 100;
/// The page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE: i32 = 20;

/// The value a todo sorts by, with its id as the tie-breaker: a position in the list that
/// stays valid when todos are inserted around it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Position {
    /// Position by a timestamp (microseconds).
    Time(i64, String),
    /// Position by title.
    Title(String, String),
}

impl Position {
    /// Where `todo` stands when sorting by `field`.
    pub fn of(todo: &entity::Model, field: TodoOrderField) -> Self {
        match field {
            TodoOrderField::CreatedAt => Self::Time(todo.created_at, todo.id.clone()),
            TodoOrderField::UpdatedAt => Self::Time(todo.updated_at, todo.id.clone()),
            TodoOrderField::Title => Self::Title(todo.title.clone(), todo.id.clone()),
        }
    }

    /// The opaque cursor for this position under `field`.
    pub fn cursor(&self, field: TodoOrderField) -> String {
        let tagged = (field_tag(field), self);
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&tagged).unwrap_or_default())
    }

    /// Decodes a cursor made under `field`; `argument` names it in the error.
    fn decode(cursor: &str, field: TodoOrderField, argument: &'static str) -> Result<Self> {
        let invalid = || Error::bad_input(argument, format!("`{argument}` is not a cursor of this list"));
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        let (tag, position): (String, Position) = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        let fits = matches!(
            (&position, field),
            (Position::Time(..), TodoOrderField::CreatedAt | TodoOrderField::UpdatedAt)
                | (Position::Title(..), TodoOrderField::Title)
        );
        if tag != field_tag(field) || !fits {
            return Err(invalid());
        }
        Ok(position)
    }
}

fn field_tag(field: TodoOrderField) -> &'static str {
    match field {
        TodoOrderField::CreatedAt => "c",
        TodoOrderField::UpdatedAt => "u",
        TodoOrderField::Title => "t",
    }
}

/// Validated connection arguments: a key for the page loader.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PageArgs {
    /// Take at most this many from the start of the window.
    pub first: Option<u64>,
    /// Then at most this many from its end.
    pub last: Option<u64>,
    /// The window starts after this position.
    pub after: Option<Position>,
    /// The window ends before this position.
    pub before: Option<Position>,
    /// Which todos count.
    pub filter: TodoFilter,
    /// Their order.
    pub order: TodoOrder,
}

impl PageArgs {
    /// Checks the raw arguments of a connection field.
    pub fn new(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<TodoFilter>,
        order: Option<TodoOrder>,
    ) -> Result<Self> {
        let order = order.unwrap_or_default();
        let filter = filter.unwrap_or_default();
        if let Some(search) = &filter.search {
            super::inputs::check_search(search)?;
        }
        let first = match (first, last) {
            (None, None) => Some(DEFAULT_PAGE),
            _ => first,
        };
        Ok(Self {
            first: first.map(|n| bounded(n, "first")).transpose()?,
            last: last.map(|n| bounded(n, "last")).transpose()?,
            after: after.map(|c| Position::decode(&c, order.field, "after")).transpose()?,
            before: before.map(|c| Position::decode(&c, order.field, "before")).transpose()?,
            filter,
            order,
        })
    }
}

fn bounded(n: i32, argument: &'static str) -> Result<u64> {
    if (0..=MAX_PAGE).contains(&n) {
        Ok(n as u64)
    } else {
        Err(Error::bad_input(argument, format!("`{argument}` must be between 0 and {MAX_PAGE}")))
    }
}

/// What a search adds to the cost of the connection that asks for it. A page reads a few
/// dozen rows through an index, whatever the account's size; a search reads every one of the
/// owner's todos (up to `MAX_TODOS_PER_USER`, 10,000 by default), once for the page and once
/// more for `totalCount`. At 500 the default budget (`COST_BUDGET` 50,000, restored at 5,000/s)
/// pays for ten searches a second, more than search-as-you-type sends, and one operation
/// (`MAX_COMPLEXITY` 5,000) holds at most nine: twenty aliased searches in one request, each
/// costing 2 before, are refused as too complex.
pub const SEARCH_COST: usize = 500;

/// The complexity of a connection field: its children count once per possible item, and a
/// search adds [`SEARCH_COST`].
pub fn connection_complexity(
    first: Option<i32>,
    last: Option<i32>,
    filter: Option<&TodoFilter>,
    child_complexity: usize,
) -> usize {
    let items = match (first, last) {
        (None, None) => DEFAULT_PAGE,
        (first, last) => first.unwrap_or(0).max(last.unwrap_or(0)),
    };
    let items = usize::try_from(items.clamp(1, MAX_PAGE)).unwrap_or(1);
    let search = if filter.is_some_and(TodoFilter::searches) { SEARCH_COST } else { 0 };
    items.saturating_mul(child_complexity).saturating_add(1).saturating_add(search)
}
