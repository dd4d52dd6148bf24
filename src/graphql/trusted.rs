//! Trusted documents (issue 14): `TRUSTED_DOCUMENTS=path` loads a manifest of the operations a
//! frontend ships, in either format its build tools write:
//!
//! - GraphQL Code Generator's client preset (`persistedDocuments: true`):
//!   `{"sha256:<hex>": "query …", …}`, also Relay's `{"<id>": "query …"}`;
//! - Apollo's `apollo-persisted-query-manifest`:
//!   `{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "name", "type", "body"}]}`.
//!
//! At start every document goes through every check a request's document gets — the length
//! and nesting limits, parsing, the hostile-document limits and the full validation against
//! this server's schema (with its introspection setting) — and a `sha256` id must be the hash of
//! its text. Any failure refuses the start, naming each document: the deploy-time check that a
//! frontend and this backend still agree. At run time a trusted document is never parsed
//! again, and each of its operations is validated once per set of variables (variables set the
//! complexity a request is charged, [`super::admission`]): the validations are kept with the
//! document, never evicted by other texts ([`super::DocumentCache`]).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument};
use async_graphql::{Request, Response, ValidationResult};
use serde_json::Value;

use super::persisted::DocumentKey;

/// One trusted document, parsed and validated at start.
pub struct TrustedDocument {
    /// Its text, as the manifest holds it.
    pub(super) text: String,
    /// Its parsed form.
    pub(super) document: ExecutableDocument,
    /// Successful validations by operation name and serialised variables, least recently used
    /// first (at most [`super::cache::MAX_VALIDATIONS`]).
    pub(super) validated: Mutex<Vec<(Option<String>, String, ValidationResult)>>,
}

/// The documents of a manifest, by id.
#[derive(Default)]
pub struct TrustedDocuments(HashMap<DocumentKey, Arc<TrustedDocument>>);

/// Why the manifest cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TrustedError {
    /// It cannot be read or is not a manifest.
    #[error("TRUSTED_DOCUMENTS={path}: {reason}")]
    Unreadable {
        /// The configured path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Some documents do not pass the checks.
    #[error(
        "TRUSTED_DOCUMENTS={path}: {} of {total} documents no longer validate against this server's schema:{}",
        failures.len(),
        failures.iter().map(|f| format!("\n  {f}")).collect::<String>()
    )]
    Invalid {
        /// The configured path.
        path: String,
        /// Documents in the manifest.
        total: usize,
        /// One line per failing document: its id (and name), then what is wrong.
        failures: Vec<String>,
    },
    /// `TRUSTED_DOCUMENTS_ONLY` without a manifest.
    #[error("TRUSTED_DOCUMENTS_ONLY=true needs TRUSTED_DOCUMENTS=<manifest path>")]
    NoManifest,
}

impl TrustedDocuments {
    /// The trusted document named `key`.
    pub(super) fn get(&self, key: &DocumentKey) -> Option<Arc<TrustedDocument>> {
        self.0.get(key).cloned()
    }

