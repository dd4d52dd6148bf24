//! The document cache (issue 8): each distinct query text is parsed once, and each distinct
//! (query text, operation name, variables) validated once.
//!
//! Parsing the load test's read takes about 6 µs and cloning its parsed document about 0.2 µs
//! (`cargo bench --bench document`), so a hit hands async-graphql a clone: async-graphql
//! takes the document by value and strips it as it prepares the operation. Validation
//! (`check_rules`) depends on the document, the operation name and the variables (variables
//! set the complexity of `first: $n`), and on nothing else that changes between requests of
//! one schema; a hit returns the [`ValidationResult`] the first validation gave. Only
//! successes are kept: a refused request is validated afresh every time, so its errors keep
//! their positions and messages. The limits that do not depend on validation (the hostile
//! document checks, async-graphql's recursion and directive checks) still run every time.
//!
//! Bounds: at most [`MAX_ENTRIES`] texts of at most [`MAX_TEXT_BYTES`] bytes each, with at
//! most [`MAX_VALIDATIONS`] validations each whose operation name and variables weigh at most
//! [`MAX_VARIABLES_BYTES`], all together at most [`BUDGET_BYTES`] of text; the least recently
//! used text goes first, with its validations. A parsed document takes 20 (typical) to 100
//! (crafted) times its text in memory, so the budget bounds the cache to a few MiB.
//!
//! Operations that carry credentials (`signUp`, `signIn`, `refreshSession`, `signOut`) are
//! never cached: their variables hold passwords and refresh tokens, which must not outlive
//! the request, and argon2 dwarfs what a cache would save them.

use std::any::TypeId;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, ServerError, ServerResult, ValidationResult};
use lru::LruCache;

use super::persisted::{Persisted, Resolved};
use super::shape;
use super::trusted::{Prevalidated, TrustedDocument};

/// The most query texts kept.
pub const MAX_ENTRIES: usize = 512;
/// The longest query text kept.
pub const MAX_TEXT_BYTES: usize = 4 * 1024;
/// The most an operation name and its serialised variables may weigh for their validation
/// to be kept.
pub const MAX_VARIABLES_BYTES: usize = 1024;
/// The most validations kept per query text; the least recently used goes first.
pub const MAX_VALIDATIONS: usize = 8;
/// The most bytes of query texts, operation names and variables kept in all.
pub const BUDGET_BYTES: usize = 64 * 1024;

/// A bounded cache of parsed documents and of their successful validations.
pub struct DocumentCache {
    entries: Mutex<Entries>,
    max_entries: usize,
    budget: usize,
    parse: [AtomicU64; 2],
    validation: [AtomicU64; 2],
    /// Documents named by hash or id instead of sent ([`super::persisted`]).
    persisted: Persisted,
}

/// Lookups so far: each stage's hits, and misses (work done afresh, also for what is never
/// cached).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheCounts {
    /// Documents handed out of the cache.
    pub parse_hits: u64,
    /// Documents parsed.
    pub parse_misses: u64,
    /// Validations skipped.
    pub validation_hits: u64,
    /// Validations run.
    pub validation_misses: u64,
    /// Query texts held now.
    pub entries: usize,
}

/// What the validation hook does for one request.
pub(super) enum Validation {
    /// Returns this result without validating.
    Cached(ValidationResult),
    /// Validates, and keeps a success under this key.
    Remember(Key),
}

/// What a validation depends on besides the schema.
pub(super) struct Key {
    text: String,
    operation: Option<String>,
    variables: String,
    /// The trusted document the request named, which keeps its own validations.
    trusted: Option<Arc<TrustedDocument>>,
}

struct Entries {
    lru: LruCache<Box<str>, Entry>,
    bytes: usize,
}

struct Entry {
    document: Arc<ExecutableDocument>,
    /// Successful validations, least recently used first.
    validated: Vec<Validated>,
}

/// A successful validation: the operation name, the serialised variables, the result.
type Validated = (Option<String>, String, ValidationResult);

/// The bytes a validation adds to the cache's budget.
fn weight((operation, variables, _): &Validated) -> usize {
    operation.as_ref().map_or(0, String::len) + variables.len()
}

/// Marks a request whose document [`DocumentCache::attach`] has provided, or refused.
struct Attached(Option<ServerError>);

impl Default for DocumentCache {
    fn default() -> Self {
        Self::new(MAX_ENTRIES, BUDGET_BYTES)
    }
}

