//! The document cache's bounds and keys.

use async_graphql::{Request, ValidationResult, Variables};
use serde_json::json;

use super::{DocumentCache, MAX_TEXT_BYTES, MAX_VALIDATIONS, MAX_VARIABLES_BYTES, Validation};

const RESULT: ValidationResult = ValidationResult {
    cache_control: async_graphql::CacheControl { public: true, max_age: 0 },
    complexity: 3,
    depth: 2,
};

/// A query text of exactly `len` bytes (padded with spaces), distinct per `name`.
fn text(name: &str, len: usize) -> String {
    let text = format!("query {name} {{ __typename }}");
    format!("{text:<len$}")
}

/// Attaches `text` to a fresh request, and tells whether the document came from the cache.
fn hit(cache: &DocumentCache, text: &str) -> bool {
    let before = cache.counts().parse_hits;
    let mut request = Request::new(text);
    cache.attach(&mut request).expect("attached");
    assert!(request.parsed_query().is_ok());
    cache.counts().parse_hits > before
}

fn validation(cache: &DocumentCache, text: &str, variables: serde_json::Value) -> Option<Validation> {
    let mut request = Request::new(text).variables(Variables::from_json(variables));
    cache.attach(&mut request).expect("attached");
    cache.validation(&request)
}

#[test]
fn a_repeated_text_is_parsed_once_and_the_same_request_is_looked_up_once() {
    let cache = DocumentCache::default();
    assert!(!hit(&cache, "{ __typename }"));
    assert!(hit(&cache, "{ __typename }"));
    assert!(!hit(&cache, "{  __typename }"), "keyed by the exact text");
    let mut request = Request::new("{ __typename }");
    cache.attach(&mut request).expect("attached");
    cache.attach(&mut request).expect("attached");
    let counts = cache.counts();
    assert_eq!((counts.parse_hits, counts.parse_misses, counts.entries), (2, 2, 2));
}

#[test]
fn the_least_recently_used_text_goes_first_beyond_the_entry_limit() {
    let cache = DocumentCache::new(2, usize::MAX);
    for name in ["A", "B"] {
        hit(&cache, &text(name, 40));
    }
    assert!(hit(&cache, &text("A", 40)));
    hit(&cache, &text("C", 40));
    assert_eq!(cache.counts().entries, 2);
    assert!(hit(&cache, &text("A", 40)));
    assert!(!hit(&cache, &text("B", 40)), "B was the least recently used");
}

#[test]
fn texts_beyond_the_byte_budget_evict_older_ones() {
    let cache = DocumentCache::new(512, 100);
    for name in ["A", "B", "C"] {
        hit(&cache, &text(name, 40));
    }
    assert_eq!(cache.counts().entries, 2);
    assert!(!hit(&cache, &text("A", 40)));
}

#[test]
fn oversized_texts_credentials_and_unparsable_texts_are_not_kept() {
    let cache = DocumentCache::default();
    let long = text("Long", MAX_TEXT_BYTES + 1);
    assert!(!hit(&cache, &long));
    assert!(!hit(&cache, &long));
    hit(&cache, &text("Fits", MAX_TEXT_BYTES));
    assert!(hit(&cache, &text("Fits", MAX_TEXT_BYTES)));
    let sign_in = r#"mutation { signIn(input: { email: "a@b.c", password: "secret" }) { accessToken } }"#;
    assert!(!hit(&cache, sign_in));
    assert!(!hit(&cache, sign_in));
    let mut broken = Request::new("{");
    cache.attach(&mut broken).expect("attached");
    assert_eq!(cache.counts().entries, 1);
    assert!(cache.validation(&broken).is_none());
    assert!(validation(&cache, &long, json!({})).is_none());
}

#[test]
fn a_validation_is_kept_for_its_variables_and_operation_only() {
    let cache = DocumentCache::default();
    let query = "query Q($n: Int) { __typename }";
    let Some(Validation::Remember(key)) = validation(&cache, query, json!({ "n": 1 })) else { panic!("a miss") };
    cache.remember(key, RESULT);
    let Some(Validation::Cached(cached)) = validation(&cache, query, json!({ "n": 1 })) else { panic!("a hit") };
    assert_eq!(cached.complexity, RESULT.complexity);
    assert!(matches!(validation(&cache, query, json!({ "n": 2 })), Some(Validation::Remember(_))));
    let mut named = Request::new(query).variables(Variables::from_json(json!({ "n": 1 })));
    named = named.operation_name("Q");
    cache.attach(&mut named).expect("attached");
    assert!(matches!(cache.validation(&named), Some(Validation::Remember(_))));
    let big = json!({ "n": "x".repeat(MAX_VARIABLES_BYTES) });
    assert!(validation(&cache, query, big).is_none());
    let counts = cache.counts();
    assert_eq!((counts.validation_hits, counts.validation_misses), (1, 4));
}

#[test]
fn each_text_keeps_its_most_recent_validations() {
    let cache = DocumentCache::default();
    let query = "query($n: Int) { __typename }";
    for n in 0..=MAX_VALIDATIONS {
        let Some(Validation::Remember(key)) = validation(&cache, query, json!({ "n": n })) else { panic!("a miss") };
        cache.remember(key, RESULT);
    }
    assert!(matches!(validation(&cache, query, json!({ "n": 0 })), Some(Validation::Remember(_))));
    assert!(matches!(validation(&cache, query, json!({ "n": MAX_VALIDATIONS })), Some(Validation::Cached(_))));
}
