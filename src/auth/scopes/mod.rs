//! Scopes (issue 15): what a token may do, beside whose data it reaches.
//!
//! Every field of the schema declares the scopes it requires with `#[scopes(…)]` under
//! [`scoped`](todoql_macros::scoped), which makes the declaration both the field's [`Scoped`]
//! guard and its `@requiresScopes` directive in the SDL ([`RequiresScopes`]).

mod directive;
mod guard;
mod refusal;
mod scope;

pub use directive::{Requirement, RequiresScopes, describe};
pub use guard::{Scoped, SessionOnly};
pub use refusal::{REQUIRED_SCOPES, insufficient_scope, refused_for_scope, root_keys};
pub use scope::{Access, Scope, Scopes};
