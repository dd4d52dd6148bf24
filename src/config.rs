//! Configuration: one `Config`, read once from flags and the environment (a flag wins).

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// The command line of the `todoql` binary.
#[derive(Debug, Parser)]
#[command(name = "todoql", version, about = "A GraphQL API server for multi-user todos")]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings for `serve` when no subcommand is given.
    #[command(flatten)]
    pub config: Config,
}

/// The subcommands of `todoql`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve GraphQL over HTTP (the default).
    Serve(Box<Config>),
    /// Apply pending migrations and exit.
    Migrate(DatabaseConfig),
    /// Print the GraphQL schema (SDL) and exit.
    Schema,
    /// Print the OpenAPI document of the REST routes and exit.
    Openapi,
}

/// Where the database lives.
#[derive(Clone, Args)]
pub struct DatabaseConfig {
    /// `sqlite://…` (embedded, the default) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://todoql.db?mode=rwc")]
    pub database_url: String,
}

/// Everything `serve` needs.
#[derive(Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:8000")]
    pub bind_addr: SocketAddr,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseConfig,
    /// HS256 signing key, at least 32 bytes. Random per process when neither it nor
    /// `BETTER_AUTH_SECRET` is set.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Read when `JWT_SECRET` is unset, so a Better Auth deployment can share its secret.
    #[arg(long, env = "BETTER_AUTH_SECRET", hide_env_values = true)]
    pub better_auth_secret: Option<String>,
    /// When set, issued access tokens carry this `iss` and incoming ones must match it.
    #[arg(long, env = "JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// When set, issued access tokens carry this `aud` and incoming ones must match it.
    #[arg(long, env = "JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// Access token lifetime, seconds.
    #[arg(long, env = "ACCESS_TOKEN_TTL", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    pub access_token_ttl: u64,
    /// Refresh token lifetime, seconds.
    #[arg(long, env = "REFRESH_TOKEN_TTL", default_value_t = 2_592_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub refresh_token_ttl: u64,
    /// Largest database connection pool (default: 8 on SQLite, 16 on PostgreSQL).
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS")]
    pub database_max_connections: Option<u32>,
    /// How long a request waits for a database connection before failing, seconds.
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT", default_value_t = 5)]
    pub database_acquire_timeout: u64,
    /// SQLite only: the hot statements (the token's user, pages of todos, todo writes) run
    /// inline on rusqlite connections for at most this many SQLite virtual-machine steps,
    /// without waiting for locks; one that would go over or wait moves to the pool. 0 sends
    /// every statement through the pool.
    #[arg(long, env = "SQLITE_INLINE_STEPS", default_value_t = 50_000)]
    pub sqlite_inline_steps: u64,
    /// PostgreSQL only: connections, beside the pool, on which the short reads (a page of
    /// todos, its `totalCount`, a personal access token's lookup, the user check) of every
    /// request are pipelined ([`crate::db::Direct`]; only
    /// over a plain-text connection: `sslmode=disable`, loopback or a Unix socket). Default:
    /// twice the cores; at most 64. 0 sends every statement through the pool.
    #[arg(long, env = "DATABASE_DIRECT_CONNECTIONS", value_parser = clap::value_parser!(u32).range(0..=64))]
    pub database_direct_connections: Option<u32>,
    /// The most todos one user may keep; `createTodo` beyond it is refused with
    /// `TODO_LIMIT_REACHED`. Bounds how long any scan of one user's todos can take.
    #[arg(long, env = "MAX_TODOS_PER_USER", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_todos_per_user: u64,
    /// Queries and mutations one signed-in user may have running at once on an instance;
    /// the next ones wait their turn (64 at most, then `RATE_LIMITED`).
    #[arg(long, env = "USER_MAX_IN_FLIGHT", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    pub user_max_in_flight: u64,
    /// Each signed-in user's cost budget: the most calculated cost (the complexity of their
    /// operations) they may spend at once; 0 turns the budget off.
    #[arg(long, env = "COST_BUDGET", default_value_t = 50_000)]
    pub cost_budget: u64,
    /// Cost that comes back to each user's budget per second.
    #[arg(long, env = "COST_RESTORE_RATE", default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub cost_restore_rate: u64,
    /// The most HTTP connections open at once (WebSockets, once upgraded, are bounded on their
    /// own); past it a new connection is answered 503 and closed. Never more than the process
    /// may open files for.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// The most HTTP connections one client address may hold open at once (IPv6: one /64);
    /// past it its new connections are answered 503 and closed, so one client holding
    /// connections half-open cannot take the server's memory or every place under
    /// `MAX_CONNECTIONS`. Not applied with `TRUST_PROXY` set: every connection then comes
    /// from a proxy, whose own limits stand in (nginx `limit_conn`). 0 turns it off.
    #[arg(long, env = "MAX_CONNECTIONS_PER_CLIENT", default_value_t = 512)]
    pub max_connections_per_client: usize,
    /// Seconds a request's headers may take to arrive once its first byte has: a client that
    /// sends half a request is cut off.
    #[arg(long, env = "HTTP_HEADER_TIMEOUT", default_value_t = 10.0, value_parser = positive_seconds)]
    pub http_header_timeout: f64,
    /// Seconds a connection may stay open between requests without a byte (keep-alive idle);
    /// keep it above a load balancer's idle timeout (60 s on AWS), so the balancer never sends
    /// a request on a connection the server is closing.
    #[arg(long, env = "HTTP_IDLE_TIMEOUT", default_value_t = 75.0, value_parser = positive_seconds)]
    pub http_idle_timeout: f64,
    /// How long in-flight requests may take to finish after SIGINT/SIGTERM, seconds.
    #[arg(long, env = "SHUTDOWN_GRACE", default_value_t = 30)]
    pub shutdown_grace: u64,
    /// Failed sign-ins allowed per email within `SIGN_IN_WINDOW`.
    #[arg(long, env = "SIGN_IN_MAX_FAILURES_PER_EMAIL", default_value_t = 5)]
    pub sign_in_max_failures_per_email: u32,
    /// Failed sign-ins allowed per client address within `SIGN_IN_WINDOW`.
    #[arg(long, env = "SIGN_IN_MAX_FAILURES_PER_CLIENT", default_value_t = 50)]
    pub sign_in_max_failures_per_client: u32,
    /// Sign-ups allowed per client address within `SIGN_IN_WINDOW`, whatever their outcome.
    #[arg(long, env = "SIGN_UP_MAX_PER_CLIENT", default_value_t = 20)]
    pub sign_up_max_per_client: u32,
    /// The sign-in rate-limit window, seconds.
    #[arg(long, env = "SIGN_IN_WINDOW", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    pub sign_in_window: u64,
    /// How many proxy hops of `X-Forwarded-For` to trust when finding the client address
    /// (0: use the socket peer).
    #[arg(long, env = "TRUST_PROXY", default_value_t = 0)]
    pub trust_proxy: usize,
    /// Serve introspection (`__schema`, `__type`) and "did you mean" suggestions. Turn off
    /// in production unless clients generate code against the live server.
    #[arg(long, env = "GRAPHQL_INTROSPECTION", default_value_t = true, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub graphql_introspection: bool,
    /// Largest request body, bytes; larger bodies get 413.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 1_048_576)]
    pub max_body_bytes: usize,
    /// Longest a GraphQL request may run, seconds.
    #[arg(long, env = "REQUEST_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout: u64,
    /// Longest one SQL statement may run, seconds (fractions allowed), and never longer than
    /// `REQUEST_TIMEOUT`: PostgreSQL's `statement_timeout`, and on SQLite a progress handler
    /// on every pooled connection. A statement stopped for time answers `TIMEOUT`.
    #[arg(long, env = "STATEMENT_TIMEOUT", default_value_t = 10.0, value_parser = positive_seconds)]
    pub statement_timeout: f64,
    /// Origins allowed to call the API from a browser (comma-separated); none by default.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub cors_allowed_origins: Vec<String>,
    /// Serve the GraphiQL playground at `/playground`.
    #[arg(long, env = "PLAYGROUND", default_value_t = true, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub playground: bool,
    /// A manifest of trusted documents — GraphQL Code Generator's `persisted-documents.json`
    /// or an `apollo-persisted-query-manifest` — parsed and validated against the schema at
    /// start (a document that does not validate stops the start); requests name them by
    /// `documentId` or persisted query hash and skip parsing and validation.
    #[arg(long, env = "TRUSTED_DOCUMENTS")]
    pub trusted_documents: Option<std::path::PathBuf>,
    /// Run only the documents of `TRUSTED_DOCUMENTS`, over HTTP and WebSocket: any other
    /// operation is refused, and the playground is off.
    #[arg(long, env = "TRUSTED_DOCUMENTS_ONLY", default_value_t = false, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub trusted_documents_only: bool,
    /// Most open subscription sockets per user.
    #[arg(long, env = "WS_MAX_CONNECTIONS_PER_USER", default_value_t = 16)]
    pub ws_max_connections_per_user: usize,
    /// Most WebSockets one client address may hold without a user: sockets not yet
    /// initialised and those initialised without a token (set `TRUST_PROXY` behind a proxy,
    /// or every client shares the proxy's address).
    #[arg(long, env = "WS_MAX_ANONYMOUS_PER_CLIENT", default_value_t = 32)]
    pub ws_max_anonymous_per_client: usize,
    /// Seconds a WebSocket initialised without a token may stay silent before it is closed.
    #[arg(long, env = "WS_ANONYMOUS_IDLE_TIMEOUT", default_value_t = 60)]
    pub ws_anonymous_idle_timeout: u64,
    /// Most subscriptions running at once on one WebSocket; one more is refused with an
    /// `error` (`TOO_MANY_SUBSCRIPTIONS`). With `WS_MAX_CONNECTIONS_PER_USER`, it bounds how
    /// many streams one write wakes.
    #[arg(long, env = "WS_MAX_SUBSCRIPTIONS_PER_SOCKET", default_value_t = 16)]
    pub ws_max_subscriptions_per_socket: usize,
    /// The base URL of a Better Auth server (its `baseURL`, e.g. `https://app.example.com`):
    /// accepts the tokens its `jwt` plugin issues beside todoql's own. Alone it implies the
    /// JWKS at `{url}/api/auth/jwks` and `iss` = `aud` = the URL's origin.
    #[arg(long, env = "BETTER_AUTH_URL", value_parser = crate::auth::external::parse_url)]
    pub better_auth_url: Option<String>,
    /// Where the external issuer publishes its keys, overriding the one `BETTER_AUTH_URL`
    /// implies. Set alone, it accepts tokens whose `iss` is this URL's origin.
    #[arg(long, env = "AUTH_JWKS_URL", value_parser = crate::auth::external::parse_url)]
    pub auth_jwks_url: Option<String>,
    /// The `iss` external tokens must carry (default: the origin of `BETTER_AUTH_URL`, else
    /// of `AUTH_JWKS_URL`). It is also what routes a token to the external keys.
    #[arg(long, env = "AUTH_JWT_ISSUER")]
    pub auth_jwt_issuer: Option<String>,
    /// The `aud` external tokens must carry (default: the origin of `BETTER_AUTH_URL`, else
    /// the issuer).
    #[arg(long, env = "AUTH_JWT_AUDIENCE")]
    pub auth_jwt_audience: Option<String>,
}

