//! `GET /playground`: GraphiQL with a sign-in bar, served entirely from this binary.
//!
//! The page and its assets live in `playground/` and are embedded with `include_bytes!`, so
//! the playground works with no internet and `cargo build` needs no npm. Each asset is
//! served under a name carrying a hash of its content (`graphiql.3f9a….min.js`), cached for
//! a year as immutable, and sent as the `.gz` twin `playground/build.mjs` made when the
//! client accepts gzip: compressing at build time costs nothing per request or at start-up.
//! `PLAYGROUND=false` turns the page and its assets into 404s; so does `TRUSTED_DOCUMENTS_ONLY`,
//! whose server would refuse anything typed into the playground, and the page says why.

use std::sync::LazyLock;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::App;

/// What the page may load and run: only this server's own scripts (no inline or evaluated
/// script), styles and connections (`'self'` covers `ws:`/`wss:` to this host for
/// subscriptions); fonts and icons inlined in GraphiQL's CSS as `data:` URLs. No form may
/// submit anywhere, no page may frame it, and no `<base>` may redirect its relative URLs.
///
/// One inline style is allowed, by a nonce fresh for every page: GraphiQL's dialogs (Radix,
/// through `react-remove-scroll-bar`) add a `<style>` element to lock scrolling, and stamp it
/// with `window.__webpack_nonce__`, which `playground.js` sets. No `'unsafe-inline'`.
fn content_security_policy(style_nonce: Option<&str>) -> String {
    let nonce = style_nonce.map(|nonce| format!(" 'nonce-{nonce}'")).unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'{nonce}; img-src 'self' data:; \
         font-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; \
         base-uri 'none'"
    )
}

/// Where versioned assets are served from.
const ASSET_PREFIX: &str = "/playground/assets/";

/// One embedded file and its gzip twin.
struct Asset {
    /// Its file name in `playground/assets/`, and its placeholder in the page.
    name: &'static str,
    /// Its `Content-Type`.
    content_type: &'static str,
    /// Its bytes.
    raw: &'static [u8],
    /// The same, gzipped by `playground/build.mjs`.
    gzip: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            raw: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/playground/assets/", $name)),
            gzip: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/playground/assets/", $name, ".gz")),
        }
    };
}

/// Everything the page loads (`playground/index.html` names each as `{{name}}`).
static ASSETS: [Asset; 7] = [
    asset!("graphiql.min.js", "text/javascript; charset=utf-8"),
    asset!("graphiql.min.css", "text/css; charset=utf-8"),
    asset!("react.production.min.js", "text/javascript; charset=utf-8"),
    asset!("react-dom.production.min.js", "text/javascript; charset=utf-8"),
    asset!("examples.js", "text/javascript; charset=utf-8"),
    asset!("playground.js", "text/javascript; charset=utf-8"),
    asset!("playground.css", "text/css; charset=utf-8"),
];

/// The page template.
const TEMPLATE: &str = include_str!("../../playground/index.html");

/// An asset under its versioned name.
struct Versioned {
    /// The file.
    asset: &'static Asset,
    /// Its name with a hash of its content: `graphiql.3f9a….min.js`.
    file: String,
    /// Its strong validator (for the uncompressed bytes).
    etag: String,
}

/// The page (still with its `{{nonce}}`) and the assets' versioned names, worked out once
/// (hashing ~1.5 MB takes a few milliseconds).
struct Site {
    /// `playground/index.html` with the assets' URLs filled in.
    page: String,
    /// Every asset.
    assets: Vec<Versioned>,
}

static SITE: LazyLock<Site> = LazyLock::new(|| {
    let mut page = TEMPLATE.to_owned();
    let assets: Vec<Versioned> = ASSETS
        .iter()
        .map(|asset| {
            let hash = short_hash(asset.raw);
            let (stem, rest) = asset.name.split_once('.').unwrap_or((asset.name, ""));
            let file = format!("{stem}.{hash}.{rest}");
            page = page.replace(&format!("{{{{{}}}}}", asset.name), &format!("{ASSET_PREFIX}{file}"));
            Versioned { asset, file, etag: format!("\"{hash}\"") }
        })
        .collect();
    Site { page, assets }
});

/// The first 16 hex digits of the SHA-256 of `bytes`.
fn short_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)[..8].iter().map(|byte| format!("{byte:02x}")).collect()
}

/// `GET /playground`: the page. Never stored: each copy carries its own style nonce, and a
/// new build's asset names are picked up at once.
pub async fn page(State(app): State<App>) -> Response {
    if !app.state.config.playground {
        return StatusCode::NOT_FOUND.into_response();
    }
    if let Some(off) = off_for_trusted_documents(&app) {
        return off;
    }
    let mut bytes = [0_u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let nonce = URL_SAFE_NO_PAD.encode(bytes);
    let mut headers = security_headers(Some(&nonce));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    (headers, SITE.page.replace("{{nonce}}", &nonce)).into_response()
}

/// `GET /playground/assets/{file}`: a versioned asset, gzipped when the client accepts it.
pub async fn asset(State(app): State<App>, Path(file): Path<String>, request: HeaderMap) -> Response {
    if !app.state.config.playground || app.state.config.trusted_documents_only {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(found) = SITE.assets.iter().find(|versioned| versioned.file == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let gzip = accepts_gzip(&request);
    // One representation per encoding, each with its own strong validator.
    let etag = if gzip { format!("{}-gzip\"", found.etag.trim_end_matches('"')) } else { found.etag.clone() };
    let mut headers = security_headers(None);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    insert(&mut headers, header::ETAG, &etag);
    if not_modified(&request, &etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(found.asset.content_type));
    let bytes = if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        found.asset.gzip
    } else {
        found.asset.raw
    };
    (headers, Body::from(bytes)).into_response()
}

/// The answer to `/playground` when only trusted documents run: the playground sends free text,
/// which such a server refuses.
fn off_for_trusted_documents(app: &App) -> Option<Response> {
    app.state.config.trusted_documents_only.then(|| {
        let message = "The playground is off: this todoql runs only the operations of its trusted documents \
                       (TRUSTED_DOCUMENTS_ONLY=true), and the playground sends operations as text.\n";
        (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, "no-store")], message).into_response()
    })
}

/// The headers every playground response carries.
fn security_headers(style_nonce: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    insert(&mut headers, header::CONTENT_SECURITY_POLICY, &content_security_policy(style_nonce));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    headers
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 §13.1.2 asks).
fn not_modified(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag))
}

/// Whether `Accept-Encoding` accepts gzip (by name or `*`) with a non-zero quality.
fn accepts_gzip(request: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    for value in request.get_all(header::ACCEPT_ENCODING).iter().filter_map(|value| value.to_str().ok()) {
        for item in value.split(',') {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default().to_ascii_lowercase();
            let quality = parts
                .filter_map(|param| param.strip_prefix("q=").or_else(|| param.strip_prefix("Q=")))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match coding.as_str() {
                "gzip" | "x-gzip" => gzip = Some(quality > 0.0),
                "*" => any = Some(quality > 0.0),
                _ => {}
            }
        }
    }
    gzip.or(any).unwrap_or(false)
}
