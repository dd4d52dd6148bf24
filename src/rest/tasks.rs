//! The six task routes. Each is thin: the [`Caller`] has been authenticated and matched to the
//! path, the [`TodoStore`](crate::todos::store::TodoStore) decides ownership (another user's
//! task is missing, like one that never was) and publishes the change to `todoEvents`
//! subscribers, on this instance and, on PostgreSQL, every other.
//!
//! Each route's `#[utoipa::path]` is both its OpenAPI operation and, through
//! `utoipa_axum::routes!`, its registration in the router: the document cannot name a route
//! or method the server does not serve.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::body::{TaskCreate, TaskReplace};
use super::caller::{Caller, TaskId};
use super::problem::{Forbidden, NotFound, Problem, TooManyRequests, Unauthorized, Unprocessable};
use super::query::ListQuery;
use super::task::Task;
use crate::error::Error;
use crate::http::App;
use crate::todos::store::Changes;

/// The tag every task route carries.
const TAG: &str = "tasks";

/// List the caller's tasks, newest first unless `sort` says otherwise.
#[utoipa::path(
    get,
    path = "/{user_id}/tasks",
    tag = TAG,
    operation_id = "list_tasks",
    params(("user_id" = String, Path, description = "The caller's user id: the token's `sub`."), ListQuery),
    responses(
        (status = 200, description = "The tasks, in order.", body = Vec<Task>),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyRequests),
        (status = 422, response = Unprocessable),
    ),
)]
pub async fn list(State(app): State<App>, caller: Caller, RawQuery(query): RawQuery) -> Result<Response, Problem> {
    let listing = ListQuery::parse(query.as_deref())?.listing()?;
    // Each task it may return costs its seven fields, as in a GraphQL connection, and a
    // search what it costs there.
    let search = if listing.filter.searches() { crate::todos::SEARCH_COST as u64 } else { 0 };
    caller.charge(&app.state, 7 * listing.limit + search)?;
    let todos = caller.store(&app.state).list(&listing).await?;
    let tasks: Vec<Task> = todos.iter().map(|todo| Task::of(todo, caller.subject())).collect();
    Ok(json(StatusCode::OK, &tasks, tasks.len()))
}

/// Create a task for the caller.
#[utoipa::path(
    post,
    path = "/{user_id}/tasks",
    tag = TAG,
    operation_id = "create_task",
    params(("user_id" = String, Path, description = "The caller's user id: the token's `sub`.")),
    request_body = TaskCreate,
    responses(
        (status = 201, description = "The task as created.", body = Task,
            headers(("Location" = String, description = "The task's own route."))),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyRequests),
        (status = 422, response = Unprocessable),
    ),
)]
pub async fn create(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let input = TaskCreate::read(&headers, &body)?;
    let todo = caller.store(&app.state).create(input.title, input.description).await?;
    let location = format!("/api/{}/tasks/{}", percent_encoded(caller.subject()), percent_encoded(&todo.id));
    let mut response = json(StatusCode::CREATED, &Task::of(&todo, caller.subject()), 1);
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// One of the caller's tasks.
#[utoipa::path(
    get,
    path = "/{user_id}/tasks/{id}",
    tag = TAG,
    operation_id = "get_task",
    params(
        ("user_id" = String, Path, description = "The caller's user id: the token's `sub`."),
        ("id" = String, Path, description = "The task's id."),
    ),
    responses(
        (status = 200, description = "The task.", body = Task),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyRequests),
        (status = 404, response = NotFound),
    ),
)]
pub async fn show(State(app): State<App>, caller: Caller, TaskId(id): TaskId) -> Result<Response, Problem> {
    let todo = caller.store(&app.state).find(&id).await?.ok_or(Error::NotFound)?;
    Ok(json(StatusCode::OK, &Task::of(&todo, caller.subject()), 1))
}

/// Replace a task's editable fields: its title, its description (absent or null clears it)
/// and, when given, whether it is completed.
#[utoipa::path(
    put,
    path = "/{user_id}/tasks/{id}",
    tag = TAG,
    operation_id = "update_task",
    params(
        ("user_id" = String, Path, description = "The caller's user id: the token's `sub`."),
        ("id" = String, Path, description = "The task's id."),
    ),
    request_body = TaskReplace,
    responses(
        (status = 200, description = "The task as updated.", body = Task),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyRequests),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    ),
)]
pub async fn replace(
    State(app): State<App>,
    caller: Caller,
    TaskId(id): TaskId,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let input = TaskReplace::read(&headers, &body)?;
    let changes =
        Changes { title: Some(input.title), description: Some(input.description), completed: input.completed };
    let todo = caller.store(&app.state).update(&id, changes).await?;
    Ok(json(StatusCode::OK, &Task::of(&todo, caller.subject()), 1))
}

/// Delete one of the caller's tasks.
#[utoipa::path(
    delete,
    path = "/{user_id}/tasks/{id}",
    tag = TAG,
    operation_id = "delete_task",
    params(
        ("user_id" = String, Path, description = "The caller's user id: the token's `sub`."),
        ("id" = String, Path, description = "The task's id."),
    ),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyRequests),
        (status = 404, response = NotFound),
    ),
)]
pub async fn remove(State(app): State<App>, caller: Caller, TaskId(id): TaskId) -> Result<StatusCode, Problem> {
    caller.store(&app.state).delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Flip whether a task is completed.
#[utoipa::path(
    patch,
    path = "/{user_id}/tasks/{id}/complete",
    tag = TAG,
    operation_id = "toggle_task_completion",
    params(
        ("user_id" = String, Path, description = "The caller's user id: the token's `sub`."),
        ("id" = String, Path, description = "The task's id."),
    ),
    responses(
        (status = 200, description = "The task, `completed` flipped.", body = Task),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyRequests),
        (status = 404, response = NotFound),
    ),
)]
pub async fn complete(State(app): State<App>, caller: Caller, TaskId(id): TaskId) -> Result<Response, Problem> {
    let todo = caller.store(&app.state).toggle(&id).await?;
    Ok(json(StatusCode::OK, &Task::of(&todo, caller.subject()), 1))
}

/// A JSON answer for `tasks` tasks' worth of `value`, serialised into a buffer sized for them
/// up front (growing it as it fills copied the list several times over).
fn json(status: StatusCode, value: &impl serde::Serialize, tasks: usize) -> Response {
    let mut body = Vec::with_capacity(64 + 320 * tasks);
    if let Err(error) = serde_json::to_writer(&mut body, value) {
        return Problem::from(Error::Internal(format!("cannot serialise a task: {error}"))).into_response();
    }
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

/// A path segment with everything but unreserved characters percent-encoded (ids are opaque).
fn percent_encoded(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}
