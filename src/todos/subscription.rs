//! `Subscription.todoEvents`: the caller's todo changes, live.

use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, ID, Object, Subscription};
use futures_util::Stream;
use todoql_macros::scoped;
use tokio::sync::broadcast::error::RecvError;

use super::schema::Todo;
use crate::auth::{SignedIn, caller};
use crate::events::{Change, Event, TodoEventKind};
use crate::state::State;

/// A change to one of the caller's todos.
pub struct TodoEvent(Arc<Change>);

/// A change to one of the caller's todos.
#[scoped]
#[Object]
impl TodoEvent {
    /// What happened.
    #[scopes(["todos:read"])]
    async fn kind(&self) -> TodoEventKind {
        self.0.kind
    }

    /// The id of the todo that changed.
    #[scopes(["todos:read"])]
    async fn todo_id(&self) -> ID {
        ID(self.0.todo_id.clone())
    }

    /// The todo as committed; null when it was deleted.
    #[scopes(["todos:read"])]
    async fn todo(&self) -> Option<Todo> {
        self.0.todo.clone().map(Todo::from)
    }
}

/// Live todo events.
#[derive(Default)]
pub struct TodoSubscription;

/// Live todo events.
#[scoped]
#[Subscription]
impl TodoSubscription {
    /// Every change to the caller's todos, in commit order, from any instance. The
    /// subscription ends with an error when events may have been missed: code
    /// `SUBSCRIPTION_OVERFLOW` when this subscriber fell too far behind,
    /// `SUBSCRIPTION_INTERRUPTED` when the server lost its link to the database's event
    /// stream. Either way: refetch, then subscribe again.
    #[scopes(["todos:read"])]
    #[graphql(guard = "SignedIn")]
    async fn todo_events(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<TodoEvent>> + use<>> {
        let owner = caller(ctx)?.id.clone();
        let receiver = State::of(ctx)?.events.subscribe(&owner).await;
        Ok(futures_util::stream::unfold(Some(receiver), move |receiver| {
            let owner = owner.clone();
            async move {
                let mut receiver = receiver?;
                loop {
                    let error = match receiver.recv().await {
                        // Only the owner's changes reach this receiver; the check stays as a
                        // second line of defence.
                        Ok(Event::Committed(change)) if change.owner_id == owner => {
                            return Some((Ok(TodoEvent(change)), Some(receiver)));
                        }
                        Ok(Event::Committed(_)) => continue,
                        Ok(Event::Interrupted) => async_graphql::Error::new(
                            "the server may have missed changes (its database connection dropped); refetch and subscribe again",
                        )
                        .extend_with(|_, e| e.set("code", "SUBSCRIPTION_INTERRUPTED")),
                        Err(RecvError::Lagged(missed)) => async_graphql::Error::new(format!(
                            "this subscriber fell {missed} events behind; refetch and subscribe again"
                        ))
                        .extend_with(|_, e| e.set("code", "SUBSCRIPTION_OVERFLOW")),
                        Err(RecvError::Closed) => return None,
                    };
                    return Some((Err(error), None));
                }
            }
        }))
    }
}
