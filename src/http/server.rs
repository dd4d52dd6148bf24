//! Serving connections (issue 13): the accept loop, with a cap on open connections and
//! deadlines for the parts of a connection's life that a client controls.
//!
//! - A connection is **idle** between requests (and before its first): it is closed after
//!   [`Limits::idle_timeout`] without a byte (keep-alive idle; set it above a load balancer's
//!   own idle timeout, or the balancer may reuse a connection the server is closing).
//! - Once a request's first byte arrives, its headers must be complete within
//!   [`Limits::header_timeout`] — a client sending half a request (slowloris) is cut off.
//! - While a request is being served, the router's own time limits apply (the request
//!   timeout, which also bounds reading the body).
//! - Past [`Limits::max_connections`] open connections, or [`Limits::max_per_client`] from
//!   one client address, a new one is answered `503` with `Retry-After` and closed, or (past a
//!   few hundred such answers at once) closed outright.
//!
//! On shutdown the listener stops accepting, WebSockets are told to go away (1001), every
//! connection finishes the request it is serving, and idle ones close.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

/// How many over-the-cap connections may be getting their `503` at once; past it they are
/// closed unanswered.
const MAX_REFUSALS: usize = 256;
/// How long an over-the-cap connection has to send its request before it is closed.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(2);

/// The connection limits, from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The most connections open at once.
    pub max_connections: usize,
    /// The most connections open at once from one client address ([`Clients`]).
    pub max_per_client: usize,
    /// How long a request's headers may take once its first byte has arrived.
    pub header_timeout: Duration,
    /// How long a connection may stay open without a byte between requests.
    pub idle_timeout: Duration,
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves; then tells
/// WebSockets to go away (`going_away`) and waits for the open connections to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
    leaving: Leaving,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let clients = Arc::new(Clients::new(limits.max_per_client));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    // Connections hold a receiver; shutdown drops the sender, and waits until they are gone.
    let (closing, closed) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a moment rather than spin.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let admitted = clients.enter(peer.ip()).and_then(|place| Some((place, open.clone().try_acquire_owned().ok()?)));
        match admitted {
            Some(permit) => {
                let (router, closed) = (router.clone(), closed.clone());
                tokio::spawn(async move {
                    connection(stream, peer, router, limits, closed).await;
                    drop(permit);
                });
            }
            None => match refusals.clone().try_acquire_owned() {
                Ok(permit) => {
                    tokio::spawn(async move {
                        refuse(stream).await;
                        drop(permit);
                    });
                }
                Err(_) => drop(stream),
            },
        }
    }
    drop(listener);
    leaving.going_away.send_replace(true);
    drop(closed);
    closing.send_replace(());
    // Upgraded connections have left hyper: their tasks send the close frames.
    tokio::join!(closing.closed(), leaving.sockets.all_closed());
}

/// Open connections per client address, for [`Limits::max_per_client`]. An IPv6 client is
/// its /64: one host is given that many addresses.
struct Clients {
    limit: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection of a client; its place is given back on drop.
struct ClientPlace {
    clients: Arc<Clients>,
    client: Option<IpAddr>,
}

impl Clients {
    fn new(limit: usize) -> Self {
        Self { limit, open: Mutex::default() }
    }

    /// A place for one more connection from `ip`, unless it holds its limit.
    fn enter(self: &Arc<Self>, ip: IpAddr) -> Option<ClientPlace> {
        if self.limit == usize::MAX {
            return Some(ClientPlace { clients: self.clone(), client: None });
        }
        let client = match ip.to_canonical() {
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
            v4 => v4,
        };
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(client).or_default();
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(ClientPlace { clients: self.clone(), client: Some(client) })
    }
}

impl Drop for ClientPlace {
    fn drop(&mut self) {
        let Some(client) = self.client else { return };
        let mut open = self.clients.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&client) {
            *count -= 1;
            if *count == 0 {
                open.remove(&client);
            }
        }
    }
}

/// How the server tells its WebSockets it is leaving, and sees that they have.
pub struct Leaving {
    /// Becomes `true` on shutdown: each socket sends 1001 (going away) and ends.
    pub going_away: watch::Sender<bool>,
    /// The sockets still running.
    pub sockets: Arc<super::ws::Sockets>,
}

