//! One `LISTEN` connection per instance, fanning PostgreSQL notifications out to subscribers.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{DatabaseConnection, EntityTrait};
use tokio::sync::broadcast;

use super::{CHANNEL, Change, TodoEventKind};
use crate::todos::entity::Entity as Todos;

/// Starts the listener task; it reconnects on its own after database outages.
pub(super) fn spawn_listener(db: DatabaseConnection, sender: broadcast::Sender<Arc<Change>>) {
    tokio::spawn(async move {
        loop {
            if let Err(error) = listen(&db, &sender).await {
                tracing::warn!(%error, "event listener lost its connection; retrying");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

async fn listen(db: &DatabaseConnection, sender: &broadcast::Sender<Arc<Change>>) -> Result<(), sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(db.get_postgres_connection_pool()).await?;
    listener.listen(CHANNEL).await?;
    loop {
        let notification = listener.recv().await?;
        let mut change: Change = match serde_json::from_str(notification.payload()) {
            Ok(change) => change,
            Err(error) => {
                tracing::warn!(%error, "ignoring an unreadable event");
                continue;
            }
        };
        if change.todo.is_none() && change.kind != TodoEventKind::Deleted {
            // The payload was too large to carry the todo: read it back once for everyone.
            change.todo = Todos::find_by_id(change.todo_id.clone()).one(db).await.ok().flatten();
        }
        let _ = sender.send(Arc::new(change));
    }
}
