//! GraphQL over HTTP: `POST /graphql` and `GET /graphql`, with the status codes and media
//! types of the GraphQL over HTTP specification.

use async_graphql::Positioned;
use async_graphql::parser::types::{OperationDefinition, OperationType};
use async_graphql::{Request, Response as GqlResponse};
use axum::body::Bytes;
use futures_util::FutureExt;
use std::net::SocketAddr;
use tracing::Instrument;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::App;
use super::caching::private;
use super::media::{self, Media};
use super::params;
use crate::auth::bearer::{self, Credential};
use crate::auth::{AuthenticatedUser, SignedInHere, Viewer};
use crate::auth::{scopes, throttle};
use crate::error::Error;
use crate::loaders::Loaders;
use crate::users::store as users;

/// `POST /graphql`.
///
/// The request is taken whole and its headers moved out (axum's `HeaderMap` extractor clones
/// them: a tenth of a refused request's allocations), and every answer, a body refused by the
/// size limit included, is marked private here ([`super::caching::private`]) rather than by a
/// layer, which clones the route and boxes its future for every request.
pub async fn post(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let headers = std::mem::take(&mut parts.headers);
    // The body within `MAX_BODY_BYTES` (the limit travels in the request's extensions).
    let body = match <Bytes as axum::extract::FromRequest<()>>::from_request(
        axum::extract::Request::from_parts(parts, body),
        &(),
    )
    .await
    {
        Ok(body) => body,
        Err(refused) => return private(refused.into_response()),
    };
    private(post_json(app, peer, headers, body).await)
}

/// [`post`] once its body has arrived.
async fn post_json(app: App, peer: SocketAddr, headers: HeaderMap, body: Bytes) -> Response {
    let Some(media) = media::negotiate(&headers) else {
        return not_acceptable();
    };
    match media::is_json_body(&headers) {
        Some(true) => {}
        Some(false) => {
            return request_error(media, StatusCode::UNSUPPORTED_MEDIA_TYPE, "send the request as application/json");
        }
        None => {
            return request_error(
                media,
                StatusCode::BAD_REQUEST,
                "the Content-Type header is missing; send application/json",
            );
        }
    }
    let judged = bearer::authenticate_now(&headers, &app.state);
    // A refused token with a document the cache holds, sent as text: answered before the body
    // becomes a request (a flood of stale or forged tokens costs the token check and a peek).
    if let Some(Credential::Invalid(reason)) = &judged
        && let Some(text) = params::peek_text(&body)
        && app.state.documents.cached_publicity(&text.query, text.operation_name.as_deref()) == Some(false)
    {
        return refuse_token(&app, reason);
    }
    match params::from_json(&body) {
        Ok(request) => execute(app, peer, headers, request, media, judged).await,
        Err(message) => request_error(media, StatusCode::BAD_REQUEST, &message),
    }
}