    /// How many documents there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Reads the manifest at `path` and checks every document against the schema (served with
    /// introspection when `introspection`).
    pub async fn load(path: &Path, introspection: bool) -> Result<Self, TrustedError> {
        let shown = path.display().to_string();
        let unreadable = |reason: String| TrustedError::Unreadable { path: shown.clone(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
        let entries = entries(&text).map_err(unreadable)?;
        let schema = checking_schema(introspection);
        let (total, mut documents, mut failures) =
            (entries.len(), HashMap::<_, Arc<TrustedDocument>>::new(), Vec::new());
        for Entry { id, name, body } in entries {
            let label = match name.or_else(|| operation_names(&body)) {
                Some(name) => format!("{id} ({name})"),
                None => id.clone(),
            };
            match check(&schema, &id, &body).await {
                Ok((key, document)) => match documents.get(&key) {
                    Some(other) if other.text != body => {
                        failures.push(format!("{label}: another document has this id"))
                    }
                    _ => {
                        let validated = Mutex::default();
                        documents.insert(key, Arc::new(TrustedDocument { text: body, document, validated }));
                    }
                },
                Err(problem) => failures.push(format!("{label}: {problem}")),
            }
        }
        if !failures.is_empty() {
            return Err(TrustedError::Invalid { path: shown, total, failures });
        }
        Ok(Self(documents))
    }
}

/// One manifest entry.
struct Entry {
    id: String,
    name: Option<String>,
    body: String,
}

/// The entries of a manifest in either format.
fn entries(text: &str) -> Result<Vec<Entry>, String> {
    let manifest: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(manifest) = manifest else { return Err("not a JSON object".to_owned()) };
    let Some(format) = manifest.get("format") else {
        return manifest
            .into_iter()
            .map(|(id, body)| match body {
                Value::String(body) => Ok(Entry { id, name: None, body }),
                _ => Err(format!("the value of {id} is not a document text")),
            })
            .collect();
    };
    if format != "apollo-persisted-query-manifest" || manifest.get("version") != Some(&Value::from(1)) {
        return Err("an unknown manifest format (expected apollo-persisted-query-manifest, version 1)".to_owned());
    }
    let Some(Value::Array(operations)) = manifest.get("operations") else {
        return Err("`operations` is not an array".to_owned());
    };
    operations
        .iter()
        .enumerate()
        .map(|(i, operation)| {
            let field = |name: &str| operation.get(name).and_then(Value::as_str).map(str::to_owned);
            match (field("id"), field("body")) {
                (Some(id), Some(body)) => Ok(Entry { id, name: field("name"), body }),
                _ => Err(format!("operation {i} lacks a string `id` or `body`")),
            }
        })
        .collect()
}

/// Checks one document as a request's document is checked, and its id against its text.
async fn check(schema: &super::AppSchema, id: &str, body: &str) -> Result<(DocumentKey, ExecutableDocument), String> {
    let key = DocumentKey::parse_id(id)?;
    if matches!(key, DocumentKey::Sha256(_)) && key != DocumentKey::of_text(body) {
        return Err("its id is not the SHA-256 of its text".to_owned());
    }
    let mut request = Request::new(body);
    // The limits extension refuses a text too long or too deep before anything parses it.
    super::DocumentCache::default().attach(&mut request).map_err(|e| describe(&e))?;
    let document = request.parsed_query().map_err(|e| describe(&e))?.clone();
    // Validation visits every operation of the document, whichever is named.
    if let DocumentOperations::Multiple(operations) = &document.operations
        && let Some(name) = operations.keys().next()
    {
        request = request.operation_name(name.as_str());
    }
    match schema.execute(request).await.errors.first() {
        Some(error) => Err(describe(error)),
        None => Ok((key, document)),
    }
}

/// The names of a document's operations, to name it by in errors (a codegen manifest has only
/// ids); none if it cannot safely be parsed.
fn operation_names(text: &str) -> Option<String> {
    super::shape::check_size(text).ok()?;
    super::shape::check_text(text).ok()?;
    let document = async_graphql::parser::parse_query(text).ok()?;
    let names: Vec<&str> = document.operations.iter().filter_map(|(name, _)| name.map(|n| n.as_str())).collect();
    (!names.is_empty()).then(|| names.join(", "))
}

/// An error as one line: its message, code and position.
fn describe(error: &async_graphql::ServerError) -> String {
    let code = match error.extensions.as_ref().and_then(|e| e.get("code")) {
        Some(async_graphql::Value::String(code)) => format!(" ({code})"),
        _ => String::new(),
    };
    let at = error.locations.first().map(|p| format!(" at {}:{}", p.line, p.column)).unwrap_or_default();
    // The parser's message draws the line with a caret under the spot; the last line says what
    // is wrong, and the position says where.
    let message = error.message.lines().map(str::trim).rfind(|line| !line.is_empty()).unwrap_or_default();
    format!("{}{code}{at}", message.trim_start_matches("= "))
}

/// The schema with every check of the served one, stopping before anything executes.
fn checking_schema(introspection: bool) -> super::AppSchema {
    let mut builder = super::builder(Some(super::limits::Limits::new(Arc::default(), std::time::Duration::MAX)))
        .extension(StopBeforeExecution);
    if !introspection {
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder.finish()
}

/// Ends a request once it has been prepared (parsed, checked, validated), before it executes.
struct StopBeforeExecution;

impl ExtensionFactory for StopBeforeExecution {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(StopBeforeExecution)
    }
}

#[async_trait::async_trait]
impl Extension for StopBeforeExecution {
    async fn execute(&self, _: &ExtensionContext<'_>, _: Option<&str>, _: NextExecute<'_>) -> Response {
        Response::default()
    }
}

/// A request's trusted document, when [`super::DocumentCache::attach`] gave it one.
pub(super) fn prevalidated(request: &Request) -> Option<Arc<TrustedDocument>> {
    request.data.get(&std::any::TypeId::of::<Prevalidated>())?.downcast_ref::<Prevalidated>().map(|p| p.0.clone())
}

/// Marks a request whose document is a trusted one.
pub(super) struct Prevalidated(pub(super) Arc<TrustedDocument>);
