//! Listing todos by offset: the REST surface's list (`GET /api/{user_id}/tasks`), filtered and
//! ordered like a connection page and bounded like one.

use sea_orm::{QueryFilter, QuerySelect};

use super::entity;
use super::inputs::{TodoFilter, TodoOrder};
use super::page::MAX_PAGE;
use super::store::{TodoStore, matching, sorted};
use crate::error::{Error, Result};

/// The most todos a listing may skip. An offset is a walk: the database steps over every
/// skipped row of the owner's index before the first one it returns, so an unbounded offset
/// would let one request walk as far as it likes. 10,000 bounds the walk at 10,100 index
/// entries (about a millisecond on SQLite), well past any list a person pages through; the
/// cursor connection of GraphQL does no such walk at all.
pub const MAX_OFFSET: u64 = 10_000;
/// The largest offset a listing may skip on PostgreSQL's shared connections
/// ([`crate::db::Direct`]); past it, the pool runs it.
pub const QUICK_OFFSET: u64 = 1_000;

/// The number of todos listed when no limit is given: a page as large as a connection allows,
/// since clients of the list (the FastAPI-era frontend) may not page at all.
pub const DEFAULT_LIMIT: u64 = MAX_PAGE as u64;

/// Validated arguments of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// Which todos count.
    pub filter: TodoFilter,
    /// Their order; ties are broken by id.
    pub order: TodoOrder,
    /// At most this many (0..=100).
    pub limit: u64,
    /// After skipping this many (0..=[`MAX_OFFSET`]).
    pub offset: u64,
}

impl Listing {
    /// Checks the raw arguments: `limit` within a connection page's bounds, `offset` within
    /// [`MAX_OFFSET`]; `BAD_USER_INPUT` naming the argument otherwise.
    pub fn new(filter: TodoFilter, order: TodoOrder, limit: Option<i64>, offset: Option<i64>) -> Result<Self> {
        if let Some(search) = &filter.search {
            super::inputs::check_search(search)?;
        }
        let limit = bounded(limit, DEFAULT_LIMIT, MAX_PAGE as u64, "limit")?;
        let offset = bounded(offset, 0, MAX_OFFSET, "offset")?;
        Ok(Self { filter, order, limit, offset })
    }
}

fn bounded(value: Option<i64>, default: u64, max: u64, argument: &'static str) -> Result<u64> {
    match value.map(u64::try_from) {
        None => Ok(default),
        Some(Ok(n)) if n <= max => Ok(n),
        Some(_) => Err(Error::bad_input(argument, format!("`{argument}` must be between 0 and {max}"))),
    }
}

impl TodoStore<'_> {
    /// The owner's todos the listing selects, in its order: one statement, scoped to the owner
    /// like every other.
    pub async fn list(&self, listing: &Listing) -> Result<Vec<entity::Model>> {
        let _searching = self.searching(&listing.filter).await?;
        let matched = self.scope().filter(matching(&listing.filter, self.backend()));
        let offset = (listing.offset > 0).then_some(listing.offset);
        // An offset is walked row by row: past a few pages it stays off the shared connections.
        let quick = super::store::is_quick(&listing.filter) && listing.offset <= QUICK_OFFSET;
        self.all(sorted(matched, listing.order, false).limit(listing.limit).offset(offset), quick).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_offsets_are_bounded_and_named_when_refused() {
        let listing = |limit, offset| Listing::new(TodoFilter::default(), TodoOrder::default(), limit, offset);
        let ok = listing(None, None).expect("defaults");
        assert_eq!((ok.limit, ok.offset), (DEFAULT_LIMIT, 0));
        let edge = listing(Some(100), Some(10_000)).expect("the bounds themselves");
        assert_eq!((edge.limit, edge.offset), (100, 10_000));
        assert_eq!(listing(Some(0), Some(0)).expect("zero").limit, 0);
        for (limit, offset, field) in [
            (Some(101), None, "limit"),
            (Some(-1), None, "limit"),
            (None, Some(10_001), "offset"),
            (None, Some(-1), "offset"),
        ] {
            match listing(limit, offset) {
                Err(Error::BadUserInput { field: named, .. }) => assert_eq!(named, field),
                other => panic!("{limit:?}/{offset:?}: expected BAD_USER_INPUT on {field}, got {other:?}"),
            }
        }
    }
}
