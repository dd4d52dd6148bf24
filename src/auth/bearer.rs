//! Reading the caller from an `Authorization: Bearer` header, once per request.
//!
//! Which verifier checks a token is decided by its `iss` and the configured issuers, never
//! by its `alg`: a token whose `iss` is the external issuer's (Better Auth) is checked only
//! with that issuer's published public keys; every other token only with todoql's own HS256
//! key. So an HS256 token claiming the external issuer, or an asymmetric token without
//! that claim, is refused. A token with the prefix `todoql_pat_` is a personal access token,
//! looked up by its hash ([`pats`]).
//!
//! Each credential carries its [`Access`]: a JWT's `scope` claim (space-separated) limits it
//! to those scopes, and one without the claim holds them all; a personal access token holds
//! exactly its own.

use axum::http::{HeaderMap, header};

use super::external::{self, ExternalIssuer, Rejection, identities};
use super::pats;
use super::scopes::Access;
use super::tokens::TokenKeys;
use crate::db::Snapshot;
use crate::error::Error;
use crate::state::State;

/// What the `Authorization` header says.
pub enum Credential {
    /// No header: an anonymous request.
    Absent,
    /// One of todoql's own tokens that verified; whether its user still exists is the
    /// caller's to check.
    Valid {
        /// The user id the token names.
        user_id: String,
        /// When the token expires, seconds since the epoch.
        expires_at: i64,
        /// What the token lets its bearer do.
        access: Access,
    },
    /// An external issuer's token that verified, mapped to the todoql user its identity is
    /// linked to (provisioned on first sight). That one read also proves the user exists.
    Linked {
        /// The linked todoql user's id.
        user_id: String,
        /// The token's `sub`: the user's id at the issuer (what the REST routes' paths carry).
        subject: String,
        /// When the token expires, seconds since the epoch.
        expires_at: i64,
        /// What the token lets its bearer do.
        access: Access,
    },
    /// A personal access token that exists and has not expired; the lookup that found it
    /// also proves its user exists.
    Personal {
        /// Its user's id.
        user_id: String,
        /// The token's id, for watching its revocation.
        token_id: String,
        /// When the token expires, seconds since the epoch.
        expires_at: i64,
        /// Exactly the token's scopes.
        access: Access,
    },
    /// A header that is present but unusable, with the reason (safe to show the client).
    Invalid(&'static str),
    /// A token that cannot be checked right now (its issuer's keys or the database are
    /// unavailable): not the client's fault, so not a 401.
    Failed(Error),
}

/// Verifies the `Authorization` header, if any, with the verifier its token's issuer
/// selects: what request handlers call.
pub async fn authenticate(headers: &HeaderMap, state: &State) -> Credential {
    authenticate_in(headers, state, None).await
}

/// [`authenticate`], looking a personal access token up in the request's `snapshot` when it
/// has one: the lookup then stands where a JWT's user check would, in the same read
/// transaction as the request's other reads.
pub async fn authenticate_in(headers: &HeaderMap, state: &State, snapshot: Option<&Snapshot>) -> Credential {
    match header_token(headers) {
        Ok(Some(token)) if pats::is_personal(token) => pats::authenticate(token, state, snapshot).await,
        Ok(Some(token)) => authenticate_token(token, state).await,
        Ok(None) => Credential::Absent,
        Err(invalid) => invalid,
    }
}

/// [`authenticate`], when the header can be judged without waiting on anything: no header, a
/// malformed one, or one of todoql's own tokens (a signature and claims check). `None` for a
/// personal access token or an external issuer's token, which need a lookup or the issuer's
/// keys: then [`authenticate_in`].
pub fn authenticate_now(headers: &HeaderMap, state: &State) -> Option<Credential> {
    match header_token(headers) {
        Ok(Some(token)) if pats::is_personal(token) => None,
        Ok(Some(token)) => match state.external.as_deref() {
            Some(issuer) if issuer.claims(token) => None,
            _ => Some(from_token(token, &state.keys)),
        },
        Ok(None) => Some(Credential::Absent),
        Err(invalid) => Some(invalid),
    }
}

/// Whether the `Authorization` header carries a personal access token.
pub fn is_personal(headers: &HeaderMap) -> bool {
    header_token(headers).is_ok_and(|token| token.is_some_and(pats::is_personal))
}

/// Verifies a bare token with the one verifier its issuer selects.
pub async fn authenticate_token(token: &str, state: &State) -> Credential {
    if pats::is_personal(token) {
        return pats::authenticate(token, state, None).await;
    }
    match state.external.as_deref() {
        Some(issuer) if issuer.claims(token) => from_external(token, issuer, state).await,
        _ => from_token(token, &state.keys),
    }
}

/// Verifies the `Authorization` header as one of todoql's own tokens only (an external
/// issuer's token is refused): [`authenticate`] without the routing, for benchmarks.
pub fn credential(headers: &HeaderMap, keys: &TokenKeys) -> Credential {
    match header_token(headers) {
        Ok(Some(token)) => from_token(token, keys),
        Ok(None) => Credential::Absent,
        Err(invalid) => invalid,
    }
}

/// The bearer token of the `Authorization` header: `None` without one, an `Invalid`
/// credential when it is not `Bearer <token>`.
fn header_token(headers: &HeaderMap) -> Result<Option<&str>, Credential> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    match value.to_str().ok().and_then(bearer_token) {
        Some(token) => Ok(Some(token)),
        None => Err(Credential::Invalid("the Authorization header is not `Bearer <token>`")),
    }
}

/// Verifies a token as one of todoql's own: HS256 with todoql's key, nothing else.
pub fn from_token(token: &str, keys: &TokenKeys) -> Credential {
    match keys.verify(token) {
        Ok(claims) => {
            let access = Access::session(claims.scope.as_deref());
            Credential::Valid { user_id: claims.sub, expires_at: claims.exp, access }
        }
        Err(error) => Credential::Invalid(reason(error.kind())),
    }
}

/// What a client is told about a token jsonwebtoken refused: enough to act on, nothing
/// about the keys.
pub(crate) fn reason(kind: &jsonwebtoken::errors::ErrorKind) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired",
        ErrorKind::ImmatureSignature => "the token is not valid yet",
        ErrorKind::InvalidSignature => "the token's signature does not verify",
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => "the token's algorithm is not accepted",
        ErrorKind::InvalidIssuer => "the token's issuer is not accepted",
        ErrorKind::InvalidAudience => "the token's audience is not accepted",
        ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
        _ => "the token is malformed",
    }
}

/// An external issuer's token: its published keys only, then the identity link.
async fn from_external(token: &str, issuer: &ExternalIssuer, state: &State) -> Credential {
    let claims: external::ExternalClaims = match issuer.verify(token).await {
        Ok(claims) => claims,
        Err(Rejection::Invalid(reason)) => return Credential::Invalid(reason),
        Err(Rejection::Unavailable(retry)) => {
            tracing::debug!("an external token arrived while its issuer's keys cannot be fetched");
            return Credential::Failed(Error::ServiceUnavailable { retry_after: Some(retry.as_secs().max(1)) });
        }
    };
    match identities::link(&state.db, &issuer.settings().issuer, &claims).await {
        Ok(user_id) => {
            let access = Access::session(claims.scope.as_deref());
            Credential::Linked { user_id, subject: claims.sub, expires_at: claims.exp, access }
        }
        Err(error) => Credential::Failed(error),
    }
}

/// The token of a `Bearer` credential; the scheme is case-insensitive (RFC 9110 §11.1).
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