/// `GET /graphql`: queries only. The request is taken whole, as [`post`] takes it.
pub async fn get(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> Response {
    let (mut parts, _) = request.into_parts();
    let headers = std::mem::take(&mut parts.headers);
    private(get_query(app, peer, headers, parts.uri.query().unwrap_or("")).await)
}

/// [`get`] with its headers and query string.
async fn get_query(app: App, peer: SocketAddr, headers: HeaderMap, query: &str) -> Response {
    let Some(media) = media::negotiate(&headers) else {
        return not_acceptable();
    };
    let mut request = match params::from_query_string(query) {
        Ok(request) => request,
        Err(message) => return request_error(media, StatusCode::BAD_REQUEST, &message),
    };
    if let Some(refused) = refuse_document(&app, &mut request, media) {
        return refused;
    }
    if operation_type(&mut request).is_some_and(|ty| ty != OperationType::Query) {
        let mut response =
            request_error(media, StatusCode::METHOD_NOT_ALLOWED, "GET runs queries only; send mutations with POST");
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let judged = bearer::authenticate_now(&headers, &app.state);
    execute(app, peer, headers, request, media, judged).await
}

/// Parses the request's document before anything looks at it (a text seen before is not parsed
/// again), or answers the refusal of a text too long (413) or nested too deep to walk.
fn refuse_document(app: &App, request: &mut Request, media: Media) -> Option<Response> {
    let refused = app.state.documents.attach(request).err()?;
    let mut response = respond(media, GqlResponse::from_errors(vec![refused]));
    if request.query.len() > crate::graphql::MAX_QUERY_BYTES {
        *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    }
    Some(response)
}

/// The operation a request selects, when its document parses (parsed once, or taken from the
/// document cache by `execute`: async-graphql reuses the document the request holds).
fn operation(request: &mut Request) -> Option<&Positioned<OperationDefinition>> {
    let name = request.operation_name.clone();
    let document = request.parsed_query().ok()?;
    crate::graphql::selected_operation(document, name.as_deref())
}

/// The type of the operation a request selects, when its document parses.
fn operation_type(request: &mut Request) -> Option<OperationType> {
    operation(request).map(|operation| operation.node.ty)
}

/// Whether the request's operation has only public root fields (a document that does not
/// parse is not public).
fn is_public(request: &mut Request) -> bool {
    let name = request.operation_name.clone();
    request.parsed_query().is_ok_and(|document| crate::graphql::is_public_operation(document, name.as_deref()))
}

/// Names an operation by its root field (`todos`, `createTodo`; `multiple` for several):
/// bounded by the schema, so fit for a metrics label, unlike client-chosen operation names.
/// A name the schema does not have is `invalid`: clients cannot add labels.
fn operation_label(app: &App, request: &mut Request) -> String {
    let Some(operation) = operation(request) else {
        return "invalid".to_owned();
    };
    let mut fields = operation.node.selection_set.node.items.iter().filter_map(|s| match &s.node {
        async_graphql::parser::types::Selection::Field(f) => Some(f.node.name.node.as_str()),
        _ => None,
    });
    let Some(first) = fields.next() else {
        return "fragments".to_owned();
    };
    if !app.schemas.is_root_field(first) {
        "invalid".to_owned()
    } else if fields.any(|other| other != first) {
        "multiple".to_owned()
    } else {
        first.to_owned()
    }
}

/// Authenticates, attaches the per-request data and runs the request.
///
/// A header judged without waiting on anything (none, a malformed one, one of todoql's own
/// tokens: `judged`, by the caller) is judged on the connection's task, and a refused token
/// answered there; the rest, which reaches the database, runs in a task of its own
/// ([`super::detached`]).
async fn execute(
    app: App,
    peer: SocketAddr,
    headers: HeaderMap,
    mut request: Request,
    media: Media,
    judged: Option<Credential>,
) -> Response {
    if let Some(refused) = refuse_document(&app, &mut request, media) {
        return refused;
    }
    // Known down: nothing could succeed, so nothing waits ([`crate::db::Outage`]).
    if let Err(down) = app.state.outage.check() {
        return failure(media, down);
    }
    if let Some(Credential::Invalid(reason)) = &judged
        && !is_public(&mut request)
    {
        return refuse_token(&app, reason);
    }
    // Boxed: the rest's future is some kilobytes, and inline it would make this one, which
    // axum boxes and every refused request builds, twice that.
    super::detached(Box::pin(authorized(app, peer, headers, request, media, judged))).await
}

/// A present token that is refused: 401, counted, logged at debug only (a flood of bad tokens
/// must not become a flood of log lines; the metric counts them).
fn refuse_token(app: &App, reason: &'static str) -> Response {
    tracing::debug!(reason, "rejected a bearer token");
    app.state.metrics.auth_failure(reason);
    super::unauthorized(reason)
}

/// [`execute`] once the request may run: the credential's user checked (or the credential
/// judged, when [`bearer::authenticate_now`] could not), the request run within its time.
async fn authorized(
    app: App,
    peer: SocketAddr,
    headers: HeaderMap,
    mut request: Request,
    media: Media,
    judged: Option<Credential>,
) -> Response {
    let is_query = operation_type(&mut request) == Some(OperationType::Query);
    // A personal access token's lookup is the user check of its request: in the snapshot too.
    let early = match &app.state.reader {
        Some(reader) if is_query && bearer::is_personal(&headers) => reader.snapshot(),
        _ => None,
    };
    let credential = match judged {
        Some(credential) => credential,
        None => bearer::authenticate_in(&headers, &app.state, early.as_ref()).await,
    };
    // A caller whose budget has nothing left is refused before anything is read for it: its
    // bucket exists only for a user the database confirmed (issue 13: a flood of refused
    // requests should cost the token check, not the user check too).
    if let Credential::Valid { user_id, .. } | Credential::Linked { user_id, .. } | Credential::Personal { user_id, .. } =
        &credential
        && let Err(spent) = crate::graphql::afford_any(&app.state, user_id)
    {
        app.state.metrics.request("refused", "error", std::time::Duration::ZERO);
        return respond(media, crate::graphql::refused(spent));
    }
    // A query's reads, the user check included, share one SQLite read transaction.
    let snapshot = match (&credential, &app.state.reader) {
        _ if early.is_some() => early,
        (Credential::Valid { .. } | Credential::Linked { .. } | Credential::Personal { .. }, Some(reader))
            if is_query =>
        {
            reader.snapshot()
        }
        _ => None,
    };
    let viewer = match credential {
        Credential::Absent => Viewer::Anonymous,
        Credential::Valid { user_id, access, .. } => match users::exists(&app.state, snapshot.as_ref(), &user_id).await
        {
            Ok(true) => Viewer::User(AuthenticatedUser { id: user_id, access }),
            Ok(false) => Viewer::Deleted,
            Err(error) => {
                app.state.outage.notice(&error);
                return failure(media, error);
            }
        },
        Credential::Linked { user_id, access, .. } | Credential::Personal { user_id, access, .. } => {
            Viewer::User(AuthenticatedUser { id: user_id, access })
        }
        Credential::Failed(error) => return failure(media, error),
        Credential::Invalid(reason) => {
            // Sign-in mutations ignore the header, so a stale token never locks anyone out.
            if is_public(&mut request) {
                Viewer::Anonymous
            } else {
                return refuse_token(&app, reason);
            }
        }
    };
    // A signed-in caller's request may be refused for scope as a whole (403): its root fields
    // are noted before it runs.
    let mut root_keys = None;
    if let Viewer::User(user) = &viewer {
        tracing::Span::current().record("user_id", user.id.as_str());
        let name = request.operation_name.clone();
        root_keys = request.parsed_query().ok().map(|document| scopes::root_keys(document, name.as_deref()));
    }
    let client = throttle::client_of(&headers, peer.ip(), app.state.config.trust_proxy);
    let mut request = request.data(viewer).data(SignedInHere::default()).data(Loaders::caching());
    if let Some(client) = client {
        request = request.data(client);
    }
    if let Some(snapshot) = snapshot {
        request = request.data(snapshot);
    }
    let operation = operation_label(&app, &mut request);
    tracing::Span::current().record("operation", operation.as_str());
    let timeout = std::time::Duration::from_secs(app.state.config.request_timeout);
    let started = std::time::Instant::now();
    // Past its time, the request is answered, and its execution moves to a task of its own to
    // finish there — or to be stopped by STATEMENT_TIMEOUT, the database's way — instead of
    // being dropped mid-statement, which closes a pooled connection. A client that goes away
    // is [`super::detached`]'s concern. Spawned only then: a task per request was a hand-off
    // and a wake-up more for every one.
    let execution = {
        let app = app.clone();
        async move { app.schemas.execute(request).await }
    };
    let mut running = Box::pin(std::panic::AssertUnwindSafe(execution).catch_unwind());
    let result = match tokio::time::timeout(timeout, &mut running).await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(_)) => {
            tracing::error!("a request's execution panicked");
            let error = Error::Internal("the request's execution failed".to_owned());
            Ok(GqlResponse::from_errors(vec![
                async_graphql::ErrorExtensions::extend(&error).into_server_error(async_graphql::Pos::default()),
            ]))
        }
        Err(elapsed) => {
            tokio::spawn(running.in_current_span());
            Err(elapsed)
        }
    };
    let outcome = match &result {
        Ok(response) if response.errors.is_empty() => "ok",
        Ok(response) if is_stopped_for_time(response) => "timeout",
        Ok(_) => "error",
        Err(_) => "timeout",
    };
    app.state.metrics.request(&operation, outcome, started.elapsed());
    match result {
        // Stopped by the schema's own time limit (the one WebSocket operations have), which
        // can fire on the same tick as this one: the same answer.
        Ok(response) if is_stopped_for_time(&response) => timed_out(media),
        Ok(response) => {
            let refused = root_keys.and_then(|keys| scopes::refused_for_scope(&keys, &response));
            let mut http = respond(media, response);
            if let Some(needed) = refused {
                *http.status_mut() = StatusCode::FORBIDDEN;
                http.headers_mut().insert(header::WWW_AUTHENTICATE, scopes::insufficient_scope(needed));
            }
            http
        }
        Err(_) => timed_out(media),
    }
}

