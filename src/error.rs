//! The one error type of todoql, with a stable GraphQL `extensions.code` per variant.

use async_graphql::ErrorExtensions;

/// `Result` with todoql's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The message of an error that could not reach the database.
pub const DATABASE_UNAVAILABLE: &str = "the database is unavailable; retry later";

/// Everything a request can fail with. Internal variants are logged and shown as a generic
/// message; the others are the client's to read.
///
/// It deliberately does not implement `Display`: async-graphql converts any `Display` error
/// into a GraphQL error by its text, which would drop the code and could leak internals.
/// The only conversion is [`From<Error> for async_graphql::Error`], which sets the code.
#[derive(Debug)]
pub enum Error {
    /// A field needs a signed-in user and there is none.
    Unauthenticated(&'static str),
    /// The user is signed in, but this is not theirs to see or do.
    Forbidden,
    /// The token lacks the scopes this field requires (`FORBIDDEN` with
    /// `extensions.requiredScopes`).
    InsufficientScope(crate::auth::scopes::Requirement),
    /// Only a session may do this, not a personal access token (`FORBIDDEN`).
    SessionRequired,
    /// The user has as many personal access tokens as anyone may; `limit` is that number.
    AccessTokenLimitReached {
        /// The most personal access tokens one user may have.
        limit: u64,
    },
    /// An update, toggle or delete of an id that is missing or someone else's.
    NotFound,
    /// An input breaks a rule; `field` is the input field as the schema spells it.
    BadUserInput {
        /// The input field at fault, as the schema spells it.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// signUp with an email that already has an account.
    EmailTaken,
    /// signIn with a wrong password or an unknown email.
    InvalidCredentials,
    /// An unknown, expired, revoked or reused refresh token.
    InvalidRefreshToken,
    /// The user keeps as many todos as anyone may; `limit` is that number.
    TodoLimitReached {
        /// The most todos one user may keep.
        limit: u64,
    },
    /// Too many failed attempts; try again after `retry_after` seconds.
    RateLimited {
        /// Seconds until an attempt may succeed.
        retry_after: u64,
    },
    /// The user's cost budget cannot pay for this operation yet (`RATE_LIMITED`).
    BudgetSpent {
        /// Seconds until it can.
        retry_after: u64,
    },
    /// The user has as many requests waiting as may wait (`RATE_LIMITED`).
    TooManyInFlight,
    /// The database cannot be reached or the server is saturated.
    ServiceUnavailable {
        /// Seconds to wait before retrying, when known.
        retry_after: Option<u64>,
    },
    /// A database failure that is not the client's fault.
    Database(sea_orm::DbErr),
    /// A statement on a direct PostgreSQL connection ([`crate::db::Direct`]) stopped by
    /// `statement_timeout` (`TIMEOUT`, as the same statement stopped on the pool).
    StatementTimedOut,
    /// Anything else that went wrong inside the server.
    Internal(String),
}

impl From<sea_orm::DbErr> for Error {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Database(error)
    }
}

impl Error {
    /// What the client is told.
    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated(message) => (*message).to_owned(),
            Self::Forbidden => "this is not yours to see or change".to_owned(),
            Self::InsufficientScope(required) => {
                format!("this token lacks the scopes this needs: {}", crate::auth::scopes::describe(*required))
            }
            Self::SessionRequired => "only a session from signIn may do this, not a personal access token".to_owned(),
            Self::AccessTokenLimitReached { limit } => {
                format!("you have {limit} personal access tokens, the most anyone may keep; revoke some first")
            }
            Self::NotFound => "no todo with this id".to_owned(),
            Self::BadUserInput { message, .. } => message.clone(),
            Self::EmailTaken => "an account with this email already exists".to_owned(),
            Self::InvalidCredentials => "the email or password is wrong".to_owned(),
            Self::InvalidRefreshToken => "the refresh token is invalid, expired or revoked; sign in again".to_owned(),
            Self::TodoLimitReached { limit } => {
                format!("you have {limit} todos, the most anyone may keep; delete some first")
            }
            Self::RateLimited { retry_after } => {
                format!("too many attempts; try again in {retry_after} seconds")
            }
            Self::BudgetSpent { retry_after } => {
                format!("this operation costs more than is left of your budget; retry in {retry_after} seconds")
            }
            Self::TooManyInFlight => "too many of your requests are waiting; slow down".to_owned(),
            Self::ServiceUnavailable { .. } => "the service is temporarily unavailable; retry later".to_owned(),
            Self::Database(error) if is_unavailable(error) => DATABASE_UNAVAILABLE.to_owned(),
            Self::StatementTimedOut => TIMED_OUT.to_owned(),
            Self::Database(error) if is_timeout(error) => TIMED_OUT.to_owned(),
            Self::Database(_) | Self::Internal(_) => "internal error".to_owned(),
        }
    }

    /// A `BAD_USER_INPUT` error about one input field.
    pub fn bad_input(field: &'static str, message: impl Into<String>) -> Self {
        Self::BadUserInput { field, message: message.into() }
    }

    /// Refuses text that holds U+0000 (NUL) as bad input: PostgreSQL's text cannot store it, so
    /// no database takes it, and every other character is stored as sent.
    pub fn refuse_nul(field: &'static str, text: &str) -> Result<()> {
        if text.contains('\0') {
            return Err(Self::bad_input(field, format!("{field} must not contain U+0000 (NUL)")));
        }
        Ok(())
    }

    /// Whether this is the database being out of reach (not a bug, not load on one statement).
    pub fn is_database_unavailable(&self) -> bool {
        matches!(self, Self::Database(error) if is_unavailable(error))
    }

    /// The stable `extensions.code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden | Self::InsufficientScope(_) | Self::SessionRequired => "FORBIDDEN",
            Self::AccessTokenLimitReached { .. } => "ACCESS_TOKEN_LIMIT_REACHED",
            Self::NotFound => "NOT_FOUND",
            Self::BadUserInput { .. } => "BAD_USER_INPUT",
            Self::EmailTaken => "EMAIL_TAKEN",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::InvalidRefreshToken => "INVALID_REFRESH_TOKEN",
            Self::TodoLimitReached { .. } => "TODO_LIMIT_REACHED",
            Self::RateLimited { .. } | Self::BudgetSpent { .. } | Self::TooManyInFlight => "RATE_LIMITED",
            Self::ServiceUnavailable { .. } => "SERVICE_UNAVAILABLE",
            Self::Database(error) if is_unavailable(error) => "SERVICE_UNAVAILABLE",
            Self::StatementTimedOut => "TIMEOUT",
            Self::Database(error) if is_timeout(error) => "TIMEOUT",
            Self::Database(_) | Self::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }
}

