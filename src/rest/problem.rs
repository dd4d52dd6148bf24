//! How the REST routes refuse: FastAPI's conventions, decided here and only here from
//! todoql's one [`Error`]. Every refusal is `{"detail": …}`: a message, or for 422 the list
//! of what is wrong with which field, as FastAPI (pydantic) writes it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::{ToResponse, ToSchema};

use crate::error::Error;

/// Where an input was read, FastAPI's first `loc` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The JSON body.
    Body,
    /// The query string.
    Query,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Self::Body => "body",
            Self::Query => "query",
        }
    }
}

/// A refusal with a message.
#[derive(Serialize, ToSchema)]
pub struct Message {
    /// What went wrong, for people.
    pub detail: String,
}

/// A 422 refusal: everything wrong with the request's input.
#[derive(Serialize, ToSchema)]
pub struct Invalid {
    /// One entry per problem.
    pub detail: Vec<Issue>,
}

/// One problem with an input, as pydantic reports it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Issue {
    /// Where: `["body", "title"]`, `["query", "limit"]`, `["body"]` for the body as a whole, or
    /// `["body", 7]` (a byte offset) for JSON that does not parse.
    pub loc: Vec<Loc>,
    /// What is wrong, for people.
    pub msg: String,
    /// What is wrong, for programs: `missing`, `string_type`, `bool_type`, `int_parsing`,
    /// `enum`, `json_invalid`, `model_attributes_type` or `value_error` (a todoql input rule).
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// One step of an issue's location.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Loc {
    /// A source or field name.
    Name(String),
    /// A position.
    Index(u64),
}

impl Issue {
    /// A problem with the field `field` of `source`.
    pub fn field(source: Source, field: &str, kind: &'static str, msg: impl Into<String>) -> Self {
        let loc = vec![Loc::Name(source.name().to_owned()), Loc::Name(field.to_owned())];
        Self { loc, msg: msg.into(), kind }
    }

    /// A problem with `source` as a whole.
    pub fn whole(source: Source, kind: &'static str, msg: impl Into<String>) -> Self {
        Self { loc: vec![Loc::Name(source.name().to_owned())], msg: msg.into(), kind }
    }

    /// JSON that does not parse, `offset` bytes into the body.
    pub fn json(offset: u64, msg: impl Into<String>) -> Self {
        Self {
            loc: vec![Loc::Name(Source::Body.name().to_owned()), Loc::Index(offset)],
            msg: msg.into(),
            kind: "json_invalid",
        }
    }
}

// The responses below exist for the OpenAPI document: their bodies are written by
// `Problem`, from the same `Message` and `Invalid` types, never by building these.

/// The token is missing, unusable or expired, or its user no longer exists.
#[derive(ToResponse)]
#[expect(dead_code, reason = "documentation only")]
#[response(headers(("WWW-Authenticate" = String, description = "`Bearer error=\"invalid_token\"`")))]
pub struct Unauthorized(Message);

/// The token is valid, but its subject is not the `{user_id}` of the path; or it lacks the
/// route's scope (see the operation's `security`), and then the answer carries
/// `WWW-Authenticate: Bearer error="insufficient_scope", scope="todos:read"` (or `todos:write`).
// The header is in the description, not under `headers`: only one of the two refusals sends
// it, and a documented header is one every answer with this status carries (tests/openapi).
#[derive(ToResponse)]
#[expect(dead_code, reason = "documentation only")]
pub struct Forbidden(Message);

/// No task with this id belongs to the caller: it is missing, or it is someone else's (the two
/// are indistinguishable).
#[derive(ToResponse)]
#[expect(dead_code, reason = "documentation only")]
pub struct NotFound(Message);

/// The user's cost budget cannot pay for this request yet, or too many of their requests
/// wait already; retry after the seconds `Retry-After` gives.
#[derive(ToResponse)]
#[expect(dead_code, reason = "documentation only")]
#[response(headers(("Retry-After" = u64, description = "Seconds until the request can be paid for")))]
pub struct TooManyRequests(Message);

/// The body is not JSON, not an object, or a field breaks a rule; or a query parameter does.
#[derive(ToResponse)]
#[expect(dead_code, reason = "documentation only")]
pub struct Unprocessable(Invalid);

/// A refusal: a status code, its `detail` and the headers it calls for.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    detail: Detail,
    retry_after: Option<u64>,
    /// `WWW-Authenticate` of a refusal for scope (401s get theirs in `into_response`).
    challenge: Option<HeaderValue>,
}

#[derive(Debug)]
enum Detail {
    Message(String),
    Issues(Vec<Issue>),
}

