//! Authentication: who the caller is, how they prove it, and the guards that use it.

pub mod bearer;
pub mod budget;
pub mod external;
mod guards;
pub mod in_flight;
mod inputs;
pub mod passwords;
pub mod pats;
pub mod refresh;
mod schema;
pub mod scopes;
pub mod throttle;
pub mod tokens;
mod viewer;

pub use guards::{SelfOnly, SignedIn};
pub use schema::{AuthMutation, AuthPayload};
pub use viewer::{AuthenticatedUser, SignedInHere, Viewer, caller};
