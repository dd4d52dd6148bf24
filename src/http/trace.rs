//! The request span: every log line of a request carries its id (the client's `X-Request-Id`
//! when it sends a sane one, else a fresh UUIDv7), method and path, and the response echoes
//! the id.
//!
//! A tower layer of its own rather than `axum::middleware::from_fn`: that one clones the
//! route it wraps, boxes it again and boxes its future for every request, a few allocations
//! more on the path of a refused token, where everything counts (`perf` of `scripts/load`'s
//! reject, issue 17). Here the route is called in place (axum's routes are always ready).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::response::Response;
use tracing::Instrument;

/// The layer of [`Traced`].
#[derive(Clone, Copy, Default)]
pub struct Trace;

impl<S> tower::Layer<S> for Trace {
    type Service = Traced<S>;

    fn layer(&self, inner: S) -> Traced<S> {
        Traced { inner }
    }
}

/// A service whose requests each run in their span.
#[derive(Clone)]
pub struct Traced<S> {
    inner: S,
}

impl<S> tower::Service<Request> for Traced<S>
where
    S: tower::Service<Request, Response = Response>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let id = request_id(&request);
        let span = tracing::info_span!(
            "request",
            id = %id.to_str().unwrap_or_default(),
            method = %request.method(),
            path = %request.uri().path(),
            operation = tracing::field::Empty,
            user_id = tracing::field::Empty,
        );
        let serving = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        let started = std::time::Instant::now();
        Box::pin(async move {
            let mut response = serving.instrument(span.clone()).await?;
            tracing::debug!(
                parent: &span,
                status = response.status().as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "served"
            );
            response.headers_mut().insert("x-request-id", id);
            Ok(response)
        })
    }
}

/// The client's `X-Request-Id` when it is 1–64 letters, digits, `-` or `_`; else a new one.
fn request_id(request: &Request) -> HeaderValue {
    let sent = request.headers().get("x-request-id").filter(|v| {
        let v = v.as_bytes();
        !v.is_empty() && v.len() <= 64 && v.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    match sent {
        Some(sent) => sent.clone(),
        None => {
            let mut buffer = uuid::Uuid::encode_buffer();
            let id = uuid::Uuid::now_v7().hyphenated().encode_lower(&mut buffer);
            HeaderValue::from_str(id).unwrap_or_else(|_| HeaderValue::from_static("-"))
        }
    }
}
