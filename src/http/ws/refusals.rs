//! Refusals as `graphql-transport-ws` has them: an operation refused before it runs (it does
//! not parse or validate, is over a limit, or over the socket's subscription bound) is answered
//! with an `error` message, and that ends it — no `complete` follows. async-graphql answers
//! such an operation with a `next` carrying the errors, then `complete`; clients of the
//! protocol (graphql-ws) report an `error` to the subscriber's error handler instead of its
//! data handler, which is what a refused subscription needs.

use std::collections::HashSet;

use async_graphql::http::WebSocketProtocols;
use serde_json::{Value, json};

/// The operations of one socket that were answered with an `error`.
pub(super) struct Refusals {
    /// Only `graphql-transport-ws` is rewritten; the legacy protocol keeps async-graphql's.
    rewrite: bool,
    refused: HashSet<String>,
}

impl Refusals {
    pub(super) fn new(protocol: WebSocketProtocols) -> Self {
        Self { rewrite: protocol == WebSocketProtocols::GraphQLWS, refused: HashSet::new() }
    }

    /// The message to send instead of `text`: an `error` for a refused operation's `next`,
    /// nothing for its `complete` (`None`), else `text` itself.
    pub(super) fn rewrite(&mut self, text: String) -> Option<String> {
        // Only the messages that can be either are parsed.
        if !self.rewrite || !(text.contains("\"errors\"") || text.contains("\"complete\"")) {
            return Some(text);
        }
        let Ok(message) = serde_json::from_str::<Value>(&text) else { return Some(text) };
        let id = message["id"].as_str().unwrap_or_default();
        match message["type"].as_str() {
            Some("complete") if self.refused.remove(id) => None,
            Some("next") if is_refusal(&message["payload"]) => {
                self.refused.insert(id.to_owned());
                Some(json!({ "type": "error", "id": id, "payload": message["payload"]["errors"] }).to_string())
            }
            _ => Some(text),
        }
    }
}

/// Whether a response refuses the operation as a whole before it ran: no data, and only
/// errors about the request rather than its fields.
fn is_refusal(payload: &Value) -> bool {
    let errors = payload["errors"].as_array().map_or(&[][..], Vec::as_slice);
    payload["data"].is_null()
        && !errors.is_empty()
        && errors.iter().all(|error| {
            error["path"].is_null()
                && error["extensions"]["code"].as_str().is_some_and(crate::graphql::is_request_error)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_operation_gets_an_error_and_no_complete_and_field_errors_stay_data() {
        let mut refusals = Refusals::new(WebSocketProtocols::GraphQLWS);
        let refused = r#"{"type":"next","id":"3","payload":{"data":null,"errors":[{"message":"no","extensions":{"code":"TOO_MANY_SUBSCRIPTIONS"}}]}}"#;
        let error: Value = serde_json::from_str(&refusals.rewrite(refused.to_owned()).unwrap()).unwrap();
        assert_eq!(
            error,
            json!({ "type": "error", "id": "3", "payload": [{ "message": "no", "extensions": { "code": "TOO_MANY_SUBSCRIPTIONS" } }] })
        );
        assert_eq!(refusals.rewrite(r#"{"type":"complete","id":"3"}"#.to_owned()), None);
        let field = r#"{"type":"next","id":"4","payload":{"data":null,"errors":[{"message":"sign in","path":["me"],"extensions":{"code":"UNAUTHENTICATED"}}]}}"#;
        assert_eq!(refusals.rewrite(field.to_owned()).as_deref(), Some(field));
        assert_eq!(
            refusals.rewrite(r#"{"type":"complete","id":"4"}"#.to_owned()).as_deref(),
            Some(r#"{"type":"complete","id":"4"}"#)
        );
        let mut legacy = Refusals::new(WebSocketProtocols::SubscriptionsTransportWS);
        assert_eq!(legacy.rewrite(refused.to_owned()).as_deref(), Some(refused));
    }
}