/// Whether a response is a whole request stopped for time (not a field's statement, which has
/// a path).
fn is_stopped_for_time(response: &GqlResponse) -> bool {
    matches!(&response.errors[..], [error] if error.path.is_empty()
        && error.extensions.as_ref().and_then(|e| e.get("code")) == Some(&async_graphql::Value::from("TIMEOUT")))
}

fn timed_out(media: Media) -> Response {
    let body = json!({ "errors": [{ "message": "the request took too long and was stopped", "extensions": { "code": "TIMEOUT" } }] });
    json_response(media, StatusCode::SERVICE_UNAVAILABLE, body)
}

/// Serialises a GraphQL response with the status code the media type calls for.
fn respond(media: Media, response: GqlResponse) -> Response {
    let refused = is_refused(&response);
    // Serialised straight from the response: no intermediate JSON tree.
    let body =
        Body { data: (!refused).then_some(&response.data), errors: &response.errors, extensions: &response.extensions };
    let status = if refused && media == Media::GraphqlResponse { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut http = (status, [(header::CONTENT_TYPE, media.content_type())], bytes).into_response();
    http.headers_mut().extend(response.http_headers);
    http
}

/// Whether the request was refused as a whole before it ran (it did not parse or validate,
/// named no operation, …).
fn is_refused(response: &GqlResponse) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| {
            e.extensions.as_ref().and_then(|ext| ext.get("code")).is_some_and(
                |code| matches!(code, async_graphql::Value::String(code) if crate::graphql::is_request_error(code)),
            )
        })
}