impl Problem {
    fn message(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, detail: Detail::Message(message.into()), retry_after: None, challenge: None }
    }

    /// 401: no usable token. Answered with `WWW-Authenticate: Bearer error="invalid_token"`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::message(StatusCode::UNAUTHORIZED, message)
    }

    /// 404 for a path no route serves, worded as FastAPI words it.
    pub fn no_route() -> Self {
        Self::message(StatusCode::NOT_FOUND, "Not Found")
    }

    /// 503 for a request that ran past `REQUEST_TIMEOUT`.
    pub fn timed_out() -> Self {
        Self::message(StatusCode::SERVICE_UNAVAILABLE, "the request took too long and was stopped")
    }

    /// 422 with these issues.
    pub fn invalid(issues: Vec<Issue>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: Detail::Issues(issues),
            retry_after: None,
            challenge: None,
        }
    }

    /// `error`, whose `BAD_USER_INPUT` (if it is one) was read from `source`.
    pub fn from_input(error: Error, source: Source) -> Self {
        match error {
            Error::BadUserInput { field, message } => {
                Self::invalid(vec![Issue::field(source, field, "value_error", message)])
            }
            other => Self::from(other),
        }
    }
}

/// The one mapping of todoql's errors to REST answers. A `BAD_USER_INPUT` here came from the
/// body (the only input of the writes); the list's query uses [`Problem::from_input`].
impl From<Error> for Problem {
    fn from(error: Error) -> Self {
        use StatusCode as S;
        match error {
            Error::Unauthenticated(message) => Self::unauthorized(message),
            Error::Forbidden => Self::message(S::FORBIDDEN, Error::Forbidden.message()),
            // RFC 6750 §3.1: the scopes the route needs, in the challenge.
            Error::InsufficientScope(required) => Self {
                challenge: Some(crate::auth::scopes::insufficient_scope(required.first())),
                ..Self::message(S::FORBIDDEN, error.message())
            },
            error @ Error::SessionRequired => Self::message(S::FORBIDDEN, error.message()),
            error @ Error::AccessTokenLimitReached { .. } => Self::message(S::CONFLICT, error.message()),
            Error::NotFound => Self::message(S::NOT_FOUND, "no task with this id"),
            error @ Error::BadUserInput { .. } => Self::from_input(error, Source::Body),
            error @ Error::EmailTaken => Self::message(S::CONFLICT, error.message()),
            error @ (Error::InvalidCredentials | Error::InvalidRefreshToken) => Self::unauthorized(error.message()),
            Error::RateLimited { retry_after } | Error::BudgetSpent { retry_after } => {
                Self { retry_after: Some(retry_after), ..Self::message(S::TOO_MANY_REQUESTS, error.message()) }
            }
            Error::TooManyInFlight => {
                Self { retry_after: Some(1), ..Self::message(S::TOO_MANY_REQUESTS, error.message()) }
            }
            error @ Error::TodoLimitReached { .. } => Self::message(S::CONFLICT, error.message()),
            Error::ServiceUnavailable { retry_after } => {
                Self { retry_after, ..Self::message(S::SERVICE_UNAVAILABLE, error.message()) }
            }
            // The database's own errors are logged once, here, and shown only as their class.
            Error::Database(ref db) if error.code() == "SERVICE_UNAVAILABLE" => {
                tracing::warn!(error = %db, "database unavailable");
                Self { retry_after: Some(1), ..Self::message(S::SERVICE_UNAVAILABLE, error.message()) }
            }
            Error::StatementTimedOut => Self::stopped_for_time(&error),
            Error::Database(_) if error.code() == "TIMEOUT" => Self::stopped_for_time(&error),
            Error::Database(ref db) => {
                tracing::error!(error = %db, "database error");
                Self::message(S::INTERNAL_SERVER_ERROR, error.message())
            }
            Error::Internal(ref detail) => {
                tracing::error!(%detail, "internal error");
                Self::message(S::INTERNAL_SERVER_ERROR, error.message())
            }
        }
    }
}

impl Problem {
    /// 503 for a statement stopped for time (`TIMEOUT` in GraphQL), logged once.
    fn stopped_for_time(error: &Error) -> Self {
        tracing::warn!("a statement was stopped for time");
        Self { retry_after: Some(1), ..Self::message(StatusCode::SERVICE_UNAVAILABLE, error.message()) }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = match self.detail {
            Detail::Message(detail) => serde_json::to_vec(&Message { detail }),
            Detail::Issues(detail) => serde_json::to_vec(&Invalid { detail }),
        };
        let json = HeaderValue::from_static("application/json");
        let mut response = (self.status, [(header::CONTENT_TYPE, json)], body.unwrap_or_default()).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
        }
        if let Some(challenge) = self.challenge {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