impl DocumentCache {
    /// A cache of at most `max_entries` texts and `budget` bytes (zero entries: no cache).
    pub fn new(max_entries: usize, budget: usize) -> Self {
        let entries = Mutex::new(Entries { lru: LruCache::unbounded(), bytes: 0 });
        let (parse, validation, persisted) = Default::default();
        Self { entries, max_entries, budget, parse, validation, persisted }
    }

    /// The same cache, serving persisted documents from `persisted`.
    pub fn with_persisted(self, persisted: Persisted) -> Self {
        Self { persisted, ..self }
    }

    /// The persisted documents this cache serves.
    pub fn persisted(&self) -> &Persisted {
        &self.persisted
    }

    /// Gives `request` its parsed document: a copy of the cached one, or a fresh parse (then
    /// kept) — unless the text is too long or nests too deep to be walked safely
    /// ([`super::shape`]), which is refused before anything parses or walks it. A request that
    /// names its document by hash or id gets the trusted document's parsed copy, or the text
    /// the name stands for, parsed as above ([`super::persisted`]). Once per
    /// request: the HTTP layer calls it first, the limits extension again (for WebSocket
    /// operations), and the second call repeats the first's answer. A text that does not parse
    /// is left to async-graphql, which reports it.
    pub fn attach(&self, request: &mut Request) -> ServerResult<()> {
        if let Some(Attached(refused)) =
            request.data.get(&TypeId::of::<Attached>()).and_then(|data| data.downcast_ref::<Attached>())
        {
            return refused.clone().map_or(Ok(()), Err);
        }
        let attached = self.parse(request);
        request.data.insert(Attached(attached.clone().err()));
        attached
    }

    /// Whether the operation `operation_name` selects in the document text `query` (sent as
    /// text, not named by a hash or an id) has only public root fields, read from the cache
    /// when the text is there (parsed and checked when it was kept); `None` otherwise, and then
    /// [`attach`](Self::attach) decides. For a refused token, before any request is built.
    pub fn cached_publicity(&self, query: &str, operation_name: Option<&str>) -> Option<bool> {
        if query.is_empty() || self.persisted.trusted_only() {
            return None;
        }
        let document = self.lock()?.lru.get(query)?.document.clone();
        self.parse[0].fetch_add(1, Relaxed);
        Some(super::is_public_operation(&document, operation_name))
    }

    fn parse(&self, request: &mut Request) -> ServerResult<()> {
        match self.persisted.resolve(request)? {
            Resolved::Text => self.parse_text(request),
            Resolved::Learn(hash) => {
                self.parse_text(request)?;
                if request.parsed_query().is_ok() {
                    self.persisted.learn(hash, &request.query);
                }
                Ok(())
            }
            Resolved::Trusted(trusted) => {
                self.parse[0].fetch_add(1, Relaxed);
                request.set_parsed_query(trusted.document.clone());
                request.data.insert(Prevalidated(trusted));
                Ok(())
            }
        }
    }

    fn parse_text(&self, request: &mut Request) -> ServerResult<()> {
        let cached =
            self.lock().and_then(|mut entries| entries.lru.get(request.query.as_str()).map(|e| e.document.clone()));
        if let Some(document) = cached {
            self.parse[0].fetch_add(1, Relaxed);
            request.set_parsed_query(ExecutableDocument::clone(&document));
            return Ok(());
        }
        self.parse[1].fetch_add(1, Relaxed);
        shape::check_size(&request.query)?;
        shape::check_text(&request.query)?;
        let keep = self.max_entries > 0 && request.query.len() <= MAX_TEXT_BYTES;
        let text: Box<str> = if keep { request.query.as_str().into() } else { Box::default() };
        let Ok(document) = request.parsed_query() else { return Ok(()) };
        shape::check_document(document)?;
        if !keep || super::carries_credentials(document) {
            return Ok(());
        }
        let entry = Entry { document: Arc::new(document.clone()), validated: Vec::new() };
        if let Some(mut entries) = self.lock()
            && !entries.lru.contains(&text)
        {
            entries.bytes += text.len();
            entries.lru.push(text, entry);
            self.evict(&mut entries);
        }
        Ok(())
    }