/// A GraphQL response body: `data` unless the request was refused, `errors` and
/// `extensions` when there are any.
#[derive(serde::Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [async_graphql::ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}

/// A request refused before GraphQL ran.
fn request_error(media: Media, status: StatusCode, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": "BAD_REQUEST" } }] });
    json_response(media, status, body)
}

/// A failure while authenticating (the database did not answer).
fn failure(media: Media, error: impl Into<Error>) -> Response {
    let error = async_graphql::ErrorExtensions::extend(&error.into());
    let status = match error.extensions.as_ref().and_then(|e| e.get("code")) {
        Some(code) if *code == async_graphql::Value::from("SERVICE_UNAVAILABLE") => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let body = json!({ "errors": [{ "message": error.message, "extensions": error.extensions }] });
    json_response(media, status, body)
}

fn not_acceptable() -> Response {
    let body = json!({ "errors": [{ "message": "accept application/graphql-response+json or application/json", "extensions": { "code": "NOT_ACCEPTABLE" } }] });
    json_response(Media::Json, StatusCode::NOT_ACCEPTABLE, body)
}

/// A JSON body with the media type's `Content-Type`.
pub fn json_response(media: Media, status: StatusCode, body: serde_json::Value) -> Response {
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, media.content_type())], bytes).into_response()
}
