//! A task as the FastAPI + SQLModel frontend knows it: a todo, flat, with ISO 8601 times.

use chrono::SecondsFormat;
use serde::Serialize;
use utoipa::ToSchema;

use crate::clock;
use crate::todos::entity;

/// A task. Only its owner can ever reach it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Task {
    /// Opaque id.
    pub id: String,
    /// The owner, as the path names them.
    pub user_id: String,
    /// 1 to 200 characters.
    pub title: String,
    /// At most 2000 characters, or null.
    pub description: Option<String>,
    /// Done or not.
    pub completed: bool,
    /// When it was created: ISO 8601 (RFC 3339) in UTC, to the microsecond.
    #[schema(format = DateTime, example = "2026-12-02T09:30:00.000000Z")]
    pub created_at: String,
    /// When it last changed (every change moves it forward), in the same format.
    #[schema(format = DateTime, example = "2026-12-02T09:30:00.000000Z")]
    pub updated_at: String,
}

impl Task {
    /// The task of a stored todo, its owner named `user_id` (the path's).
    pub fn new(todo: entity::Model, user_id: &str) -> Self {
        Self {
            id: todo.id,
            user_id: user_id.to_owned(),
            title: todo.title,
            description: todo.description,
            completed: todo.completed,
            created_at: timestamp(todo.created_at),
            updated_at: timestamp(todo.updated_at),
        }
    }
}

/// `2026-12-02T09:30:00.123456Z`: fixed width, so the text sorts like the time.
fn timestamp(micros: i64) -> String {
    clock::to_datetime(micros).to_rfc3339_opts(SecondsFormat::Micros, true)
}