/// What the client is told about a statement stopped for time.
const TIMED_OUT: &str =
    "a statement took too long and was stopped; narrow the request (a shorter search, a smaller page)";

/// Whether a database error means "cannot reach the database" rather than a bug.
fn is_unavailable(error: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            matches!(
                e.as_ref(),
                sea_orm::sqlx::Error::Io(_)
                    | sea_orm::sqlx::Error::PoolTimedOut
                    | sea_orm::sqlx::Error::PoolClosed
                    | sea_orm::sqlx::Error::WorkerCrashed
            )
        }
        _ => false,
    }
}

/// Whether a database error is a statement stopped for time: interrupted by the SQLite
/// progress handler (`SQLITE_INTERRUPT`, 9) or cancelled by PostgreSQL's `statement_timeout`
/// (`query_canceled`, 57014).
fn is_timeout(error: &sea_orm::DbErr) -> bool {
    sql_state(error).is_some_and(|code| code == "9" || code == "57014")
}

/// The database's own code for a failed statement: PostgreSQL's SQLSTATE, SQLite's result code.
pub(crate) fn sql_state(error: &sea_orm::DbErr) -> Option<String> {
    use sea_orm::{DbErr, RuntimeErr};
    match error {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            e.as_database_error().and_then(|e| e.code()).map(|code| code.into_owned())
        }
        _ => None,
    }
}

impl ErrorExtensions for Error {
    fn extend(&self) -> async_graphql::Error {
        match self {
            Self::Database(error) if is_unavailable(error) => tracing::warn!(%error, "database unavailable"),
            Self::StatementTimedOut => tracing::warn!("a statement was stopped for time"),
            Self::Database(error) if is_timeout(error) => tracing::warn!("a statement was stopped for time"),
            Self::Database(error) => tracing::error!(%error, "database error"),
            Self::Internal(detail) => tracing::error!(%detail, "internal error"),
            _ => {}
        }
        async_graphql::Error::new(self.message()).extend_with(|_, ext| {
            ext.set("code", self.code());
            match self {
                Self::BadUserInput { field, .. } => ext.set("field", *field),
                Self::RateLimited { retry_after } | Self::BudgetSpent { retry_after } => {
                    ext.set("retryAfter", *retry_after)
                }
                Self::TooManyInFlight => ext.set("retryAfter", 1),
                Self::TodoLimitReached { limit } | Self::AccessTokenLimitReached { limit } => ext.set("limit", *limit),
                Self::InsufficientScope(required) => ext.set(crate::auth::scopes::REQUIRED_SCOPES, required.to_value()),
                Self::ServiceUnavailable { retry_after: Some(secs) } => ext.set("retryAfter", *secs),
                Self::Database(error) if is_unavailable(error) => ext.set("retryAfter", 1),
                _ => {}
            }
        })
    }
}

impl From<Error> for async_graphql::Error {
    fn from(error: Error) -> Self {
        error.extend()
    }
}
