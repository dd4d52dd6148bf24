//! The external issuer todoql trusts beside itself: deciding by a token's `iss` whether it
//! is this issuer's, and verifying it with the issuer's published keys only.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;

use super::jwks::{KeySet, Missing};
use super::keys::SUPPORTED;
use super::settings::Settings;
use crate::config::Config;

/// The claims todoql reads from an external token (Better Auth puts its user object in the
/// payload: `email` and `name` among its fields).
#[derive(Debug, Deserialize)]
pub struct ExternalClaims {
    /// The user's id at the issuer.
    pub sub: String,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// The user's email at the issuer.
    #[serde(default)]
    pub email: Option<String>,
    /// The user's display name at the issuer.
    #[serde(default)]
    pub name: Option<String>,
    /// OAuth's `scope`, space-separated: when present, the token holds only the todoql scopes
    /// it names; without it, every scope (a Better Auth session).
    #[serde(default)]
    pub scope: Option<String>,
}

/// Why an external token is refused.
#[derive(Debug)]
pub enum Rejection {
    /// The token is unusable; the reason is safe to show the client.
    Invalid(&'static str),
    /// The issuer's keys cannot be fetched right now; retry after this long.
    Unavailable(Duration),
}

/// A trusted external issuer (Better Auth): its settings and its cached keys.
pub struct ExternalIssuer {
    keys: Arc<KeySet>,
}

/// The parts of a JOSE header routing needs, read before any verification.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

/// The part of a payload routing needs.
#[derive(Deserialize)]
struct Issuer {
    #[serde(default)]
    iss: Option<serde_json::Value>,
}

impl ExternalIssuer {
    /// The issuer `config` names, with its JWKS prefetched in the background; `None` when
    /// none is configured. A configuration that cannot work is logged, and then no external
    /// token is accepted (`BETTER_AUTH_URL` and `AUTH_JWKS_URL` are checked at parse time).
    pub fn from_config(config: &Config) -> Option<Arc<Self>> {
        let settings = match Settings::from_config(config) {
            Ok(settings) => settings?,
            Err(reason) => {
                tracing::error!(%reason, "external token issuer misconfigured: its tokens are rejected");
                return None;
            }
        };
        if config.jwt_issuer.as_deref() == Some(settings.issuer.as_str()) {
            tracing::warn!(
                issuer = %settings.issuer,
                "JWT_ISSUER equals the external issuer: todoql's own tokens carry that `iss` and will be \
                 checked against the external keys, and rejected; give todoql an issuer of its own"
            );
        }
        let keys = match KeySet::new(settings) {
            Ok(keys) => Arc::new(keys),
            Err(error) => {
                tracing::error!(%error, "cannot build the JWKS client: external tokens are rejected");
                return None;
            }
        };
        let s = keys.settings();
        tracing::info!(issuer = %s.issuer, audience = %s.audience, jwks = %s.jwks_url, "accepting tokens from an external issuer");
        tokio::spawn(KeySet::prefetch(Arc::downgrade(&keys)));
        Some(Arc::new(Self { keys }))
    }

    /// The issuer's settings.
    pub fn settings(&self) -> &Settings {
        self.keys.settings()
    }

    /// Whether `token` claims to be this issuer's (its unverified `iss` is this issuer): the
    /// one thing that routes it here. Its `alg` plays no part.
    pub fn claims(&self, token: &str) -> bool {
        let Some(payload) = token.split('.').nth(1) else { return false };
        let Some(claims) = decode_part::<Issuer>(payload) else { return false };
        matches!(claims.iss, Some(serde_json::Value::String(iss)) if iss == self.settings().issuer)
    }

    /// Verifies a token that [`claims`](Self::claims) routed here: signed with one of the
    /// issuer's published keys, by that key's own algorithm, unexpired, for our audience.
    pub async fn verify(&self, token: &str) -> Result<ExternalClaims, Rejection> {
        let header = token
            .split('.')
            .next()
            .and_then(decode_part::<Header>)
            .ok_or(Rejection::Invalid("the token is malformed"))?;
        let alg = Algorithm::from_str(&header.alg)
            .ok()
            .ok_or(Rejection::Invalid("the token's algorithm is not supported: todoql verifies EdDSA, ES256, RS256 and PS256 tokens from its external issuer"))?;
        if !SUPPORTED.contains(&alg) {
            // An HS256 token can never be checked with a public key: this is where a forged
            // token claiming the external issuer ends.
            return Err(Rejection::Invalid("the token's algorithm is not accepted for its issuer"));
        }
        let kid = header.kid.ok_or(Rejection::Invalid("the token does not name its signing key (kid)"))?;
        let key = self.keys.key(&kid).await.map_err(|missing| match missing {
            Missing::Unknown => Rejection::Invalid("the token's signing key is not one its issuer publishes"),
            Missing::Unavailable(retry) => Rejection::Unavailable(retry),
        })?;
        if key.alg != alg {
            return Err(Rejection::Invalid("the token's algorithm is not its key's"));
        }
        let claims = jsonwebtoken::decode::<ExternalClaims>(token, &key.key, &key.validation)
            .map(|data| data.claims)
            .map_err(|error| Rejection::Invalid(crate::auth::bearer::reason(error.kind())))?;
        if claims.sub.is_empty() || claims.sub.chars().count() > 255 {
            return Err(Rejection::Invalid("the token's subject is empty or too long"));
        }
        Ok(claims)
    }
}

/// A base64url JSON part of a token, unverified.
fn decode_part<T: for<'de> Deserialize<'de>>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}
