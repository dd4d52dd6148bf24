//! Reading the caller from an `Authorization: Bearer` header, once per request.

use axum::http::{HeaderMap, header};

use super::tokens::TokenKeys;

/// What the `Authorization` header says.
pub enum Credential {
    /// No header: an anonymous request.
    Absent,
    /// A token that verified: its subject.
    Valid {
        /// The user id the token names.
        user_id: String,
        /// When the token expires, seconds since the epoch.
        expires_at: i64,
    },
    /// A header that is present but unusable, with the reason (for logs, not clients).
    Invalid(&'static str),
}

/// Verifies the `Authorization` header, if any.
pub fn credential(headers: &HeaderMap, keys: &TokenKeys) -> Credential {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Credential::Absent;
    };
    match value.to_str().ok().and_then(bearer_token) {
        Some(token) => from_token(token, keys),
        None => Credential::Invalid("the Authorization header is not `Bearer <token>`"),
    }
}

/// Verifies a bare token.
pub fn from_token(token: &str, keys: &TokenKeys) -> Credential {
    use jsonwebtoken::errors::ErrorKind;
    match keys.verify(token) {
        Ok(claims) => Credential::Valid { user_id: claims.sub, expires_at: claims.exp },
        Err(error) => Credential::Invalid(match error.kind() {
            ErrorKind::ExpiredSignature => "the token has expired",
            ErrorKind::InvalidSignature => "the token's signature does not verify",
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => "the token's algorithm is not accepted",
            ErrorKind::InvalidIssuer => "the token's issuer is not accepted",
            ErrorKind::InvalidAudience => "the token's audience is not accepted",
            ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
            _ => "the token is malformed",
        }),
    }
}

/// The token of a `Bearer` credential; the scheme is case-insensitive (RFC 9110 §11.1).
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
