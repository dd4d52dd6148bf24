//! The guards of scopes, beside [`SignedIn`](crate::auth::SignedIn) and
//! [`SelfOnly`](crate::auth::SelfOnly).

use async_graphql::{Context, Guard};

use super::directive::Requirement;
use crate::auth::viewer::{SignedInHere, Viewer};
use crate::error::Error;

/// A field's scope requirement, checked against the caller's token: `FORBIDDEN` with
/// `extensions.requiredScopes` when the token holds no alternative whole.
///
/// Written by `#[scopes(…)]`, never by hand, so that the guard and the field's
/// `@requiresScopes` are one declaration.
///
/// A request without a token holds no scope (`UNAUTHENTICATED`), except one in which a user
/// signed in (signUp, signIn, refreshSession): it holds a full session, whose reach
/// [`SelfOnly`](crate::auth::SelfOnly) bounds to that user. So does a token whose own user
/// signed in again within the request.
pub struct Scoped(pub Requirement);

impl Guard for Scoped {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let signed_in_here = |user_id: Option<&str>| {
            ctx.data_opt::<SignedInHere>().is_some_and(|here| match user_id {
                Some(id) => here.contains(id),
                None => !here.is_empty(),
            })
        };
        match Viewer::of(ctx) {
            Viewer::User(user) if self.0.allows(user.access.scopes) => Ok(()),
            Viewer::User(user) if signed_in_here(Some(&user.id)) => Ok(()),
            Viewer::User(_) => Err(Error::InsufficientScope(self.0).into()),
            Viewer::Anonymous if signed_in_here(None) => Ok(()),
            viewer => Err(viewer.user().err().unwrap_or(Error::Forbidden).into()),
        }
    }
}

/// Only a session may do this (a token from signIn, signUp or refreshSession, or the external
/// issuer's), never a personal access token, whatever its scopes: `FORBIDDEN` for those,
/// `UNAUTHENTICATED` for anonymous callers. The scopes a session needs are the field's
/// [`Scoped`] requirement, checked after this.
pub struct SessionOnly;

impl Guard for SessionOnly {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let user = Viewer::of(ctx).user()?;
        if user.access.session { Ok(()) } else { Err(Error::SessionRequired.into()) }
    }
}
