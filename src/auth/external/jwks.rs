//! The external issuer's JWKS: fetched over HTTP, decoded once into [`VerifyingKey`]s and
//! cached. A known `kid` costs a map lookup; stale keys keep serving while a background
//! fetch revalidates them.
//!
//! An unknown `kid` triggers a refetch, but fetches start at most once per
//! [`COOLDOWN`](super::schedule::COOLDOWN), one at a time. A request that finds the cooldown
//! running waits for its end (never more than once) rather than failing, so a key rotated in
//! just after a fetch costs a legitimate client a short wait, not a 401; every request that
//! waited meanwhile shares that one fetch's answer, so random `kid`s cannot make todoql fetch
//! more often.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use serde::Deserialize;

use super::keys::VerifyingKey;
use super::schedule::{self, Schedule};
use super::settings::Settings;

/// The largest JWKS document accepted.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest wait between start-up retries while the JWKS is unreachable.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);

/// Why no key could be found for a `kid`.
#[derive(Debug, PartialEq, Eq)]
pub enum Missing {
    /// The issuer does not publish it (as of a fetch within the cooldown).
    Unknown,
    /// The JWKS cannot be fetched right now; try again after this long.
    Unavailable(Duration),
}

/// The cached keys of one issuer.
pub struct KeySet {
    settings: Settings,
    http: reqwest::Client,
    cache: RwLock<Cache>,
    /// Held while waiting for and running a fetch: one at a time.
    fetching: tokio::sync::Mutex<()>,
    /// Fetches finished so far: a request during which one finished takes its answer.
    fetches: AtomicU64,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, Arc<VerifyingKey>>,
    schedule: Schedule,
}

