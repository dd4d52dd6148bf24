//! Todo inputs, filters and orderings, and the rules inputs must meet.

use async_graphql::{Enum, InputObject, MaybeUndefined};

use crate::error::{Error, Result};

/// A new todo.
#[derive(InputObject)]
pub struct CreateTodoInput {
    /// 1 to 200 characters after trimming.
    pub title: String,
    /// At most 2000 characters.
    pub description: Option<String>,
}

/// Changes to a todo: absent fields stay as they are.
#[derive(InputObject)]
pub struct UpdateTodoInput {
    /// 1 to 200 characters after trimming; may not be null.
    #[graphql(default)]
    pub title: MaybeUndefined<String>,
    /// At most 2000 characters; null clears it.
    #[graphql(default)]
    pub description: MaybeUndefined<String>,
    /// May not be null.
    #[graphql(default)]
    pub completed: MaybeUndefined<bool>,
}

/// Which todos to include.
#[derive(InputObject, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TodoFilter {
    /// Only completed (true) or only open (false) todos.
    pub completed: Option<bool>,
    /// Case-insensitive substring of the title or description, taken literally
    /// (`%` and `_` are not wildcards); at most 200 characters.
    pub search: Option<String>,
}

impl TodoFilter {
    /// Whether this filter searches (an empty search matches everything, with no scan).
    pub fn searches(&self) -> bool {
        self.search.as_deref().is_some_and(|search| !search.is_empty())
    }
}

/// How to sort todos. Ties are broken by id, in the same direction.
#[derive(InputObject, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TodoOrder {
    /// The field to sort by.
    pub field: TodoOrderField,
    /// Ascending or descending.
    pub direction: OrderDirection,
}

impl Default for TodoOrder {
    fn default() -> Self {
        Self { field: TodoOrderField::CreatedAt, direction: OrderDirection::Desc }
    }
}

/// A field todos can be sorted by.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TodoOrderField {
    /// When the todo was created.
    CreatedAt,
    /// When the todo last changed.
    UpdatedAt,
    /// The title, by Unicode code point.
    Title,
}

/// A sort direction.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderDirection {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// Trims a title and checks its length.
pub fn normalize_title(title: &str) -> Result<String> {
    Error::refuse_nul("title", title)?;
    let title = title.trim();
    if !(1..=200).contains(&title.chars().count()) {
        return Err(Error::bad_input("title", "title must be 1 to 200 characters after trimming"));
    }
    Ok(title.to_owned())
}

/// Checks a description's length.
pub fn check_description(description: &str) -> Result<()> {
    Error::refuse_nul("description", description)?;
    if description.chars().count() > 2000 {
        return Err(Error::bad_input("description", "description must be at most 2000 characters"));
    }
    Ok(())
}

/// The longest `search` accepted, in characters: a title's length. A substring search costs
/// about its length times the text searched, per todo, so the bound keeps every scan short.
pub const MAX_SEARCH: usize = 200;

/// Checks a search's length.
pub fn check_search(search: &str) -> Result<()> {
    Error::refuse_nul("search", search)?;
    if search.chars().count() > MAX_SEARCH {
        return Err(Error::bad_input("search", format!("search must be at most {MAX_SEARCH} characters")));
    }
    Ok(())
}
