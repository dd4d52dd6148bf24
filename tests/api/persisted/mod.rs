//! Persisted documents (issue 14) over real HTTP and WebSocket, in the request shapes Apollo
//! Client's `PersistedQueryLink`, urql's `persistedExchange` and the GraphQL over HTTP
//! persisted-documents appendix send: automatic persisted queries, documents by id, trusted
//! manifests and the trusted-documents-only mode; the caching headers of `/graphql`; and
//! scopes (issue 15), which hold for a document by id or hash as for its text.

mod apq;
mod caching;
mod scopes;
mod support;
mod trusted;
mod trusted_only;
