//! The query string of `GET /api/{user_id}/tasks`, read parameter by parameter so that each
//! refusal names its parameter, as FastAPI does. The bounds are the store's ([`Listing`]).

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::problem::{Issue, Problem, Source};
use crate::todos::listing::Listing;
use crate::todos::{OrderDirection, TodoFilter, TodoOrder, TodoOrderField};

/// Which tasks to list, in which order, which part of them.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Which tasks: `all` (the default), `pending` or `completed`.
    #[param(inline)]
    pub status: Option<Status>,
    /// Only tasks whose title or description contains this text, ignoring case (taken
    /// literally: `%` and `_` are not wildcards).
    pub search: Option<String>,
    /// The order: `created` (newest first, the default), `updated` (most recently changed
    /// first) or `title` (by Unicode code point). Ties are broken by id.
    #[param(inline)]
    pub sort: Option<Sort>,
    /// At most this many tasks, 0 to 100; 100 when absent.
    #[param(minimum = 0, maximum = 100)]
    pub limit: Option<i64>,
    /// Skip this many tasks first, 0 to 10000 (a larger offset is refused: each skipped
    /// task is a step the database takes).
    #[param(minimum = 0, maximum = 10000)]
    pub offset: Option<i64>,
}

/// Which tasks to list by completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every task.
    All,
    /// Tasks not completed yet.
    Pending,
    /// Completed tasks.
    Completed,
}

/// The order of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Newest first.
    Created,
    /// Most recently changed first.
    Updated,
    /// By title, A to Z.
    Title,
}

impl ListQuery {
    /// Reads a raw query string; unknown parameters are ignored and, as with FastAPI, the
    /// last of a repeated one wins.
    pub fn parse(raw: Option<&str>) -> Result<Self, Problem> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|_| {
            Problem::invalid(vec![Issue::whole(Source::Query, "query_invalid", "the query string does not decode")])
        })?;
        let mut query = Self::default();
        let mut issues = Vec::new();
        for (name, value) in pairs {
            match name.as_str() {
                "status" => query.status = choice(&name, &value, &mut issues),
                "search" => query.search = Some(value),
                "sort" => query.sort = choice(&name, &value, &mut issues),
                "limit" => query.limit = integer(&name, &value, &mut issues),
                "offset" => query.offset = integer(&name, &value, &mut issues),
                _ => {}
            }
        }
        if issues.is_empty() { Ok(query) } else { Err(Problem::invalid(issues)) }
    }

    /// The listing these parameters ask for; bounds are checked by [`Listing::new`].
    pub fn listing(self) -> Result<Listing, Problem> {
        let completed = match self.status {
            None | Some(Status::All) => None,
            Some(Status::Pending) => Some(false),
            Some(Status::Completed) => Some(true),
        };
        let order = match self.sort {
            None | Some(Sort::Created) => TodoOrder::default(),
            Some(Sort::Updated) => TodoOrder { field: TodoOrderField::UpdatedAt, direction: OrderDirection::Desc },
            Some(Sort::Title) => TodoOrder { field: TodoOrderField::Title, direction: OrderDirection::Asc },
        };
        let filter = TodoFilter { completed, search: self.search };
        Listing::new(filter, order, self.limit, self.offset).map_err(|error| Problem::from_input(error, Source::Query))
    }
}

/// One of an enumeration's lower-case names.
fn choice<T: for<'de> Deserialize<'de>>(name: &str, value: &str, issues: &mut Vec<Issue>) -> Option<T> {
    let parsed = T::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(value));
    parsed
        .map_err(|_| {
            let names = match name {
                "status" => "'all', 'pending' or 'completed'",
                _ => "'created', 'updated' or 'title'",
            };
            issues.push(Issue::field(Source::Query, name, "enum", format!("Input should be {names}")));
        })
        .ok()
}

/// A whole number (its bounds are the listing's to check).
fn integer(name: &str, value: &str, issues: &mut Vec<Issue>) -> Option<i64> {
    value
        .trim()
        .parse()
        .map_err(|_| {
            let msg = "Input should be a valid integer, unable to parse string as an integer";
            issues.push(Issue::field(Source::Query, name, "int_parsing", msg));
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_read_by_name_and_the_last_repeat_wins() {
        let query = ListQuery::parse(Some("status=pending&sort=title&search=a%25b&limit=5&limit=7&offset=2&x=1"))
            .expect("a valid query");
        assert_eq!((query.status, query.sort), (Some(Status::Pending), Some(Sort::Title)));
        assert_eq!((query.search.as_deref(), query.limit, query.offset), (Some("a%b"), Some(7), Some(2)));
        let listing = query.listing().expect("within bounds");
        assert_eq!(listing.filter.completed, Some(false));
        assert_eq!(listing.order, TodoOrder { field: TodoOrderField::Title, direction: OrderDirection::Asc });
    }

    #[test]
    fn every_bad_parameter_is_named_at_once() {
        let Err(problem) = ListQuery::parse(Some("status=done&sort=id&limit=ten&offset=1.5")) else {
            panic!("a bad query was accepted");
        };
        let body = format!("{problem:?}");
        for name in ["status", "sort", "limit", "offset"] {
            assert!(body.contains(&format!("Name(\"{name}\")")), "{name} is not named in {body}");
        }
    }
}
