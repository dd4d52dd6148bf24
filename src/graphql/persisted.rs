//! Persisted documents (issue 14): a request may name its document instead of sending it —
//! by hash (`extensions.persistedQuery`, Apollo's automatic persisted queries, urql's
//! `persistedExchange`) or by id (`documentId`, the GraphQL over HTTP persisted-documents
//! appendix). Two sources answer the name: the trusted manifest ([`super::trusted`], loaded at
//! start, already parsed and validated) and the automatic store below, which learns a text the
//! first time a client sends it with its hash.
//!
//! The automatic store is per instance and bounded ([`MAX_AUTOMATIC_DOCUMENTS`],
//! [`MAX_AUTOMATIC_BYTES`], least recently used first out): a miss answers
//! `PersistedQueryNotFound` (`PERSISTED_QUERY_NOT_FOUND`), on which Apollo Client and urql send
//! the text with its hash once more, so an instance that never saw a document, or forgot it,
//! costs one retry. A text is learnt only once its SHA-256 is checked against the hash sent
//! with it and it has parsed, so nobody can plant a text under another text's hash.
//!
//! With `TRUSTED_DOCUMENTS_ONLY`, nothing is learnt: a name the manifest lacks is refused
//! (`PERSISTED_QUERY_NOT_IN_LIST`), and so is a request that sends only text
//! (`PERSISTED_QUERY_ID_REQUIRED`).

use std::sync::{Arc, Mutex};

use async_graphql::{Request, ServerError, ServerResult, Value};
use lru::LruCache;
use sha2::{Digest, Sha256};

use super::limits::coded;
use super::trusted::{TrustedDocument, TrustedDocuments, TrustedError};

/// The most texts the automatic store keeps per instance.
pub const MAX_AUTOMATIC_DOCUMENTS: usize = 1024;
/// The most bytes of text the automatic store keeps per instance.
pub const MAX_AUTOMATIC_BYTES: usize = 1024 * 1024;

/// Where the HTTP and WebSocket layers put a request's top-level `documentId` (async-graphql's
/// request has no field for it; its `extensions` map travels over both transports).
pub const DOCUMENT_ID: &str = "documentId";
/// The APQ extension.
const PERSISTED_QUERY: &str = "persistedQuery";

/// The name of a persisted document.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DocumentKey {
    /// The SHA-256 of the document's text: `sha256:<hex>`, or bare hex as APQ sends it.
    Sha256([u8; 32]),
    /// Any other id (an Apollo manifest may use its own), matched as given.
    Custom(Box<str>),
}

impl DocumentKey {
    /// Reads a document id: `sha256:<64 hex digits>` or 64 hex digits name a hash; an id with
    /// another prefix, or none, is a custom id. `sha256:` followed by anything but a hash is
    /// malformed.
    pub fn parse_id(id: &str) -> Result<Self, String> {
        if id.is_empty() {
            return Err("the document id is empty".to_owned());
        }
        match id.strip_prefix("sha256:") {
            Some(hex) => {
                decode(hex).map(Self::Sha256).ok_or_else(|| format!("`{id}` is not sha256: and 64 hex digits"))
            }
            None => Ok(decode(id).map_or_else(|| Self::Custom(id.into()), Self::Sha256)),
        }
    }

    /// Reads an APQ `sha256Hash`: 64 hex digits, optionally after `sha256:`.
    pub fn parse_hash(hash: &str) -> Result<Self, String> {
        decode(hash.strip_prefix("sha256:").unwrap_or(hash))
            .map(Self::Sha256)
            .ok_or_else(|| "`sha256Hash` must be 64 hex digits, optionally after `sha256:`".to_owned())
    }

    /// The key of a text: its SHA-256.
    pub fn of_text(text: &str) -> Self {
        Self::Sha256(Sha256::digest(text.as_bytes()).into())
    }
}

impl std::fmt::Display for DocumentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sha256(hash) => {
                f.write_str("sha256:")?;
                hash.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
            }
            Self::Custom(id) => f.write_str(id),
        }
    }
}

