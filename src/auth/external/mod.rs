//! Tokens from an external issuer: a Next.js app's Better Auth (`jwt` plugin) or any issuer
//! that publishes a JWKS. Its keys are fetched and cached ([`jwks`]), each bound to its own
//! algorithm ([`keys`]); a token is routed here by its `iss` alone ([`ExternalIssuer`]); its
//! subject is linked to a todoql user, provisioned on first sight ([`identities`]).

mod entity;
pub mod identities;
mod issuer;
pub mod jwks;
pub mod keys;
pub mod schedule;
mod settings;

pub use issuer::{ExternalClaims, ExternalIssuer, Rejection};
pub use settings::{Settings, parse_url};