/// A JWKS document, each key parsed on its own so one odd key cannot hide the others.
#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// An empty key set for `settings`; nothing is fetched yet.
    pub fn new(settings: Settings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .user_agent(concat!("todoql/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let (cache, fetching, fetches) = (RwLock::default(), tokio::sync::Mutex::new(()), AtomicU64::new(0));
        Ok(Self { settings, http, cache, fetching, fetches })
    }

    /// The settings this key set serves.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The key named `kid`, refetching the JWKS when it is unknown (within the cooldown).
    pub async fn key(self: &Arc<Self>, kid: &str) -> Result<Arc<VerifyingKey>, Missing> {
        let now = Instant::now();
        let (known, refresh_stale) = match self.cache.read() {
            Ok(cache) => (cache.keys.get(kid).cloned(), cache.schedule.is_stale(now) && cache.schedule.may_fetch(now)),
            Err(_) => (None, false),
        };
        if let Some(key) = known {
            if refresh_stale {
                // Serve the cached key now; revalidate without holding up this request.
                let set = self.clone();
                tokio::spawn(async move { set.refresh().await });
            }
            return Ok(key);
        }
        self.refetch_for(kid).await;
        let cache = self.cache.read().map_err(|_| Missing::Unknown)?;
        match cache.keys.get(kid) {
            Some(key) => Ok(key.clone()),
            None if cache.schedule.is_unhealthy() => {
                Err(Missing::Unavailable(cache.schedule.wait(Instant::now()).max(Duration::from_secs(1))))
            }
            None => Err(Missing::Unknown),
        }
    }

    /// Fetches for an unknown `kid`, once the cooldown allows, unless a fetch finished while
    /// this request waited its turn (its answer stands) or brought the `kid` in.
    async fn refetch_for(&self, kid: &str) {
        let seen = self.fetches.load(Ordering::Acquire);
        let _turn = self.fetching.lock().await;
        if self.fetches.load(Ordering::Acquire) != seen {
            return;
        }
        let wait = match self.cache.read() {
            Ok(cache) if cache.keys.contains_key(kid) => return,
            Ok(cache) => cache.schedule.wait(Instant::now()),
            Err(_) => return,
        };
        tokio::time::sleep(wait).await;
        self.fetch_now().await;
    }

    /// Fetches when the cooldown allows it now; otherwise does nothing.
    pub async fn refresh(&self) {
        let _turn = self.fetching.lock().await;
        if self.cache.read().is_ok_and(|cache| cache.schedule.may_fetch(Instant::now())) {
            self.fetch_now().await;
        }
    }

    /// One fetch, recorded in the schedule: the caller holds `fetching`.
    async fn fetch_now(&self) {
        if let Ok(mut cache) = self.cache.write() {
            cache.schedule.started(Instant::now());
        }
        let fetched = self.fetch().await;
        if let Ok(mut cache) = self.cache.write() {
            match fetched {
                Ok((keys, max_age)) => {
                    tracing::debug!(url = %self.settings.jwks_url, keys = keys.len(), "fetched the external issuer's JWKS");
                    cache.keys = keys;
                    cache.schedule.succeeded(Instant::now(), max_age);
                }
                Err(reason) => {
                    tracing::warn!(url = %self.settings.jwks_url, %reason, "cannot fetch the external issuer's JWKS; keeping the keys held");
                    cache.schedule.failed();
                }
            }
        }
        self.fetches.fetch_add(1, Ordering::Release);
    }

    /// Fetches until the first success, waiting longer after each failure: an unreachable
    /// JWKS at start-up never stops todoql, and its first token need not wait for a fetch.
    /// Ends with the key set (it holds only a weak reference).
    pub async fn prefetch(set: Weak<Self>) {
        let mut delay = schedule::COOLDOWN;
        loop {
            let Some(strong) = set.upgrade() else { return };
            strong.refresh().await;
            let healthy = strong.cache.read().is_ok_and(|cache| !cache.schedule.is_unhealthy());
            if healthy {
                return;
            }
            drop(strong);
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(MAX_RETRY_DELAY);
        }
    }

    /// One GET of the JWKS: the usable keys by `kid`, and the `max-age` it was sent with.
    async fn fetch(&self) -> Result<(HashMap<String, Arc<VerifyingKey>>, Option<Duration>), String> {
        let mut response = self
            .http
            .get(&self.settings.jwks_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|value| value.to_str().ok())
            .and_then(schedule::max_age);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("reading the body failed: {e}"))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("the document is over {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let document: Document = serde_json::from_slice(&body).map_err(|e| format!("not a JWKS: {e}"))?;
        Ok((self.decode(document), max_age))
    }

    /// The keys todoql can use, each logged when it cannot.
    fn decode(&self, document: Document) -> HashMap<String, Arc<VerifyingKey>> {
        let mut keys = HashMap::new();
        for value in document.keys {
            let kid = value.get("kid").and_then(|k| k.as_str()).unwrap_or("").to_owned();
            let decoded = serde_json::from_value::<Jwk>(value)
                .map_err(|e| format!("it is not a JWK: {e}"))
                .and_then(|jwk| VerifyingKey::from_jwk(&jwk, &self.settings));
            match decoded {
                Ok(_) if kid.is_empty() => {
                    tracing::warn!("ignoring a JWKS key without `kid`: tokens name their key by kid")
                }
                Ok(key) => {
                    keys.insert(kid, Arc::new(key));
                }
                Err(reason) => tracing::warn!(%kid, %reason, "ignoring a JWKS key todoql cannot use"),
            }
        }
        if keys.is_empty() {
            tracing::error!(url = %self.settings.jwks_url, "the external issuer's JWKS has no key todoql can use: its tokens are rejected");
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use axum::Router;
    use axum::routing::get;

    use super::*;

    const JWKS: &str = r#"{"keys":[{"alg":"EdDSA","crv":"Ed25519","x":"YhTtmGxydmJ84aP0sX8-SoU7sLW4qPxMQBeRsMwEbc4","kty":"OKP","kid":"a"}]}"#;

    /// A JWKS endpoint on a free loopback port that counts its requests.
    async fn serve_jwks() -> (String, Arc<AtomicUsize>) {
        let served = Arc::new(AtomicUsize::new(0));
        let counter = served.clone();
        let app = Router::new().route(
            "/jwks",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { ([("cache-control", "max-age=3600")], JWKS) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/jwks", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, served)
    }

    fn key_set(jwks_url: String) -> Arc<KeySet> {
        let settings = Settings { jwks_url, issuer: "http://x".into(), audience: "http://x".into() };
        Arc::new(KeySet::new(settings).expect("client"))
    }

    #[tokio::test]
    async fn known_kids_cost_no_fetch_and_a_burst_of_unknown_ones_shares_one() {
        let (url, served) = serve_jwks().await;
        let set = key_set(url);
        assert!(set.key("a").await.is_ok(), "the first lookup fetches at once");
        for _ in 0..10 {
            assert!(set.key("a").await.is_ok());
        }
        assert_eq!(served.load(Ordering::SeqCst), 1);

        let started = Instant::now();
        let burst = (0..20).map(|i| {
            let set = set.clone();
            async move { set.key(&format!("random-{i}")).await.err() }
        });
        let outcomes = futures_util::future::join_all(burst).await;
        assert!(outcomes.iter().all(|o| *o == Some(Missing::Unknown)), "{outcomes:?}");
        assert_eq!(served.load(Ordering::SeqCst), 2, "20 unknown kids, one refetch");
        let waited = started.elapsed();
        assert!(
            waited >= schedule::COOLDOWN - Duration::from_millis(500),
            "the refetch waited for the cooldown: {waited:?}"
        );
        assert!(waited < schedule::COOLDOWN * 2, "no request waited twice: {waited:?}");
    }

    #[tokio::test]
    async fn an_unreachable_jwks_is_unavailable_not_unknown() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let set = key_set(format!("http://127.0.0.1:{port}/jwks"));
        assert!(matches!(set.key("a").await, Err(Missing::Unavailable(_))));
    }
}
