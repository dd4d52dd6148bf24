//! A task as the FastAPI + SQLModel frontend knows it: a todo, flat, with ISO 8601 times.
//!
//! A task is a view of a stored todo, borrowed and serialised straight from it: a list of 20
//! allocates nothing per task (on the load benchmark's REST read, building owned tasks and
//! formatting their times through `chrono` cost several percent of the request).

use serde::{Serialize, Serializer};
use utoipa::ToSchema;

use crate::todos::entity;

/// A task. Only its owner can ever reach it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Task<'a> {
    /// Opaque id.
    pub id: &'a str,
    /// The owner, as the path names them.
    pub user_id: &'a str,
    /// 1 to 200 characters.
    pub title: &'a str,
    /// At most 2000 characters, or null.
    pub description: Option<&'a str>,
    /// Done or not.
    pub completed: bool,
    /// When it was created: ISO 8601 (RFC 3339) in UTC, to the microsecond.
    #[schema(value_type = String, format = DateTime, example = "2026-12-02T09:30:00.000000Z")]
    pub created_at: Timestamp,
    /// When it last changed (every change moves it forward), in the same format.
    #[schema(value_type = String, format = DateTime, example = "2026-12-02T09:30:00.000000Z")]
    pub updated_at: Timestamp,
}

impl<'a> Task<'a> {
    /// The task of a stored todo, its owner named `user_id` (the path's).
    pub fn of(todo: &'a entity::Model, user_id: &'a str) -> Self {
        Self {
            id: &todo.id,
            user_id,
            title: &todo.title,
            description: todo.description.as_deref(),
            completed: todo.completed,
            created_at: Timestamp(todo.created_at),
            updated_at: Timestamp(todo.updated_at),
        }
    }
}

/// A stored time (microseconds since the epoch), written `2026-12-02T09:30:00.123456Z`: fixed
/// width, so the text sorts like the time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp(pub i64);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = [0u8; 27];
        match rfc3339(self.0, &mut text) {
            Some(text) => serializer.serialize_str(text),
            // Years past 9999 (no stored todo has one) take chrono's longer form.
            None => {
                let time = crate::clock::to_datetime(self.0);
                serializer.serialize_str(&time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
            }
        }
    }
}

/// Writes `micros` as RFC 3339 in UTC with six fractional digits into `out`; `None` for a
/// year outside 0..=9999, which does not fit.
fn rfc3339(micros: i64, out: &mut [u8; 27]) -> Option<&str> {
    use chrono::{Datelike, Timelike};
    let time = crate::clock::to_datetime(micros);
    let (year, fraction) = (time.year(), micros.rem_euclid(1_000_000));
    if !(0..=9999).contains(&year) {
        return None;
    }
    let mut at = 0;
    let mut put = |value: i64, digits: u32, then: u8| {
        for place in (0..digits).rev() {
            out[at] = b'0' + u8::try_from(value / 10_i64.pow(place) % 10).unwrap_or(0);
            at += 1;
        }
        out[at] = then;
        at += 1;
    };
    put(i64::from(year), 4, b'-');
    put(i64::from(time.month()), 2, b'-');
    put(i64::from(time.day()), 2, b'T');
    put(i64::from(time.hour()), 2, b':');
    put(i64::from(time.minute()), 2, b':');
    put(i64::from(time.second()), 2, b'.');
    put(fraction, 6, b'Z');
    std::str::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::SecondsFormat;

    #[test]
    fn timestamps_are_written_as_chrono_writes_rfc_3339_to_the_microsecond() {
        for micros in [0, 1, 999_999, 1_796_183_962_123_456, 253_402_300_799_999_999, 951_782_400_000_000] {
            let mut out = [0u8; 27];
            let expected = crate::clock::to_datetime(micros).to_rfc3339_opts(SecondsFormat::Micros, true);
            assert_eq!(rfc3339(micros, &mut out), Some(expected.as_str()), "{micros}");
        }
        let far = 253_402_300_800_000_000; // 10000-01-01
        let written = serde_json::to_string(&Timestamp(far)).unwrap();
        assert_eq!(
            written,
            format!("\"{}\"", crate::clock::to_datetime(far).to_rfc3339_opts(SecondsFormat::Micros, true))
        );
    }
}