    /// How to validate `request`, whose document [`attach`](Self::attach) provided: from the
    /// cache, or afresh (then kept when it succeeds and the text is cached).
    pub(super) fn validation(&self, request: &Request) -> Option<Validation> {
        let found = self.validation_of(request);
        self.validation[usize::from(!matches!(found, Some(Validation::Cached(_))))].fetch_add(1, Relaxed);
        found
    }

    fn validation_of(&self, request: &Request) -> Option<Validation> {
        let trusted = super::trusted::prevalidated(request);
        if trusted.is_none() && request.query.len() > MAX_TEXT_BYTES {
            return None;
        }
        let operation = request.operation_name.clone();
        let mut variables =
            Bounded(Vec::new(), MAX_VARIABLES_BYTES.saturating_sub(operation.as_ref().map_or(0, String::len)));
        serde_json::to_writer(&mut variables, &request.variables).ok()?;
        let variables = String::from_utf8(variables.0).ok()?;
        if let Some(trusted) = trusted {
            let found =
                trusted.validated.lock().ok().and_then(|mut validated| hit(&mut validated, &operation, &variables));
            return Some(found.unwrap_or_else(|| {
                Validation::Remember(Key { text: String::new(), operation, variables, trusted: Some(trusted) })
            }));
        }
        let mut entries = self.lock()?;
        let entry = entries.lru.get_mut(request.query.as_str())?;
        if let Some(found) = hit(&mut entry.validated, &operation, &variables) {
            return Some(found);
        }
        Some(Validation::Remember(Key { text: request.query.clone(), operation, variables, trusted: None }))
    }

    /// Keeps a successful validation.
    pub(super) fn remember(&self, key: Key, result: ValidationResult) {
        if let Some(trusted) = &key.trusted {
            // A trusted document's validations stay with it: a few per document, bounded by
            // the manifest's size rather than by the byte budget of texts.
            if let Ok(mut validated) = trusted.validated.lock()
                && !validated.iter().any(|(o, v, _)| *o == key.operation && *v == key.variables)
            {
                if validated.len() >= MAX_VALIDATIONS {
                    validated.remove(0);
                }
                validated.push((key.operation, key.variables, result));
            }
            return;
        }
        let Some(mut entries) = self.lock() else { return };
        let Some(entry) = entries.lru.peek_mut(key.text.as_str()) else { return };
        if entry.validated.iter().any(|(o, v, _)| *o == key.operation && *v == key.variables) {
            return;
        }
        let mut freed = 0;
        if entry.validated.len() >= MAX_VALIDATIONS {
            freed = weight(&entry.validated.remove(0));
        }
        let validated = (key.operation, key.variables, result);
        let added = weight(&validated);
        entry.validated.push(validated);
        entries.bytes = entries.bytes + added - freed;
        self.evict(&mut entries);
    }

    /// Hits and misses so far, and the texts held.
    pub fn counts(&self) -> CacheCounts {
        CacheCounts {
            parse_hits: self.parse[0].load(Relaxed),
            parse_misses: self.parse[1].load(Relaxed),
            validation_hits: self.validation[0].load(Relaxed),
            validation_misses: self.validation[1].load(Relaxed),
            entries: self.lock().map_or(0, |entries| entries.lru.len()),
        }
    }

    /// Drops the least recently used texts until the cache is within its bounds.
    fn evict(&self, entries: &mut Entries) {
        while entries.lru.len() > self.max_entries || entries.bytes > self.budget {
            let Some((text, entry)) = entries.lru.pop_lru() else { break };
            entries.bytes -= text.len() + entry.validated.iter().map(weight).sum::<usize>();
        }
    }

    /// The entries, unless a panic poisoned the lock (then nothing is cached).
    fn lock(&self) -> Option<MutexGuard<'_, Entries>> {
        self.entries.lock().ok()
    }
}

/// The validation of `operation` with `variables` among `validated`, made the most recently
/// used.
fn hit(validated: &mut Vec<Validated>, operation: &Option<String>, variables: &str) -> Option<Validation> {
    let position = validated.iter().position(|(o, v, _)| o == operation && v == variables)?;
    let hit = validated.remove(position);
    let result = hit.2;
    validated.push(hit);
    Some(Validation::Cached(result))
}

/// A writer that refuses to grow past its bound: variables too long to cache are not
/// serialised in full.
struct Bounded(Vec<u8>, usize);

impl io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.0.len() + buf.len() > self.1 {
            return Err(io::ErrorKind::FileTooLarge.into());
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
