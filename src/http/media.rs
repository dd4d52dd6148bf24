//! Media types of GraphQL over HTTP: what the client accepts and what it sent.

use axum::http::{HeaderMap, header};

/// The GraphQL over HTTP response media types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    /// `application/graphql-response+json`: status codes tell request errors apart.
    GraphqlResponse,
    /// `application/json`: the legacy type; request errors after parsing are 200.
    Json,
}

impl Media {
    /// The `Content-Type` value.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

/// The response type the `Accept` header allows: `application/graphql-response+json` when
/// named, `application/json` when named, wildcarded or no header at all; `None` (406) else.
pub fn negotiate(headers: &HeaderMap) -> Option<Media> {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return Some(Media::Json);
    };
    let accept = accept.to_str().ok()?;
    let mut best = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| {
            let p = p.trim().replace(' ', "");
            p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
        });
        if refused {
            continue;
        }
        if media.eq_ignore_ascii_case("application/graphql-response+json") {
            return Some(Media::GraphqlResponse);
        }
        if ["application/json", "application/*", "*/*"].iter().any(|json| media.eq_ignore_ascii_case(json)) {
            best = Some(Media::Json);
        }
    }
    best
}

/// Whether a POST body is declared as JSON (UTF-8 is the only charset JSON has).
pub fn is_json_body(headers: &HeaderMap) -> Option<bool> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or("").trim();
    let utf8 = parts.all(|p| match p.trim().split_once('=') {
        Some((name, charset)) if name.trim_end().eq_ignore_ascii_case("charset") => {
            charset.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        }
        _ => true,
    });
    Some(media.eq_ignore_ascii_case("application/json") && utf8)
}