impl Config {
    /// The configured signing secret: `JWT_SECRET`, else `BETTER_AUTH_SECRET`.
    pub fn secret(&self) -> Option<&str> {
        self.jwt_secret.as_deref().or(self.better_auth_secret.as_deref())
    }

    /// Access token lifetime.
    pub fn access_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl)
    }

    /// Refresh token lifetime.
    pub fn refresh_ttl(&self) -> Duration {
        Duration::from_secs(self.refresh_token_ttl)
    }

    /// How long one statement may run: `STATEMENT_TIMEOUT`, at most `REQUEST_TIMEOUT`.
    pub fn statement_limit(&self) -> Duration {
        Duration::from_secs_f64(self.statement_timeout).min(Duration::from_secs(self.request_timeout))
    }

    /// A configuration with every default, for a database URL: what tests and benches start from.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        let mut config = Cli::parse_from(["todoql"]).config;
        config.database.database_url = database_url.into();
        config
    }
}

/// A positive, finite number of seconds (at least a millisecond).
fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if (0.001..=86_400.0).contains(&seconds) => Ok(seconds),
        _ => Err(format!("expected seconds between 0.001 and 86400, got {text:?}")),
    }
}

/// Secrets never reach logs through `Debug`.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind_addr", &self.bind_addr)
            .field("database", &self.database)
            .field("jwt_secret", &self.secret().map(|_| "<redacted>"))
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .finish_non_exhaustive()
    }
}

/// A PostgreSQL password in the URL never reaches logs through `Debug`.
impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = &self.database_url;
        let shown = match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => format!("{}://<redacted>{}", &url[..scheme], &url[at..]),
            _ => url.clone(),
        };
        f.debug_struct("DatabaseConfig").field("database_url", &shown).finish()
    }
}
