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
