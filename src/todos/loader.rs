//! Batches `User.todos` pages of one request: identical (owner, arguments) keys load once.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use super::page::PageArgs;
use super::schema::TodoConnection;
use super::store::TodoStore;
use crate::auth::AuthenticatedUser;
use crate::error::Error;
use crate::state::State;

/// The per-request page loader, caching what it loaded.
pub type TodoPages = DataLoader<TodoPageLoader, HashMapCache>;

/// Loads connection pages keyed by (owner id, arguments).
pub struct TodoPageLoader(pub State);

impl Loader<(String, PageArgs)> for TodoPageLoader {
    type Value = TodoConnection;
    type Error = Arc<Error>;

    async fn load(
        &self,
        keys: &[(String, PageArgs)],
    ) -> Result<HashMap<(String, PageArgs), TodoConnection>, Self::Error> {
        let mut pages = HashMap::with_capacity(keys.len());
        for (owner_id, args) in keys {
            // Keys only ever come from resolvers that checked the owner is the caller.
            let owner = AuthenticatedUser::trusted(owner_id.clone());
            let page = TodoStore::of(&self.0, &owner).page(args).await.map_err(Arc::new)?;
            pages.insert((owner_id.clone(), args.clone()), TodoConnection::new(owner, args, page));
        }
        Ok(pages)
    }
}
