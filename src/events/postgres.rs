//! One `LISTEN` connection per instance, fanning PostgreSQL notifications out to subscribers.
//!
//! A change travels as the JSON of [`Change`], without the folded search columns (the
//! listener recomputes them). One that does not fit in a notification is sent as `i/n:`-
//! prefixed slices: PostgreSQL queues a transaction's notifications together at commit, so
//! the slices of one change arrive consecutively.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use sea_orm::sqlx::{self, postgres::PgListener};
use tokio::sync::watch;

use super::fanout::Fanout;
use super::{CHANNEL, Change, Event, MAX_PAYLOAD};
use crate::todos::entity::fold;

/// The largest slice of a payload sent in parts (room left for the `i/n:` prefix).
const SLICE: usize = MAX_PAYLOAD - 32;

/// Starts the listener task. It reconnects on its own after database outages; each lost
/// connection is announced to subscribers as [`Event::Interrupted`].
pub(super) fn spawn_listener(db: DatabaseConnection, fanout: Arc<Fanout>, listening: Arc<watch::Sender<Option<u64>>>) {
    tokio::spawn(async move {
        for session in 1.. {
            let outcome = listen(&db, &fanout, &listening, session).await;
            if listening.send_replace(None).is_some() {
                // Whatever was notified while nobody listened is lost: subscribers refetch.
                fanout.publish(Event::Interrupted);
            }
            match outcome {
                Ok(()) => tracing::warn!("the event listener lost its connection; subscribers were told to refetch"),
                Err(sqlx::Error::PoolClosed) => return,
                Err(error) => tracing::warn!(%error, "the event listener failed; retrying"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

/// Listens until the connection is lost (`Ok`) or cannot be used (`Err`).
async fn listen(
    db: &DatabaseConnection,
    fanout: &Fanout,
    listening: &watch::Sender<Option<u64>>,
    session: u64,
) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(db.get_postgres_connection_pool()).await?;
    // A lost connection must surface (as `Ok(None)`) rather than be silently replaced.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    listening.send_replace(Some(session));
    let mut parts = Parts::default();
    while let Some(notification) = listener.try_recv().await? {
        let event = match parts.add(notification.payload()) {
            Ok(None) => continue,
            Ok(Some(payload)) => decode(&payload).map(|change| Event::Committed(Arc::new(change))),
            Err(error) => Err(error),
        };
        let event = event.unwrap_or_else(|error| {
            tracing::warn!(%error, "an unreadable event: subscribers were told to refetch");
            Event::Interrupted
        });
        fanout.publish(event);
    }
    Ok(())
}

/// The payload of `change`: its JSON without the folded columns, which only serve `search`.
pub(super) fn encode(change: &Change) -> serde_json::Result<String> {
    let mut change = change.clone();
    if let Some(todo) = &mut change.todo {
        todo.title_folded = String::new();
        todo.description_folded = None;
    }
    serde_json::to_string(&change)
}

/// The change a payload carries, folded columns restored.
fn decode(payload: &str) -> Result<Change, String> {
    let mut change: Change = serde_json::from_str(payload).map_err(|e| e.to_string())?;
    if let Some(todo) = &mut change.todo {
        todo.title_folded = fold(&todo.title);
        todo.description_folded = todo.description.as_deref().map(fold);
    }
    Ok(change)
}

/// The notifications that carry `payload`: itself when it fits, else `i/n:`-prefixed slices.
pub(super) fn parts(payload: &str) -> Vec<String> {
    if payload.len() <= MAX_PAYLOAD {
        return vec![payload.to_owned()];
    }
    let mut slices = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let mut end = rest.len().min(SLICE);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (slice, tail) = rest.split_at(end);
        slices.push(slice);
        rest = tail;
    }
    let count = slices.len();
    slices.iter().enumerate().map(|(i, slice)| format!("{}/{count}:{slice}", i + 1)).collect()
}

/// Reassembles payloads sent in parts.
#[derive(Default)]
struct Parts {
    text: String,
    received: usize,
}

impl Parts {
    /// The whole payload once `notification` completes one; `None` while parts are to come.
    fn add(&mut self, notification: &str) -> Result<Option<String>, String> {
        if notification.starts_with('{') {
            if self.received > 0 {
                self.text.clear();
                self.received = 0;
                return Err("a change arrived between the parts of another".to_owned());
            }
            return Ok(Some(notification.to_owned()));
        }
        let slice = notification.split_once(':').and_then(|(header, slice)| {
            let (index, count) = header.split_once('/')?;
            Some((index.parse::<usize>().ok()?, count.parse::<usize>().ok()?, slice))
        });
        match slice {
            Some((index, count, slice)) if index == self.received + 1 && index <= count => {
                self.text.push_str(slice);
                self.received = index;
                if index < count {
                    return Ok(None);
                }
                let whole = std::mem::take(&mut self.text);
                self.received = 0;
                Ok(Some(whole))
            }
            _ => {
                self.text.clear();
                self.received = 0;
                Err(format!("a notification out of sequence: {notification:.40}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_payloads_are_sent_in_parts_and_reassembled() {
        let payload = format!("{{\"x\":\"{}\"}}", "é🍎\"".repeat(3000));
        let parts = parts(&payload);
        assert!(parts.len() > 1);
        assert!(parts.iter().all(|p| p.len() < 8000));
        let mut assembly = Parts::default();
        let mut whole = None;
        for part in &parts {
            whole = assembly.add(part).expect("in sequence");
        }
        assert_eq!(whole.as_deref(), Some(payload.as_str()));
        assert_eq!(super::parts("{}"), ["{}"]);
    }
}
