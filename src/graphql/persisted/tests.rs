use async_graphql::{Request, Value};
use serde_json::json;

use super::*;

/// The spec's example: `query ($id: ID!) {\n  user(id: $id) {\n    name\n  }\n}`.
const SPEC_TEXT: &str = "query ($id: ID!) {\n  user(id: $id) {\n    name\n  }\n}";
const SPEC_ID: &str = "sha256:7dba4bd717b41f10434822356a93c32b1fb4907b983e854300ad839f84cdcd6e";

#[test]
fn a_text_is_named_by_its_sha256_as_the_persisted_documents_appendix_says() {
    let key = DocumentKey::of_text(SPEC_TEXT);
    assert_eq!(key.to_string(), SPEC_ID);
    assert_eq!(DocumentKey::parse_id(SPEC_ID), Ok(key.clone()));
    assert_eq!(DocumentKey::parse_hash(&SPEC_ID[7..]), Ok(key.clone()), "APQ's bare hex");
    assert_eq!(DocumentKey::parse_hash(SPEC_ID), Ok(key.clone()), "GraphQL Code Generator's prefixed form");
    assert_eq!(DocumentKey::parse_hash(&SPEC_ID[7..].to_uppercase()), Ok(key));
}

#[test]
fn ids_that_are_not_hashes_are_custom_and_broken_hashes_are_refused() {
    assert_eq!(DocumentKey::parse_id("GetTodos-1"), Ok(DocumentKey::Custom("GetTodos-1".into())));
    assert!(DocumentKey::parse_id("sha256:abc").is_err());
    assert!(DocumentKey::parse_id("").is_err());
    assert!(DocumentKey::parse_hash("GetTodos-1").is_err());
    assert!(DocumentKey::parse_hash(&"g".repeat(64)).is_err());
}

fn request(extensions: serde_json::Value) -> Request {
    let mut request = Request::new("");
    let Ok(Value::Object(map)) = Value::from_json(extensions) else { panic!("an object") };
    request.extensions = async_graphql::Extensions(map.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
    request
}

#[test]
fn a_request_names_its_document_by_id_or_by_hash_and_a_malformed_name_is_an_error() {
    let hash = &SPEC_ID[7..];
    let by_hash = request(json!({ "persistedQuery": { "version": 1, "sha256Hash": hash, "miss": true } }));
    assert_eq!(requested_key(&by_hash), Ok(Some(DocumentKey::of_text(SPEC_TEXT))));
    assert_eq!(requested_key(&request(json!({ "documentId": SPEC_ID }))), Ok(Some(DocumentKey::of_text(SPEC_TEXT))));
    assert_eq!(requested_key(&request(json!({ "persistedQuery": null }))), Ok(None));
    assert!(requested_key(&request(json!({ "persistedQuery": { "version": 2, "sha256Hash": hash } }))).is_err());
    assert!(requested_key(&request(json!({ "persistedQuery": { "version": 1 } }))).is_err());
    assert!(requested_key(&request(json!({ "documentId": 7 }))).is_err());
}

#[test]
fn a_text_sent_with_a_hash_that_is_not_its_own_is_refused_and_not_learnt() {
    let persisted = Persisted::default();
    let mut lying = request(json!({ "persistedQuery": { "version": 1, "sha256Hash": &SPEC_ID[7..] } }));
    lying.query = "{ me { id } }".to_owned();
    let refused = persisted.resolve(&mut lying).err().expect("refused");
    assert_eq!(
        refused.extensions.and_then(|e| e.get("code").cloned()),
        Some(Value::from("PERSISTED_QUERY_HASH_MISMATCH"))
    );
    assert_eq!(persisted.learnt(), 0);
}

#[test]
fn the_automatic_store_keeps_at_most_its_count_of_texts_least_recently_used_out() {
    let persisted = Persisted::default();
    for n in 0..MAX_AUTOMATIC_DOCUMENTS + 10 {
        let text = format!("{{ todo(id: \"{n}\") {{ id }} }}");
        let DocumentKey::Sha256(hash) = DocumentKey::of_text(&text) else { unreachable!() };
        persisted.learn(hash, &text);
    }
    assert_eq!(persisted.learnt(), MAX_AUTOMATIC_DOCUMENTS);
    let first = DocumentKey::of_text("{ todo(id: \"0\") { id } }");
    let mut forgotten = request(json!({ "persistedQuery": { "version": 1, "sha256Hash": first.to_string() } }));
    assert!(persisted.resolve(&mut forgotten).is_err(), "the oldest text went first");
}

#[test]
fn the_automatic_store_keeps_at_most_its_bytes_of_text() {
    let persisted = Persisted::default();
    let filler = "#".repeat(16 * 1024);
    for n in 0..100 {
        let text = format!("{{ me {{ id }} }} # {n}\n{filler}");
        let DocumentKey::Sha256(hash) = DocumentKey::of_text(&text) else { unreachable!() };
        persisted.learn(hash, &text);
    }
    assert_eq!(persisted.learnt(), MAX_AUTOMATIC_BYTES / (16 * 1024 + 20));
}

#[test]
fn a_websocket_payloads_document_id_moves_into_its_extensions() {
    let message = json!({ "id": "1", "type": "subscribe", "payload": { "documentId": SPEC_ID, "variables": {} } });
    let lifted = lift_document_id(message.to_string().as_bytes()).expect("rewritten");
    let lifted: serde_json::Value = serde_json::from_slice(&lifted).expect("JSON");
    assert_eq!(lifted["payload"], json!({ "variables": {}, "extensions": { "documentId": SPEC_ID } }));
    assert_eq!(lift_document_id(br#"{"type":"subscribe","id":"1","payload":{"query":"{ me { id } }"}}"#), None);
}
