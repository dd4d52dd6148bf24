//! The JSON bodies of the task writes, read field by field so that every refusal names its
//! field the way FastAPI does, and checked with the same input rules as the GraphQL inputs
//! ([`normalize_title`], [`check_description`]).

use axum::http::{HeaderMap, header};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::problem::{Issue, Problem, Source};
use crate::error::{Error, Result};
use crate::todos::{check_description, normalize_title};

/// A new task: the body of `POST /api/{user_id}/tasks`. Other fields are ignored.
#[derive(Debug, ToSchema)]
pub struct TaskCreate {
    /// 1 to 200 characters once leading and trailing white space is trimmed (it is stored
    /// trimmed).
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// At most 2000 characters; absent or null for none.
    #[schema(max_length = 2000)]
    pub description: Option<String>,
}

/// A task's editable fields in full: the body of `PUT /api/{user_id}/tasks/{id}`. Other
/// fields are ignored.
#[derive(Debug, ToSchema)]
pub struct TaskReplace {
    /// 1 to 200 characters once leading and trailing white space is trimmed (it is stored
    /// trimmed).
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// At most 2000 characters; absent or null clears it.
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// Done or not; absent or null leaves it as it is (`PATCH …/complete` flips it).
    pub completed: Option<bool>,
}

impl TaskCreate {
    /// Reads and checks a body; 422 naming every field at fault.
    pub fn read(headers: &HeaderMap, body: &[u8]) -> Result<Self, Problem> {
        let mut fields = Fields::of(headers, body)?;
        let (title, description) = fields.content();
        match title {
            Some(title) if fields.issues.is_empty() => Ok(Self { title, description }),
            _ => Err(Problem::invalid(fields.issues)),
        }
    }
}

impl TaskReplace {
    /// Reads and checks a body; 422 naming every field at fault.
    pub fn read(headers: &HeaderMap, body: &[u8]) -> Result<Self, Problem> {
        let mut fields = Fields::of(headers, body)?;
        let (title, description) = fields.content();
        let completed = fields.nullable_bool("completed");
        match title {
            Some(title) if fields.issues.is_empty() => Ok(Self { title, description, completed }),
            _ => Err(Problem::invalid(fields.issues)),
        }
    }
}

/// A JSON object's fields, taken one by one, and what was wrong with them.
struct Fields {
    object: Map<String, Value>,
    issues: Vec<Issue>,
}

impl Fields {
    /// The body as a JSON object. Like FastAPI, a body without a `Content-Type` is read as
    /// JSON, and one declared as anything but JSON is not an object.
    fn of(headers: &HeaderMap, body: &[u8]) -> Result<Self, Problem> {
        let not_object = || {
            let msg = "Input should be a valid dictionary or object to extract fields from";
            Problem::invalid(vec![Issue::whole(Source::Body, "model_attributes_type", msg)])
        };
        if !is_json(headers) {
            return Err(not_object());
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(Problem::invalid(vec![Issue::whole(Source::Body, "missing", "Field required")]));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(object)) => Ok(Self { object, issues: Vec::new() }),
            Ok(_) => Err(not_object()),
            Err(error) => {
                let offset = offset_of(body, error.line(), error.column());
                Err(Problem::invalid(vec![Issue::json(offset, format!("JSON decode error: {error}"))]))
            }
        }
    }

    /// The title (trimmed) and description, checked by the rules GraphQL's inputs follow.
    fn content(&mut self) -> (Option<String>, Option<String>) {
        let title = self.string("title").and_then(|title| self.rule(normalize_title(&title)));
        let description = self.nullable_string("description");
        if let Some(description) = &description {
            self.rule(check_description(description));
        }
        (title, description)
    }

    /// A required string.
    fn string(&mut self, name: &str) -> Option<String> {
        match self.object.remove(name) {
            Some(Value::String(text)) => Some(text),
            None => self.issue(name, "missing", "Field required"),
            Some(_) => self.issue(name, "string_type", "Input should be a valid string"),
        }
    }

    /// A string, or `None` when absent or null.
    fn nullable_string(&mut self, name: &str) -> Option<String> {
        match self.object.remove(name) {
            Some(Value::String(text)) => Some(text),
            None | Some(Value::Null) => None,
            Some(_) => self.issue(name, "string_type", "Input should be a valid string"),
        }
    }

    /// A boolean (JSON's own, nothing that looks like one), or `None` when absent or null.
    fn nullable_bool(&mut self, name: &str) -> Option<bool> {
        match self.object.remove(name) {
            Some(Value::Bool(value)) => Some(value),
            None | Some(Value::Null) => None,
            Some(_) => self.issue(name, "bool_type", "Input should be a valid boolean"),
        }
    }

    /// The value of a todoql input rule, or its refusal recorded against its field.
    fn rule<T>(&mut self, checked: Result<T>) -> Option<T> {
        match checked {
            Ok(value) => Some(value),
            Err(Error::BadUserInput { field, message }) => self.issue(field, "value_error", message),
            Err(other) => self.issue("", "value_error", other.message()),
        }
    }

    fn issue<T>(&mut self, name: &str, kind: &'static str, msg: impl Into<String>) -> Option<T> {
        self.issues.push(Issue::field(Source::Body, name, kind, msg));
        None
    }
}

/// Whether the body is to be read as JSON: no `Content-Type`, `application/json` or any
/// `application/*+json`.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else { return true };
    let Ok(value) = value.to_str() else { return false };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The byte offset of a 1-based line and column, as serde_json reports them.
fn offset_of(body: &[u8], line: usize, column: usize) -> u64 {
    let line_start: usize = body.split(|&b| b == b'\n').take(line.saturating_sub(1)).map(|line| line.len() + 1).sum();
    u64::try_from(line_start + column.saturating_sub(1)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_count_bytes_across_lines() {
        let body = b"{\n  \"title\": ,\n}";
        let error = serde_json::from_slice::<Value>(body).expect_err("invalid");
        assert_eq!(body[usize::try_from(offset_of(body, error.line(), error.column())).unwrap()], b',');
    }

    #[test]
    fn json_is_what_declares_itself_json_or_declares_nothing() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            is_json(&headers)
        };
        assert!(is_json(&HeaderMap::new()));
        assert!(with("application/json; charset=utf-8") && with("Application/JSON") && with("application/merge+json"));
        assert!(!with("text/plain") && !with("application/x-www-form-urlencoded") && !with("multipart/form-data"));
    }
}
