//! Where an external issuer publishes its keys and which `iss`/`aud` its tokens carry,
//! derived from `BETTER_AUTH_URL` and its overrides.

use reqwest::Url;

use crate::config::Config;

/// The resolved settings of the one external issuer todoql trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The JWKS document's URL.
    pub jwks_url: String,
    /// The `iss` its tokens carry: what routes a token to its keys.
    pub issuer: String,
    /// The `aud` its tokens must carry.
    pub audience: String,
}

impl Settings {
    /// The settings `config` asks for; `None` when no external issuer is configured.
    pub fn from_config(config: &Config) -> Result<Option<Self>, String> {
        let base = config.better_auth_url.as_deref().map(http_url).transpose()?;
        let jwks = config.auth_jwks_url.as_deref().map(http_url).transpose()?;
        let (jwks_url, implied) = match (jwks, base) {
            (Some(jwks), base) => (jwks.to_string(), origin(base.as_ref().unwrap_or(&jwks))),
            (None, Some(base)) => (better_auth_jwks(&base), origin(&base)),
            (None, None) => {
                if config.auth_jwt_issuer.is_some() || config.auth_jwt_audience.is_some() {
                    tracing::warn!(
                        "AUTH_JWT_ISSUER/AUTH_JWT_AUDIENCE are ignored without BETTER_AUTH_URL or AUTH_JWKS_URL"
                    );
                }
                return Ok(None);
            }
        };
        let issuer = config.auth_jwt_issuer.clone().unwrap_or_else(|| implied.clone());
        // Better Auth's `aud` defaults to its base URL's origin, like its `iss`.
        let audience = config.auth_jwt_audience.clone().unwrap_or(match config.better_auth_url {
            Some(_) => implied,
            None => issuer.clone(),
        });
        Ok(Some(Self { jwks_url, issuer, audience }))
    }
}

/// The clap value parser of `BETTER_AUTH_URL` and `AUTH_JWKS_URL`: an absolute `http(s)`
/// URL with a host, so a typo is a start-up error rather than every token rejected.
pub fn parse_url(value: &str) -> Result<String, String> {
    http_url(value).map(|_| value.trim().to_owned())
}

fn http_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value.trim()).map_err(|e| format!("{value:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("{value:?} must be an http:// or https:// URL with a host"));
    }
    Ok(url)
}

/// `scheme://host[:port]`, as Better Auth derives `iss` and `aud` from its base URL (no
/// path, no trailing slash, default ports omitted).
fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Better Auth serves its routes under `/api/auth`, unless the base URL has a path of its
/// own, which then is the routes' base (its `withPath`).
fn better_auth_jwks(base: &Url) -> String {
    let trimmed = base.as_str().trim_end_matches('/');
    if base.path().trim_matches('/').is_empty() {
        format!("{trimmed}/api/auth/jwks")
    } else {
        format!("{trimmed}/jwks")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(adjust: impl FnOnce(&mut Config)) -> Option<Settings> {
        let mut config = Config::for_database("sqlite::memory:");
        adjust(&mut config);
        Settings::from_config(&config).expect("valid settings")
    }

    #[test]
    fn nothing_is_trusted_without_a_url() {
        assert_eq!(settings(|c| c.auth_jwt_issuer = Some("https://x.example".into())), None);
    }

    #[test]
    fn better_auth_url_alone_implies_jwks_issuer_and_audience() {
        let s = settings(|c| c.better_auth_url = Some("https://app.example.com/".into())).expect("configured");
        assert_eq!(s.jwks_url, "https://app.example.com/api/auth/jwks");
        assert_eq!(s.issuer, "https://app.example.com");
        assert_eq!(s.audience, "https://app.example.com");
    }

    #[test]
    fn a_base_url_with_a_path_is_better_auths_route_base_but_not_its_issuer() {
        let s = settings(|c| c.better_auth_url = Some("http://127.0.0.1:3000/auth".into())).expect("configured");
        assert_eq!(s.jwks_url, "http://127.0.0.1:3000/auth/jwks");
        assert_eq!(s.issuer, "http://127.0.0.1:3000");
    }

    #[test]
    fn each_setting_can_be_overridden() {
        let s = settings(|c| {
            c.better_auth_url = Some("https://app.example.com".into());
            c.auth_jwks_url = Some("https://keys.example.com/jwks.json".into());
            c.auth_jwt_issuer = Some("https://issuer.example.com".into());
            c.auth_jwt_audience = Some("todoql".into());
        })
        .expect("configured");
        assert_eq!(s.jwks_url, "https://keys.example.com/jwks.json");
        assert_eq!(s.issuer, "https://issuer.example.com");
        assert_eq!(s.audience, "todoql");
    }

    #[test]
    fn a_jwks_url_alone_trusts_its_own_origin() {
        let s = settings(|c| c.auth_jwks_url = Some("https://auth.example.com:8443/api/auth/jwks".into()))
            .expect("configured");
        assert_eq!(s.issuer, "https://auth.example.com:8443");
        assert_eq!(s.audience, "https://auth.example.com:8443");
    }

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert!(parse_url("https://app.example.com").is_ok());
        assert!(parse_url("app.example.com").is_err());
        assert!(parse_url("ftp://app.example.com").is_err());
        assert!(parse_url("file:///etc/passwd").is_err());
    }
}
