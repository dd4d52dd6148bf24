//! What each REST route requires of a token's scopes: the requirement of the GraphQL fields
//! they stand beside. Reads (`GET`) need `todos:read`; every other method, a write, needs
//! `todos:write` (a method nobody thought of is a write: deny by default).
//!
//! One function decides, and both the [`Caller`](super::caller::Caller)'s check and the
//! OpenAPI document's per-operation `security` read it.

use axum::http::Method;
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::SecurityRequirement;

use crate::auth::scopes::{Requirement, Scope};

/// What a read route requires.
pub const READ: Requirement = Requirement(&[&[Scope::TodosRead]]);
/// What a write route requires.
pub const WRITE: Requirement = Requirement(&[&[Scope::TodosWrite]]);

/// The requirement of a route served with `method`.
pub fn required(method: &Method) -> Requirement {
    if *method == Method::GET || *method == Method::HEAD { READ } else { WRITE }
}

/// Writes each operation's requirement into the document, as the scopes of its `bearer`
/// security requirement (OpenAPI 3.1 allows scopes, "role names", on any scheme).
pub fn document(openapi: &mut OpenApi) {
    for item in openapi.paths.paths.values_mut() {
        let operations: [(Method, &mut Option<Operation>); 5] = [
            (Method::GET, &mut item.get),
            (Method::POST, &mut item.post),
            (Method::PUT, &mut item.put),
            (Method::PATCH, &mut item.patch),
            (Method::DELETE, &mut item.delete),
        ];
        for (method, operation) in operations {
            if let Some(operation) = operation {
                let names: Vec<&str> = required(&method).first().iter().map(Scope::name).collect();
                operation.security = Some(vec![SecurityRequirement::new("bearer", names)]);
            }
        }
    }
}
