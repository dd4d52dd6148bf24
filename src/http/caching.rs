//! HTTP caching of GraphQL responses: none. Every answer of `/graphql` depends on the caller —
//! whose todos, which user, a token or a refusal of one — so none may be stored by a browser
//! cache or a shared cache (a CDN, a proxy) where another caller could be served it, even when
//! a persisted query makes a GET URL short and stable enough to look cacheable.

use axum::http::{HeaderValue, header};
use axum::response::Response;

/// Marks a `/graphql` response as never to be stored, and as varying with the caller's
/// `Authorization` (and, through content negotiation, `Accept`) for any cache that keeps it
/// anyway.
pub fn private(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.append(header::VARY, HeaderValue::from_static("authorization, accept"));
    response
}
