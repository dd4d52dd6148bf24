//! The GraphQL over HTTP request parameters, read strictly from a JSON body or a query string.
//! A request names its document instead of sending it with `documentId` or
//! `extensions.persistedQuery` (`crate::graphql::Persisted` finds it).

use async_graphql::{Request, Variables};
use serde_json::{Map, Value};

/// Turns a JSON body into a GraphQL request, or says what is wrong with it.
pub fn from_json(body: &[u8]) -> Result<Request, String> {
    if body.is_empty() {
        return Err("the request body is empty; send {\"query\": \"…\"}".to_owned());
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    match value {
        Value::Object(map) => from_map(map),
        Value::Array(_) => {
            Err("batched requests (a JSON array) are not accepted; send one request per call".to_owned())
        }
        _ => Err("the body must be a JSON object".to_owned()),
    }
}

/// A body that sends its document as text, with no extensions and no `documentId`, read
/// without building a request: the text and operation name are borrowed from the body (copied
/// only when they hold escapes), the variables checked to be an object and skipped. What the
/// answer to a refused token needs, and no more (`http::graphql`); `None` for any other body,
/// which [`from_json`] reads and judges.
pub fn peek_text(body: &[u8]) -> Option<Text<'_>> {
    serde_json::from_slice::<Text<'_>>(body).ok().filter(|text| !text.query.is_empty())
}

/// What [`peek_text`] reads.
#[derive(serde::Deserialize)]
pub struct Text<'a> {
    /// The document.
    #[serde(borrow)]
    pub query: std::borrow::Cow<'a, str>,
    /// The operation to run.
    #[serde(rename = "operationName", default, borrow)]
    pub operation_name: Option<std::borrow::Cow<'a, str>>,
    /// Checked while reading, then of no use: the answer is a refusal.
    #[serde(default, rename = "variables")]
    _variables: ObjectOrNull,
    #[serde(default, rename = "extensions")]
    _extensions: Null,
    #[serde(rename = "documentId", default)]
    _document_id: Refused,
}

/// Any JSON object, or `null`: its contents are skipped.
#[derive(Default)]
struct ObjectOrNull;

/// Only `null`.
#[derive(Default)]
struct Null;

/// No value at all: a present key makes the body not plain text.
#[derive(Default)]
struct Refused;

impl<'de> serde::Deserialize<'de> for ObjectOrNull {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ObjectOrNull;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object or null")
            }
            fn visit_unit<E>(self) -> Result<ObjectOrNull, E> {
                Ok(ObjectOrNull)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<ObjectOrNull, A::Error> {
                while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
                Ok(ObjectOrNull)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl<'de> serde::Deserialize<'de> for Null {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <()>::deserialize(deserializer).map(|()| Null)
    }
}

impl<'de> serde::Deserialize<'de> for Refused {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom("not a plain text request"))
    }
}

/// Turns URL query parameters into a GraphQL request.
pub fn from_query_string(query: &str) -> Result<Request, String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|e| format!("the query string is malformed: {e}"))?;
    let mut map = Map::new();
    for (key, value) in pairs {
        let value = match key.as_str() {
            "variables" | "extensions" => {
                serde_json::from_str(&value).map_err(|e| format!("`{key}` is not valid JSON: {e}"))?
            }
            _ => Value::String(value),
        };
        map.insert(key, value);
    }
    from_map(map)
}

fn from_map(mut map: Map<String, Value>) -> Result<Request, String> {
    let persisted = map.contains_key("documentId")
        || map.get("extensions").and_then(|e| e.get("persistedQuery")).is_some_and(|p| !p.is_null());
    let query = match map.remove("query") {
        Some(Value::String(query)) => query,
        Some(Value::Null) | None if persisted => String::new(),
        Some(_) => return Err("`query` must be a string".to_owned()),
        None => return Err("the `query` parameter is missing".to_owned()),
    };
    let mut request = Request::new(query);
    match map.remove("operationName") {
        Some(Value::String(name)) => request = request.operation_name(name),
        Some(Value::Null) | None => {}
        Some(_) => return Err("`operationName` must be a string or null".to_owned()),
    }
    match map.remove("variables") {
        Some(Value::Object(vars)) => request = request.variables(Variables::from_json(Value::Object(vars))),
        Some(Value::Null) | None => {}
        Some(_) => return Err("`variables` must be an object or null".to_owned()),
    }
    match map.remove("extensions") {
        Some(Value::Object(extensions)) => {
            request.extensions = async_graphql::Extensions(
                extensions
                    .into_iter()
                    .filter_map(|(key, value)| Some((key, async_graphql::Value::from_json(value).ok()?)))
                    .collect(),
            );
        }
        Some(Value::Null) | None => {}
        Some(_) => return Err("`extensions` must be an object or null".to_owned()),
    }
    match map.remove("documentId") {
        Some(Value::String(id)) => {
            request.extensions.insert(crate::graphql::DOCUMENT_ID.to_owned(), async_graphql::Value::String(id));
        }
        Some(_) => return Err("`documentId` must be a string".to_owned()),
        None => {}
    }
    crate::graphql::requested_key(&request)?;
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_text_body_is_peeked_and_anything_else_is_left_to_from_json() {
        let peeked = |body: &str| {
            peek_text(body.as_bytes()).map(|t| (t.query.into_owned(), t.operation_name.map(|n| n.into_owned())))
        };
        assert_eq!(peeked(r#"{"query":"{ me { id } }"}"#), Some(("{ me { id } }".to_owned(), None)));
        let named = peeked(
            r#"{"query":"query A { me { id } }","operationName":"A","variables":{"x":[1,{"y":2}]},"extensions":null}"#,
        );
        assert_eq!(named.map(|(_, name)| name), Some(Some("A".to_owned())));
        assert!(peeked(r#"{"query":"{ me { id } }","variables":null,"operationName":null,"other":1}"#).is_some());
        // Escapes are read, not refused.
        assert_eq!(peeked(r#"{"query":"{ me { \u0069d } }"}"#).map(|(q, _)| q), Some("{ me { id } }".to_owned()));
        for body in [
            r#"{"query":"{ me { id } }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"ab"}}}"#,
            r#"{"query":"{ me { id } }","extensions":{}}"#,
            r#"{"query":"","documentId":"sha256:ab"}"#,
            r#"{"query":"{ me { id } }","documentId":null}"#,
            r#"{"query":"{ me { id } }","variables":[1]}"#,
            r#"{"query":"{ me { id } }","variables":"{}"}"#,
            r#"{"query":"{ me { id } }","operationName":7}"#,
            r#"{"query":"{ me { id } }","query":"{ todos { totalCount } }"}"#,
            r#"{"query":""}"#,
            r#"{"query":null}"#,
            r#"[{"query":"{ me { id } }"}]"#,
            r#"{"query":"{ me { id } }"} trailing"#,
            "",
        ] {
            assert!(peeked(body).is_none(), "{body}");
        }
    }
}
