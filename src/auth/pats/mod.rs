//! Personal access tokens (issue 15): named, scoped, expiring credentials a user creates from
//! a session for scripts and dashboards, shown once and stored only as hashes.

mod entity;
mod revocations;
mod schema;
mod store;
mod verify;
mod watch;

pub use revocations::{Pats, Revoked};
pub use schema::{AccessToken, AccessTokenMutation, AccessTokenQuery, CreatedAccessToken};
pub use store::{MAX_EXPIRY_DAYS, MAX_TOKENS_PER_USER, PREFIX};
pub use verify::{authenticate, is_personal, still_valid};
pub use watch::{Watch, revoked};
