//! HS256 access tokens: issuing them and verifying them against an explicit algorithm list.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::scopes::Scopes;
use crate::clock;
use crate::config::Config;
use crate::error::{Error, Result};

/// The fewest bytes an HS256 key may have (RFC 7518 §3.2: at least the hash size).
pub const MIN_SECRET_BYTES: usize = 32;

/// The claims of a todoql access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    /// The user's email when the token was issued.
    #[serde(default)]
    pub email: Option<String>,
    /// Issued at, seconds since the epoch.
    #[serde(default)]
    pub iat: Option<i64>,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// Issuer, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// The scopes the token holds, space-separated (OAuth's `scope`); every scope when absent.
    /// todoql's sessions carry all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// Why the signing key cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes, got {0}")]
pub struct ShortSecret(usize);

/// Signs and verifies access tokens with one HS256 key.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: Option<String>,
    audience: Option<String>,
    ttl_secs: i64,
}

impl TokenKeys {
    /// Keys from the configuration; a random key when none is configured (with a loud
    /// warning, since its tokens die with the process).
    pub fn from_config(config: &Config) -> std::result::Result<Self, ShortSecret> {
        let secret = match config.secret() {
            Some(secret) if secret.len() < MIN_SECRET_BYTES => return Err(ShortSecret(secret.len())),
            Some(secret) => secret.as_bytes().to_vec(),
            None => {
                tracing::warn!(
                    "neither JWT_SECRET nor BETTER_AUTH_SECRET is set: signing with a random key; \
                     every token dies with this process and other instances reject it"
                );
                let mut key = vec![0u8; 64];
                rand::rng().fill_bytes(&mut key);
                key
            }
        };
        // An explicit allow-list: the token's own `alg` never chooses the verifier.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        let mut required = vec!["exp", "sub"];
        if let Some(iss) = &config.jwt_issuer {
            validation.set_issuer(&[iss]);
            required.push("iss");
        }
        if let Some(aud) = &config.jwt_audience {
            validation.set_audience(&[aud]);
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        Ok(Self {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            ttl_secs: i64::try_from(config.access_token_ttl).unwrap_or(i64::MAX / 2),
        })
    }

    /// Lifetime of the tokens this issues, seconds.
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// A signed access token for a user.
    pub fn issue(&self, user_id: &str, email: &str) -> Result<String> {
        let now = clock::now_micros() / 1_000_000;
        let claims = Claims {
            sub: user_id.to_owned(),
            email: Some(email.to_owned()),
            iat: Some(now),
            exp: now.saturating_add(self.ttl_secs),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            scope: Some(Scopes::ALL.to_claim()),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::Internal(format!("cannot sign a token: {e}")))
    }

    /// The claims of a token that is signed by this key, unexpired and meant for us.
    pub fn verify(&self, token: &str) -> std::result::Result<Claims, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map(|data| data.claims)
    }
}