/// Serves one connection until it ends, breaks a deadline, or the server shuts down.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    mut closing: watch::Receiver<()>,
) {
    let activity = Arc::new(Activity::default());
    // One timer for the connection's life, moved rather than made anew: a request changes the
    // connection's phase without waking this task (`Activity::next_check`).
    let Some(first) = activity.next_check(&limits) else { return };
    let mut check = pin!(tokio::time::sleep_until(first));
    // Until its first request's head has arrived, a connection holds only the bytes it sent:
    // hyper would give it 16 KiB of buffers at once (issue 13: 2,000 half-sent requests).
    let arrived = {
        let mut arriving = pin!(first_head(&stream, &activity));
        loop {
            tokio::select! {
                arrived = arriving.as_mut() => break arrived,
                () = check.as_mut() => match activity.next_check(&limits) {
                    Some(next) => check.as_mut().reset(next),
                    None => return,
                },
                // No request in flight: shutting down closes it.
                _ = closing.changed() => return,
            }
        }
    };
    let Some(head) = arrived else { return };
    let io = TokioIo::new(Watched { inner: stream, head, read: 0, activity: activity.clone() });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let served = Served::begin(activity.clone());
            let router = router.clone();
            async move {
                let response = router.oneshot(request.map(Body::new)).await;
                drop(served);
                response
            }
        })
    };
    let mut builder = Builder::new(TokioExecutor::new());
    // Deadlines are kept here (`Activity`), not by hyper's header timer, which would also cut
    // idle keep-alive connections at the header deadline.
    builder.http1().timer(TokioTimer::new()).header_read_timeout(None);
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(64).enable_connect_protocol();
    // Boxed: the connection's task stays small while it waits for its first request's head.
    let mut conn = Box::pin(builder.serve_connection_with_upgrades(io, service));
    let mut shutting_down = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            // Dropping the connection closes it.
            () = check.as_mut() => match activity.next_check(&limits) {
                Some(next) => check.as_mut().reset(next),
                None => return,
            },
            _ = closing.changed(), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// The most bytes read ahead of hyper while a first request's head arrives; a longer head is
/// hyper's to refuse (`431`).
const HEAD_READ_AHEAD: usize = 16 * 1024;

/// Reads a connection's first bytes until they hold a complete request head (the blank line
/// after the headers, or HTTP/2's preface), or [`HEAD_READ_AHEAD`] bytes, and returns them;
/// `None` when the client closes or the connection fails first. Only the end of the head is
/// looked for: hyper parses it. Leading blank lines, which a request may carry, do not end it.
async fn first_head(stream: &TcpStream, activity: &Activity) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    loop {
        stream.readable().await.ok()?;
        let mut chunk = [0u8; 1024];
        match stream.try_read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => {
                let searched = head.len();
                head.extend_from_slice(&chunk[..n]);
                activity.read();
                if head_complete(&head, searched) || head.len() >= HEAD_READ_AHEAD {
                    return Some(head);
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return None,
        }
    }
}

/// Whether `head` holds a blank line after its first non-blank one: `\n\n` or `\n\r\n`
/// (hyper takes bare `\n` line ends too). Only the bytes from `from` on, and the two before
/// them, are new.
fn head_complete(head: &[u8], from: usize) -> bool {
    let Some(start) = head.iter().position(|b| !matches!(b, b'\r' | b'\n')) else { return false };
    let rest = &head[start.max(from.saturating_sub(2))..];
    rest.windows(2).any(|w| w == b"\n\n") || rest.windows(3).any(|w| w == b"\n\r\n")
}

/// Answers one request on an over-the-cap connection with `503` and closes it.
async fn refuse(stream: TcpStream) {
    let service = hyper::service::service_fn(|_: Request<Incoming>| async {
        let mut response = Response::new(Body::from("todoql is at its connection limit; retry shortly\n"));
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        let headers = response.headers_mut();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        Ok::<_, Infallible>(response)
    });
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1.timer(TokioTimer::new()).header_read_timeout(REFUSAL_TIMEOUT).keep_alive(false);
    let conn = http1.serve_connection(TokioIo::new(stream), service);
    let _ = tokio::time::timeout(REFUSAL_TIMEOUT * 2, conn).await;
}

