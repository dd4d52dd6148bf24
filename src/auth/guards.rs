//! Field guards: each states one authorization rule, attached with `#[graphql(guard = …)]`.

use async_graphql::{Context, Guard};

use super::viewer::{SignedInHere, Viewer};
use crate::error::Error;

/// Requires a signed-in user: anonymous callers get `UNAUTHENTICATED`.
pub struct SignedIn;

impl Guard for SignedIn {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        Viewer::of(ctx).user()?;
        Ok(())
    }
}

/// Only the user `self.0` may see this field (or a request in which that user just signed
/// in): others get `FORBIDDEN`, anonymous callers `UNAUTHENTICATED`.
pub struct SelfOnly<'a>(pub &'a str);

impl Guard for SelfOnly<'_> {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        // The caller's own data, the common case, is decided without taking a lock.
        let viewer = Viewer::of(ctx);
        if viewer.user().is_ok_and(|user| user.id == self.0)
            || ctx.data_opt::<SignedInHere>().is_some_and(|here| here.contains(self.0))
        {
            return Ok(());
        }
        viewer.user()?;
        Err(Error::Forbidden.into())
    }
}
