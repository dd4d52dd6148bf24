//! The playground at `/playground`: its page and assets over plain HTTP, and the whole thing
//! driven through Debian's Chromium by `tests/browser/playground.mjs`.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use todoql::config::Config;

/// How to get the browser test's tools, for the failure messages.
const INSTALL: &str = "apt-get install -y chromium && npm ci --prefix tests/browser";
/// How to rebuild `playground/assets/`, for the failure messages.
const REBUILD: &str = "cd playground && npm ci && npm run build";

/// A running server with its own SQLite database.
struct TestApp {
    addr: SocketAddr,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl TestApp {
    /// A server with the playground on.
    async fn spawn() -> Self {
        Self::spawn_with(true).await
    }

    /// A server with the playground on or off (`PLAYGROUND`).
    async fn spawn_with(playground: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_database(format!("sqlite://{}?mode=rwc", dir.path().join("todoql.db").display()));
        config.jwt_secret = Some("playground-test-secret-at-least-32-bytes!".to_owned());
        config.bind_addr = "127.0.0.1:0".parse().expect("address");
        config.playground = playground;
        let listener = todoql::app::bind(&config).await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let router = todoql::app::build(config).await.expect("build app");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        tokio::spawn(todoql::app::serve(listener, router, shutdown, Duration::from_secs(1)));
        // No automatic decompression: the tests look at the bytes as sent.
        let client = reqwest::Client::builder().build().expect("client");
        Self { addr, client, _dir: dir, _stop: stop }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// GETs `path` with extra request headers; returns status, headers and body bytes.
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        (status, headers, response.bytes().await.expect("body").to_vec())
    }

    /// The page's HTML.
    async fn page(&self) -> String {
        let (status, _, body) = self.get("/playground", &[]).await;
        assert_eq!(status, StatusCode::OK);
        String::from_utf8(body).expect("UTF-8 page")
    }
}

/// Every `src="…"` and `href="…"` in `html`.
fn references(html: &str) -> Vec<String> {
    ["src=\"", "href=\""]
        .iter()
        .flat_map(|attribute| html.split(attribute).skip(1))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// The page's assets: every reference under `/playground/assets/`.
fn assets(html: &str) -> Vec<String> {
    references(html).into_iter().filter(|reference| reference.starts_with("/playground/assets/")).collect()
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers.get(&name).and_then(|value| value.to_str().ok()).unwrap_or_else(|| panic!("no {name} header"))
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).expect("valid gzip");
    out
}

#[tokio::test]
async fn the_page_sends_a_strict_content_security_policy_and_loads_nothing_from_elsewhere() {
    let app = TestApp::spawn().await;
    let (status, headers, body) = app.get("/playground", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, header::CONTENT_TYPE), "text/html; charset=utf-8");
    let policy = header(&headers, header::CONTENT_SECURITY_POLICY);
    for directive in [
        "default-src 'none'",
        "script-src 'self';",
        "connect-src 'self'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} missing from {policy}");
    }
    assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"), "{policy}");
    assert_eq!(header(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(header(&headers, header::CACHE_CONTROL), "no-store");

    let html = String::from_utf8(body).expect("UTF-8 page");
    assert!(!html.contains("http:") && !html.contains("https:") && !html.contains("//"), "an absolute URL in {html}");
    assert!(!html.contains("{{"), "an unfilled placeholder in {html}");
    assert!(!html.contains("<script>") && !html.contains("style="), "inline script or style in {html}");
    for reference in references(&html) {
        assert!(
            reference.starts_with("/playground/assets/") || reference == "data:,",
            "{reference} is not served here"
        );
    }
    assert_eq!(assets(&html).len(), 7, "{html}");
}

#[tokio::test]
async fn every_style_nonce_is_fresh_and_on_the_playground_script() {
    let app = TestApp::spawn().await;
    let nonce = |headers: &HeaderMap| {
        let policy = header(headers, header::CONTENT_SECURITY_POLICY).to_owned();
        let start = policy.find("'nonce-").expect("a style nonce") + "'nonce-".len();
        policy[start..].split('\'').next().expect("nonce").to_owned()
    };
    let (_, first_headers, first) = app.get("/playground", &[]).await;
    let (_, second_headers, _) = app.get("/playground", &[]).await;
    let first_nonce = nonce(&first_headers);
    assert!(first_nonce.len() >= 22, "a 128-bit nonce: {first_nonce}");
    assert_ne!(first_nonce, nonce(&second_headers));
    let html = String::from_utf8(first).expect("UTF-8 page");
    assert!(html.contains(&format!("nonce=\"{first_nonce}\"")), "{html}");
}

#[tokio::test]
async fn assets_are_served_with_their_types_immutable_caching_and_the_policy() {
    let app = TestApp::spawn().await;
    for asset in assets(&app.page().await) {
        let (status, headers, body) = app.get(&asset, &[]).await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        let expected =
            if asset.ends_with(".js") { "text/javascript; charset=utf-8" } else { "text/css; charset=utf-8" };
        assert_eq!(header(&headers, header::CONTENT_TYPE), expected, "{asset}");
        assert_eq!(header(&headers, header::CACHE_CONTROL), "public, max-age=31536000, immutable", "{asset}");
        assert!(header(&headers, header::CONTENT_SECURITY_POLICY).contains("script-src 'self'"), "{asset}");
        assert_eq!(header(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff", "{asset}");
        assert!(headers.get(header::CONTENT_ENCODING).is_none(), "{asset} compressed though not asked");
        let text = String::from_utf8(body).expect("UTF-8 asset");
        assert!(!text.contains("sourceMappingURL="), "{asset} would make DevTools fetch a missing map");
    }
}

#[tokio::test]
async fn assets_come_gzipped_when_the_client_accepts_it_and_unzip_to_the_same_bytes() {
    let app = TestApp::spawn().await;
    for asset in assets(&app.page().await) {
        let (_, plain_headers, plain) = app.get(&asset, &[]).await;
        let (status, headers, zipped) = app.get(&asset, &[("accept-encoding", "br;q=1.0, gzip;q=0.8")]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header(&headers, header::CONTENT_ENCODING), "gzip", "{asset}");
        assert_eq!(header(&headers, header::VARY), "accept-encoding");
        assert!(zipped.len() < plain.len(), "{asset}: gzip is smaller");
        assert_ne!(header(&headers, header::ETAG), header(&plain_headers, header::ETAG), "one validator per encoding");
        assert!(gunzip(&zipped) == plain, "{asset}.gz is stale: run `{REBUILD}`");
        let (_, refused, _) = app.get(&asset, &[("accept-encoding", "gzip;q=0, identity")]).await;
        assert!(refused.get(header::CONTENT_ENCODING).is_none(), "gzip;q=0 refuses gzip");
    }
}

#[tokio::test]
async fn an_asset_the_client_already_has_answers_304() {
    let app = TestApp::spawn().await;
    let asset = assets(&app.page().await).remove(0);
    let (_, headers, _) = app.get(&asset, &[("accept-encoding", "gzip")]).await;
    let etag = header(&headers, header::ETAG).to_owned();
    let (status, headers, body) = app.get(&asset, &[("accept-encoding", "gzip"), ("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(header(&headers, header::ETAG), etag);
    assert!(body.is_empty());
    let (status, _, _) = app.get(&asset, &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::OK, "the gzip validator does not match the plain representation");
}

#[tokio::test]
async fn asset_names_without_the_current_content_hash_are_not_found() {
    let app = TestApp::spawn().await;
    for path in [
        "/playground/assets/graphiql.min.js",
        "/playground/assets/graphiql.0000000000000000.min.js",
        "/playground/assets/..%2Fsrc%2Fmain.rs",
    ] {
        let (status, _, _) = app.get(path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn playground_false_turns_the_page_and_its_assets_off() {
    let on = TestApp::spawn().await;
    let asset = assets(&on.page().await).remove(0);
    let off = TestApp::spawn_with(false).await;
    for path in ["/playground", asset.as_str()] {
        let (status, _, _) = off.get(path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

/// The repository root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_signs_up_and_manages_todos_in_chromium_without_the_internet() {
    let chromium = Path::new("/usr/bin/chromium");
    assert!(chromium.exists(), "{} is missing: run `{INSTALL}` (the browser test never skips)", chromium.display());
    let playwright = root().join("tests/browser/node_modules/playwright-core");
    assert!(playwright.exists(), "{} is missing: run `{INSTALL}` (the browser test never skips)", playwright.display());

    let app = TestApp::spawn().await;
    let url = app.url("/playground");
    let screenshot: PathBuf = root().join("target/playground.png");
    let script = root().join("tests/browser/playground.mjs");
    let outcome =
        tokio::task::spawn_blocking(move || run_node(&script, &[url.as_str(), &screenshot.to_string_lossy()]))
            .await
            .expect("browser test thread");
    let (success, output) =
        outcome.unwrap_or_else(|error| panic!("cannot run node ({error}): install Node.js, then `{INSTALL}`"));
    println!("{output}");
    assert!(success, "the browser test failed:\n{output}");
}

/// Runs `node script args…` for at most three minutes; returns success and the combined output.
fn run_node(script: &Path, args: &[&str]) -> std::io::Result<(bool, String)> {
    let mut child = Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let (mut stdout, mut stderr) = (child.stdout.take().expect("stdout"), child.stderr.take().expect("stderr"));
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut output = String::new();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    output.push_str(&reader.join().unwrap_or_default());
    output.push_str(&errors.join().unwrap_or_default());
    match status {
        Some(status) => Ok((status.success(), output)),
        None => Ok((false, format!("{output}\n(timed out after 180 s)"))),
    }
}
