//! The caller of a request, decoded once by the HTTP layer and put into the request data.

use async_graphql::Context;

use super::scopes::Access;
use crate::error::{Error, Result};

/// A signed-in user, as proven by a verified access token whose user exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthenticatedUser {
    /// The user's id (the token's `sub`).
    pub id: String,
    /// What the token lets them do: its scopes, and whether it is a session.
    pub access: Access,
}

impl AuthenticatedUser {
    /// The user `id` with a full session's access: for work done on the user's behalf by the
    /// server itself (loaders, writes), where the caller's scopes were checked already.
    pub fn trusted(id: String) -> Self {
        Self { id, access: Access::FULL }
    }
}

/// Who is calling: the one value resolvers consult about identity.
#[derive(Clone, Debug)]
pub enum Viewer {
    /// No `Authorization` header (or an operation of public fields only).
    Anonymous,
    /// A valid token whose user no longer exists.
    Deleted,
    /// A signed-in user.
    User(AuthenticatedUser),
}

impl Viewer {
    /// The signed-in user, or `UNAUTHENTICATED`.
    pub fn user(&self) -> Result<&AuthenticatedUser> {
        match self {
            Self::User(user) => Ok(user),
            Self::Anonymous => Err(Error::Unauthenticated("sign in to do this")),
            Self::Deleted => Err(Error::Unauthenticated("the user of this token no longer exists")),
        }
    }

    /// The viewer of the request `ctx` belongs to (anonymous when none was attached).
    pub fn of<'a>(ctx: &'a Context<'_>) -> &'a Viewer {
        ctx.data_opt::<Viewer>().unwrap_or(&Viewer::Anonymous)
    }
}

/// The signed-in caller of `ctx`'s request, or `UNAUTHENTICATED`.
pub fn caller<'a>(ctx: &'a Context<'_>) -> Result<&'a AuthenticatedUser> {
    Viewer::of(ctx).user()
}

/// Users who signed in during this request (signUp, signIn, refreshSession): the request
/// may show them their own data even though it carried no token for them.
#[derive(Debug, Default)]
pub struct SignedInHere(std::sync::Mutex<Vec<String>>);

impl SignedInHere {
    /// Records that `user_id` proved who they are in this request.
    pub fn grant(&self, user_id: &str) {
        if let Ok(mut granted) = self.0.lock() {
            granted.push(user_id.to_owned());
        }
    }

    /// Whether nobody signed in during this request.
    pub fn is_empty(&self) -> bool {
        self.0.lock().map_or(true, |granted| granted.is_empty())
    }

    /// Whether `user_id` signed in during this request.
    pub fn contains(&self, user_id: &str) -> bool {
        self.0.lock().is_ok_and(|granted| granted.iter().any(|id| id == user_id))
    }
}
