//! Building the whole application and serving it until a shutdown signal.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use crate::auth::{
    passwords,
    tokens::{ShortSecret, TokenKeys},
};
use crate::config::Config;
use crate::db::{self, OpenError};
use crate::http::{self, App};
use crate::state::State;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The signing key is unusable.
    #[error(transparent)]
    Secret(#[from] ShortSecret),
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Database(#[from] OpenError),
    /// The trusted documents cannot be served.
    #[error(transparent)]
    Trusted(#[from] crate::graphql::TrustedError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Opens the database, applies pending migrations and builds the router.
pub async fn build(config: Config) -> Result<Served, StartError> {
    let state = open(config).await?;
    let schemas = crate::graphql::build(state.clone());
    spawn_sweeper(state.clone());
    // Hash once now so the first sign-in's timing is like every other's.
    tokio::task::spawn_blocking(passwords::warm_up);
    let (going_away, leaving) = tokio::sync::watch::channel(false);
    let limits = http::server::Limits {
        max_connections: connection_cap(state.config.max_connections),
        // Behind a proxy every peer is the proxy.
        max_per_client: match (state.config.trust_proxy, state.config.max_connections_per_client) {
            (0, 0) | (1.., _) => usize::MAX,
            (0, limit) => limit,
        },
        header_timeout: Duration::from_secs_f64(state.config.http_header_timeout),
        idle_timeout: Duration::from_secs_f64(state.config.http_idle_timeout),
    };
    let sockets = std::sync::Arc::new(http::Sockets::default());
    let app = App::new(http::AppParts { schemas, state, sockets: sockets.clone(), going_away: leaving });
    Ok(Served { router: http::router(app), limits, going_away, sockets })
}

/// The application, ready to serve: the router and what the accept loop needs.
pub struct Served {
    /// Every route.
    pub router: Router,
    limits: http::server::Limits,
    /// Tells open WebSockets the server is going away.
    going_away: tokio::sync::watch::Sender<bool>,
    /// The open WebSockets, whose close frames a shutdown waits for.
    sockets: std::sync::Arc<http::Sockets>,
}

/// The most connections to keep open: `MAX_CONNECTIONS`, within what the process may open.
/// The soft limit on open files is raised to the hard one first (it is often 1,024, below what
/// a server needs); a margin stays for the database, the log and the WebSockets' own.
fn connection_cap(configured: usize) -> usize {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
        let files = unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
                if limit.rlim_cur < limit.rlim_max {
                    let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                        limit = raised;
                    }
                }
                usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
            } else {
                usize::MAX
            }
        };
        let usable = files.saturating_sub(files / 10).saturating_sub(64).max(16);
        if configured > usable {
            tracing::warn!(configured, usable, "MAX_CONNECTIONS is above what this process may open; using less");
        }
        configured.min(usable)
    }
    #[cfg(not(unix))]
    configured
}

/// Opens the database, applies pending migrations and starts the event stream: the state
/// the schema serves with.
pub async fn open(config: Config) -> Result<State, StartError> {
    let keys = TokenKeys::from_config(&config)?;
    let persisted = crate::graphql::Persisted::from_config(&config).await?;
    // Migrations run here, explicitly, where serving begins: never as a side effect.
    db::migrate(&config).await?;
    let (db, statements) = db::connect(&config).await?;
    let events = crate::events::Events::start(&db);
    let pats = crate::auth::pats::Pats::start(&db);
    let inline = |kind| {
        let url = &config.database.database_url;
        db::Inline::new(url, kind, config.sqlite_inline_steps, statements.clone()).map(Arc::new)
    };
    let (reader, writer) = (inline(db::Kind::Read), inline(db::Kind::Write));
    let url = &config.database.database_url;
    let direct =
        db::Direct::open(url, config.database_direct_connections, config.statement_limit(), statements.clone()).await;
    let in_flight = crate::auth::in_flight::InFlight::new(usize::try_from(config.user_max_in_flight).unwrap_or(1));
    let budget = Arc::new(crate::auth::budget::CostBudget::new(config.cost_budget, config.cost_restore_rate));
    let outage = db::Outage::new(&config.database.database_url);
    Ok(State {
        outage,
        db,
        reader,
        direct,
        writer,
        writes: Default::default(),
        keys: Arc::new(keys),
        external: crate::auth::external::ExternalIssuer::from_config(&config),
        config: Arc::new(config),
        statements,
        events,
        metrics: Default::default(),
        documents: Arc::new(crate::graphql::DocumentCache::default().with_persisted(persisted)),
        in_flight,
        scans: crate::auth::in_flight::InFlight::new(1),
        known_users: Arc::default(),
        spent: Arc::default(),
        budget,
        pats,
    })
}

/// Every ten minutes, deletes rate-limit counters whose window has passed, refresh tokens
/// that can no longer be used and shared cost levels that have leaked out; every second, shares this instance's cost spending.
fn spawn_sweeper(state: State) {
    let sharing = state.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(crate::auth::budget::SYNC_EVERY);
        loop {
            every.tick().await;
            sharing.budget.forget_idle();
            if let Err(error) = sharing.budget.share(&sharing.db).await {
                tracing::warn!(code = error.code(), "could not share cost budgets");
            }
        }
    });
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(600));
        loop {
            every.tick().await;
            if let Err(error) = crate::auth::throttle::sweep(&state.db, &state.config).await {
                tracing::warn!(code = error.code(), "could not sweep expired rate limits");
            }
            if let Err(error) = crate::auth::refresh::sweep(&state.db).await {
                tracing::warn!(code = error.code(), "could not sweep refresh tokens");
            }
            let (capacity, rate) = (state.config.cost_budget, state.config.cost_restore_rate);
            if let Err(error) = crate::auth::budget::sweep(&state.db, capacity, rate).await {
                tracing::warn!(code = error.code(), "could not sweep cost budgets");
            }
        }
    });
}

/// Binds the configured address.
pub async fn bind(config: &Config) -> Result<TcpListener, StartError> {
    let addr = config.bind_addr;
    TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })
}

/// Serves until `shutdown` resolves, then tells WebSockets to go away and lets in-flight
/// requests finish for up to `grace`.
pub async fn serve(
    listener: TcpListener,
    served: Served,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let signalled = async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = stopping_tx.send(());
    };
    let leaving = http::server::Leaving { going_away: served.going_away, sockets: served.sockets };
    let server = http::server::serve(listener, served.router, served.limits, signalled, leaving);
    let deadline = async move {
        if stopping_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = server => Ok(()),
        () = deadline => {
            tracing::warn!("in-flight requests did not finish within the grace period");
            Ok(())
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
