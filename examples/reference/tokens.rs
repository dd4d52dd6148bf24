//! What both reference servers (`ceiling.rs`, `ceiling_pg.rs`) share: the bearer token checked
//! exactly as todoql checks it (HS256 only, `exp` and `sub` required, 5 s leeway), todoql's
//! 401, and an expired token for `scripts/load`'s reject scenario. One copy, so the two
//! references cannot drift apart.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The claims todoql issues; only `sub` and `exp` are read.
#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    exp: i64,
}

/// Verifies bearer tokens signed with one secret.
pub struct Tokens {
    decoding: DecodingKey,
    validation: Validation,
}

impl Tokens {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self { decoding: DecodingKey::from_secret(secret.as_bytes()), validation }
    }

    /// The token's subject when the `Authorization: Bearer` token verifies.
    pub fn subject(&self, headers: &HeaderMap) -> Option<String> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        jsonwebtoken::decode::<Claims>(token.trim(), &self.decoding, &self.validation).ok().map(|data| data.claims.sub)
    }
}

/// A token for `sub` that expired an hour ago.
pub fn expired_token(secret: &str, sub: &str) -> Result<String, jsonwebtoken::errors::Error> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let claims = Claims { sub: sub.to_owned(), email: None, iat: Some(now - 7200), exp: now - 3600 };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.as_bytes()))
}

/// todoql's answer to a token that does not verify.
pub fn unauthorized() -> Response {
    const BODY: &[u8] = br#"{"errors":[{"message":"the token is not valid","extensions":{"code":"UNAUTHENTICATED"}}]}"#;
    let mut response = json(StatusCode::UNAUTHORIZED, BODY.to_vec());
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
    response
}

/// A JSON answer.
pub fn json(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body).into_response()
}
