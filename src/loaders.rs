//! The DataLoaders of a request (or of a socket), made when a resolver first needs one: most
//! requests never load a todo's owner or a user's todos, and making both loaders for every
//! request cost a measurable share of a short read.

use std::sync::OnceLock;

use async_graphql::dataloader::{DataLoader, HashMapCache};

use crate::state::State;
use crate::todos::{TodoPageLoader, TodoPages};
use crate::users::{UserLoader, Users};

/// The loaders of one request or socket.
pub struct Loaders {
    cache: bool,
    users: OnceLock<Users>,
    pages: OnceLock<TodoPages>,
}

impl Loaders {
    /// Loaders that batch and keep what they loaded for the request's life.
    pub fn caching() -> Self {
        Self { cache: true, users: OnceLock::new(), pages: OnceLock::new() }
    }

    /// Loaders that batch but keep nothing: a socket's, which live across events and must
    /// not answer a later event with what an earlier one loaded.
    pub fn batching() -> Self {
        Self { cache: false, ..Self::caching() }
    }

    /// Users by id.
    pub fn users(&self, state: &State) -> &Users {
        self.users.get_or_init(|| {
            self.made(DataLoader::with_cache(UserLoader(state.db.clone()), tokio::spawn, HashMapCache::default()))
        })
    }

    /// Pages of todos by (owner, arguments).
    pub fn pages(&self, state: &State) -> &TodoPages {
        self.pages.get_or_init(|| {
            self.made(DataLoader::with_cache(TodoPageLoader(state.clone()), tokio::spawn, HashMapCache::default()))
        })
    }

    fn made<L: Send + Sync + 'static>(&self, loader: DataLoader<L, HashMapCache>) -> DataLoader<L, HashMapCache> {
        if !self.cache {
            loader.enable_all_cache(false);
        }
        loader
    }
}
