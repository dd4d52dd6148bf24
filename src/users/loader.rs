//! Batches user lookups of one request into a single query.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use sea_orm::DatabaseConnection;

use super::{User, store};
use crate::error::Error;

/// The per-request user loader, caching what it loaded.
pub type Users = DataLoader<UserLoader, HashMapCache>;

/// Loads users by id, many at a time.
pub struct UserLoader(pub DatabaseConnection);

impl Loader<String> for UserLoader {
    type Value = User;
    type Error = Arc<Error>;

    async fn load(&self, ids: &[String]) -> Result<HashMap<String, User>, Self::Error> {
        let users = store::find_many(&self.0, ids).await.map_err(Arc::new)?;
        Ok(users.into_iter().map(|user| (user.id.clone(), User::from(user))).collect())
    }
}