/// Where a connection is in its life, for its deadlines.
///
/// A change of phase wakes no one: the connection's task looks at its phase when its timer
/// fires, at the phase's deadline or sooner ([`Activity::next_check`]). Waking it at every
/// change (three a request) cost every request three polls of the connection and two timers
/// made and dropped (`perf` of `scripts/load`, issue 17).
#[derive(Default)]
struct Activity {
    phase: Mutex<Phase>,
}

#[derive(Clone, Copy)]
enum Phase {
    /// Between requests since then, without a byte.
    Idle(Instant),
    /// A request's first byte arrived then; its headers have not yet.
    Arriving(Instant),
    /// This many requests are being served.
    Busy(usize),
}

impl Default for Phase {
    fn default() -> Self {
        Self::Idle(Instant::now())
    }
}

impl Activity {
    /// When the connection's task should look again, or `None` when its deadline has passed.
    ///
    /// Never later than any deadline the connection can come to meanwhile: the current phase's
    /// own, and, since a phase that begins now ends no sooner than the shorter of the two
    /// timeouts from now, that. A check that comes early finds no deadline passed and sets
    /// the next one: an idle connection's task wakes once per `HTTP_HEADER_TIMEOUT`.
    fn next_check(&self, limits: &Limits) -> Option<Instant> {
        let now = Instant::now();
        let deadline = match *self.phase.lock().unwrap_or_else(PoisonError::into_inner) {
            Phase::Idle(since) => Some(since + limits.idle_timeout),
            Phase::Arriving(since) => Some(since + limits.header_timeout),
            Phase::Busy(_) => None,
        };
        let soonest_next = now + limits.header_timeout.min(limits.idle_timeout);
        match deadline {
            Some(deadline) if deadline <= now => None,
            Some(deadline) => Some(deadline.min(soonest_next)),
            None => Some(soonest_next),
        }
    }

    fn update(&self, change: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        *phase = change(*phase);
    }

    /// Bytes arrived: between requests, a request has begun to arrive.
    fn read(&self) {
        self.update(|phase| match phase {
            Phase::Idle(_) => Phase::Arriving(Instant::now()),
            other => other,
        });
    }
}

/// A request being served: the connection is busy until it is dropped.
struct Served(Arc<Activity>);

impl Served {
    fn begin(activity: Arc<Activity>) -> Self {
        activity.update(|phase| match phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            _ => Phase::Busy(1),
        });
        Self(activity)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.0.update(|phase| match phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle(Instant::now()),
        });
    }
}

/// A connection's stream, telling its [`Activity`] when bytes arrive, and first giving back
/// the bytes [`first_head`] read ahead.
struct Watched {
    inner: TcpStream,
    head: Vec<u8>,
    /// How many of `head`'s bytes were read.
    read: usize,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        if self.read < self.head.len() {
            let n = buf.remaining().min(self.head.len() - self.read);
            buf.put_slice(&self.head[self.read..self.read + n]);
            self.read += n;
            if self.read == self.head.len() {
                self.head = Vec::new();
                self.read = 0;
            }
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::head_complete;

    #[test]
    fn a_head_is_complete_at_its_blank_line_whatever_the_line_ends() {
        assert!(head_complete(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n", 0));
        assert!(head_complete(b"GET / HTTP/1.1\nhost: a\n\n", 0));
        assert!(head_complete(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0), "HTTP/2's preface");
        assert!(!head_complete(b"GET / HTTP/1.1\r\nhost: a\r\n", 0));
        assert!(!head_complete(b"GET / HTTP/1.1\r\nhost: a\r\n\r", 0));
        // Blank lines before the request line do not end it.
        assert!(!head_complete(b"\r\n\r\n\n\nGET / HTTP/1.1\r\n", 0));
        assert!(head_complete(b"\r\n\r\nGET / HTTP/1.1\r\n\r\n", 0));
        // Only what arrived since `from` (and the two bytes before it) is searched anew.
        assert!(head_complete(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n", 26));
    }
}