/// 64 hex digits (either case) as 32 bytes.
fn decode(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut hash = [0_u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        hash[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(hash)
}

/// The name a request gives its document, if any: `extensions.documentId` (where the transports
/// put `documentId`) or `extensions.persistedQuery`. A malformed one is the client's error.
pub fn requested_key(request: &Request) -> Result<Option<DocumentKey>, String> {
    if let Some(id) = request.extensions.get(DOCUMENT_ID) {
        let Value::String(id) = id else { return Err("`documentId` must be a string".to_owned()) };
        return DocumentKey::parse_id(id).map(Some);
    }
    let Some(persisted) = request.extensions.get(PERSISTED_QUERY).filter(|p| **p != Value::Null) else {
        return Ok(None);
    };
    let Value::Object(persisted) = persisted else {
        return Err("`extensions.persistedQuery` must be an object".to_owned());
    };
    if persisted.get("version") != Some(&Value::from(1)) {
        return Err("`extensions.persistedQuery.version` must be 1".to_owned());
    }
    match persisted.get("sha256Hash") {
        Some(Value::String(hash)) => DocumentKey::parse_hash(hash).map(Some),
        _ => Err("`extensions.persistedQuery.sha256Hash` must be a string".to_owned()),
    }
}

/// Moves a WebSocket `subscribe` (or legacy `start`) message's `payload.documentId` into
/// `payload.extensions`, where the request async-graphql reads from the payload keeps it (it has
/// no field of its own for it); `None` when there is nothing to move.
pub fn lift_document_id(message: &[u8]) -> Option<Vec<u8>> {
    let needle = br#""documentId""#;
    if !message.windows(needle.len()).any(|w| w == needle) {
        return None;
    }
    let mut message: serde_json::Value = serde_json::from_slice(message).ok()?;
    let payload = message.get_mut("payload")?.as_object_mut()?;
    let id = payload.remove(DOCUMENT_ID)?;
    let extensions = payload.entry("extensions").or_insert_with(|| serde_json::json!({}));
    extensions.as_object_mut()?.insert(DOCUMENT_ID.to_owned(), id);
    serde_json::to_vec(&message).ok()
}

/// What a request's name resolved to.
pub(super) enum Resolved {
    /// Its text (sent, or recalled from the automatic store) is to be parsed as usual.
    Text,
    /// Its text, whose hash was checked, is to be parsed and then learnt under this hash.
    Learn([u8; 32]),
    /// A trusted document: parsed and validated at start.
    Trusted(Arc<TrustedDocument>),
}

/// The trusted manifest, the automatic store, and the mode.
#[derive(Default)]
pub struct Persisted {
    trusted: TrustedDocuments,
    only: bool,
    automatic: Mutex<Automatic>,
}

/// Learnt texts by hash, least recently used first out.
struct Automatic {
    texts: LruCache<[u8; 32], Arc<str>>,
    bytes: usize,
}

impl Default for Automatic {
    fn default() -> Self {
        Self { texts: LruCache::unbounded(), bytes: 0 }
    }
}

impl Persisted {
    /// Serves `trusted`; with `only`, nothing else.
    pub fn new(trusted: TrustedDocuments, only: bool) -> Self {
        Self { trusted, only, automatic: Mutex::default() }
    }

    /// The trusted documents `TRUSTED_DOCUMENTS` names, checked against the schema, and the
    /// mode `TRUSTED_DOCUMENTS_ONLY` sets.
    pub async fn from_config(config: &crate::config::Config) -> Result<Self, TrustedError> {
        let trusted = match &config.trusted_documents {
            Some(path) => TrustedDocuments::load(path, config.graphql_introspection).await?,
            None if config.trusted_documents_only => return Err(TrustedError::NoManifest),
            None => TrustedDocuments::default(),
        };
        if let Some(path) = &config.trusted_documents {
            let only = if config.trusted_documents_only { "; nothing else runs, the playground is off" } else { "" };
            tracing::info!("{} trusted documents from {}{only}", trusted.len(), path.display());
        }
        Ok(Self::new(trusted, config.trusted_documents_only))
    }

    /// Whether only trusted documents run.
    pub fn trusted_only(&self) -> bool {
        self.only
    }

    /// Puts the text a request names into it, or refuses the request.
    pub(super) fn resolve(&self, request: &mut Request) -> ServerResult<Resolved> {
        let key = requested_key(request).map_err(|message| coded(ServerError::new(message, None), "BAD_REQUEST"))?;
        let Some(key) = key else {
            if self.only {
                let message =
                    "this server runs only its trusted documents: send a documentId or a persisted query hash";
                return Err(refusal(message, "PERSISTED_QUERY_ID_REQUIRED"));
            }
            return Ok(Resolved::Text);
        };
        let has_text = !request.query.is_empty();
        if has_text
            && let DocumentKey::Sha256(hash) = &key
            && DocumentKey::of_text(&request.query) != DocumentKey::Sha256(*hash)
        {
            return Err(refusal(
                "the persisted query hash is not the SHA-256 of the query text",
                "PERSISTED_QUERY_HASH_MISMATCH",
            ));
        }
        if let Some(trusted) = self.trusted.get(&key) {
            request.query.clone_from(&trusted.text);
            return Ok(Resolved::Trusted(trusted));
        }
        if self.only {
            return Err(refusal(
                "PersistedQueryNotInList: no trusted document has this id",
                "PERSISTED_QUERY_NOT_IN_LIST",
            ));
        }
        match (key, has_text) {
            (DocumentKey::Sha256(hash), true) => Ok(Resolved::Learn(hash)),
            (_, true) => Ok(Resolved::Text),
            (DocumentKey::Sha256(hash), false) => match self.recall(&hash) {
                Some(text) => {
                    request.query = String::from(&*text);
                    Ok(Resolved::Text)
                }
                None => Err(refusal("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")),
            },
            (DocumentKey::Custom(_), false) => Err(refusal("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")),
        }
    }

    fn recall(&self, hash: &[u8; 32]) -> Option<Arc<str>> {
        self.automatic.lock().ok()?.texts.get(hash).cloned()
    }

    /// Learns `text` (already checked against `hash`, and parsed) unless it is too long to keep.
    pub(super) fn learn(&self, hash: [u8; 32], text: &str) {
        if text.len() > super::MAX_QUERY_BYTES {
            return;
        }
        let Ok(mut automatic) = self.automatic.lock() else { return };
        if automatic.texts.contains(&hash) {
            return;
        }
        automatic.bytes += text.len();
        automatic.texts.push(hash, text.into());
        while automatic.texts.len() > MAX_AUTOMATIC_DOCUMENTS || automatic.bytes > MAX_AUTOMATIC_BYTES {
            let Some((_, text)) = automatic.texts.pop_lru() else { break };
            automatic.bytes -= text.len();
        }
    }

    /// How many texts the automatic store holds.
    pub fn learnt(&self) -> usize {
        self.automatic.lock().map_or(0, |automatic| automatic.texts.len())
    }
}

fn refusal(message: &str, code: &str) -> ServerError {
    coded(ServerError::new(message, None), code)
}

#[cfg(test)]
mod tests;
