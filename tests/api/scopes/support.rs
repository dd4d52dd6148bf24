//! What the scope tests share: the declarations as `todoql schema` prints them, scoped JWTs,
//! and personal access tokens.

#![allow(dead_code)]

use std::collections::BTreeMap;

use async_graphql::Value as ConstValue;
use async_graphql::parser::types::{BaseType, ServiceDocument, Type, TypeKind, TypeSystemDefinition};
use serde_json::{Value, json};

use crate::helpers::{SECRET, TestApp, TestUser, now, sign};

/// Every scope, as the schema spells them.
pub(crate) const SCOPES: [&str; 3] = ["todos:read", "todos:write", "profile:read"];

/// A field's declared requirement: alternatives, each all of its scopes.
pub(crate) type Requirement = Vec<Vec<String>>;

/// Every set of scopes: the 8 subsets of [`SCOPES`].
pub(crate) fn subsets() -> Vec<Vec<&'static str>> {
    (0u8..8)
        .map(|bits| SCOPES.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, s)| *s).collect())
        .collect()
}

/// Whether `held` satisfies `requirement`.
pub(crate) fn allows(requirement: &Requirement, held: &[&str]) -> bool {
    requirement.iter().any(|all| all.iter().all(|scope| held.contains(&scope.as_str())))
}

/// The SDL todoql prints, parsed.
pub(crate) fn schema() -> ServiceDocument {
    async_graphql::parser::parse_schema(todoql::graphql::sdl()).expect("the SDL parses")
}

/// Each `(type, field)`'s `@requiresScopes`, for every object type's field that has one.
pub(crate) fn declarations(document: &ServiceDocument) -> BTreeMap<(String, String), Requirement> {
    let mut found = BTreeMap::new();
    for definition in &document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else { continue };
        let TypeKind::Object(object) = &ty.node.kind else { continue };
        for field in &object.fields {
            let directive = field.node.directives.iter().find(|d| d.node.name.node == "requiresScopes");
            if let Some(directive) = directive {
                let value = directive.node.get_argument("scopes").map(|v| v.node.clone());
                let requirement = requirement_of(value.as_ref()).unwrap_or_else(|| {
                    panic!("{}.{}: @requiresScopes without a list of lists", ty.node.name.node, field.node.name.node)
                });
                found.insert((ty.node.name.node.to_string(), field.node.name.node.to_string()), requirement);
            }
        }
    }
    found
}

fn requirement_of(value: Option<&ConstValue>) -> Option<Requirement> {
    let ConstValue::List(alternatives) = value? else { return None };
    alternatives
        .iter()
        .map(|all| match all {
            ConstValue::List(names) => names
                .iter()
                .map(|name| match name {
                    ConstValue::String(name) => Some(name.clone()),
                    _ => None,
                })
                .collect(),
            _ => None,
        })
        .collect()
}

/// The named type at the bottom of a field's type (`[Todo!]!` is `Todo`).
pub(crate) fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

/// The declared requirement of `Type.field`, from [`declarations`].
pub(crate) fn declared(ty: &str, field: &str) -> Requirement {
    declarations(&schema())
        .remove(&(ty.to_owned(), field.to_owned()))
        .unwrap_or_else(|| panic!("{ty}.{field} declares nothing"))
}

/// `requirement` as `extensions.requiredScopes` carries it.
pub(crate) fn as_json(requirement: &Requirement) -> Value {
    json!(requirement)
}

/// A todoql JWT for `user` whose `scope` claim is `scopes` (forged with the test key, as
/// todoql would sign it).
pub(crate) fn scoped_jwt(user: &TestUser, scopes: &[&str]) -> String {
    sign(&json!({ "sub": user.id, "exp": now() + 600, "scope": scopes.join(" ") }), SECRET)
}

pub(crate) const CREATE: &str = "mutation($i: CreateAccessTokenInput!) { createAccessToken(input: $i) { token accessToken { id name scopes createdAt lastUsedAt expiresAt } } }";
pub(crate) const LIST: &str = "{ accessTokens { id name scopes createdAt lastUsedAt expiresAt } }";
pub(crate) const REVOKE: &str = "mutation($id: ID!) { revokeAccessToken(id: $id) }";

/// A personal access token of `user` with `scopes`: its id and its secret.
pub(crate) async fn pat(app: &TestApp, user: &TestUser, scopes: &[&str]) -> (String, String) {
    let input = json!({ "name": format!("token {}", scopes.join(" ")), "scopes": scopes, "expiresInDays": 30 });
    let body = app.as_user(user, CREATE, json!({ "i": input })).await;
    let created = &body["data"]["createAccessToken"];
    let token = created["token"].as_str().unwrap_or_else(|| panic!("createAccessToken failed: {body}")).to_owned();
    (created["accessToken"]["id"].as_str().expect("id").to_owned(), token)
}

/// `user`, speaking with `token` instead of their session.
pub(crate) fn with_token(user: &TestUser, token: &str) -> TestUser {
    TestUser { token: token.to_owned(), ..user.clone() }
}

/// Revokes token `id` with `user`'s session; whether it was revoked.
pub(crate) async fn revoke(app: &TestApp, user: &TestUser, id: &str) -> bool {
    let body = app.as_user(user, REVOKE, json!({ "id": id })).await;
    body["data"]["revokeAccessToken"].as_bool().unwrap_or_else(|| panic!("revokeAccessToken failed: {body}"))
}
