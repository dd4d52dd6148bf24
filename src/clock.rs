//! Time as the database stores it: integer microseconds since the Unix epoch, UTC.

use chrono::{DateTime, Utc};

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

/// The instant a stored timestamp names.
pub fn to_datetime(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// A fresh, time-ordered id (UUIDv7), as text.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Whether `id` could be one [`new_id`] made: anything else (a NUL, which PostgreSQL's text
/// cannot even hold, a made-up word) matches nothing, without asking the database.
pub fn could_be_id(id: &str) -> bool {
    id.len() == 36 && uuid::Uuid::try_parse(id).is_ok()
}
