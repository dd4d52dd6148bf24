//! A socket's queries and mutations run in a task of their own, as HTTP requests do.
//!
//! async-graphql drives each operation of a socket as a stream the socket polls; when the
//! socket closes, its streams are dropped, and a query dropped mid-statement drops its
//! statement: on PostgreSQL the pooled connection it ran on is closed (the server logs
//! "Connection reset by peer" and the pool reopens one under load). Here a query or mutation
//! is driven to its end by a task of its own and its answer handed to the socket, which may
//! have gone; its time is still bounded by the operation's time limit and
//! `STATEMENT_TIMEOUT`. A subscription stays the socket's, and ends with it: it waits on
//! events, not on statements, and a subscription outliving its socket would hold its
//! place until the next event.

use std::sync::Arc;

use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor, Request, Response};
use futures_util::stream::{self, BoxStream, StreamExt};
use tracing::Instrument;

use crate::graphql::{AppSchema, DocumentCache, selected_operation};

/// The schema socket operations run on, queries and mutations detached.
#[derive(Clone)]
pub struct Detached {
    schema: AppSchema,
    documents: Arc<DocumentCache>,
}

impl Detached {
    pub fn new(schema: AppSchema, documents: Arc<DocumentCache>) -> Self {
        Self { schema, documents }
    }

    /// Whether `request` is a query or a mutation. The document is attached (checked for
    /// shape, from the cache) first, as the schema's limits would; one that is refused or
    /// does not parse is run as it is, and refused there.
    fn is_query_or_mutation(&self, request: &mut Request) -> bool {
        if self.documents.attach(request).is_err() {
            return false;
        }
        let name = request.operation_name.clone();
        request
            .parsed_query()
            .ok()
            .and_then(|document| selected_operation(document, name.as_deref()))
            .is_some_and(|operation| operation.node.ty != OperationType::Subscription)
    }
}

impl Executor for Detached {
    fn execute(&self, request: Request) -> impl Future<Output = Response> + Send {
        self.schema.execute(request)
    }

    fn execute_stream(&self, mut request: Request, session_data: Option<Arc<Data>>) -> BoxStream<'static, Response> {
        if !self.is_query_or_mutation(&mut request) {
            return Executor::execute_stream(&self.schema, request, session_data);
        }
        let mut responses = Executor::execute_stream(&self.schema, request, session_data);
        let (answer, answered) = tokio::sync::mpsc::channel(1);
        tokio::spawn(
            async move {
                while let Some(response) = responses.next().await {
                    // The socket may be gone: the operation runs to its end all the same.
                    let _ = answer.send(response).await;
                }
            }
            .in_current_span(),
        );
        stream::unfold(answered, |mut answered| async move { answered.recv().await.map(|r| (r, answered)) }).boxed()
    }
}
