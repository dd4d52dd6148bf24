//! Deny by default: every field that a request can reach declares what it requires. The walk
//! starts at the roots and follows every field's type, so a new type or field without
//! `#[scopes(…)]` fails here; a public field says so (`@requiresScopes(scopes: [[]])`).

use std::collections::{BTreeSet, VecDeque};

use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

use super::support::{SCOPES, declarations, named, schema};

/// The public fields: the sign-in mutations and what they return. Nothing else may be.
const PUBLIC: [&str; 9] = [
    "Mutation.signUp",
    "Mutation.signIn",
    "Mutation.refreshSession",
    "Mutation.signOut",
    "AuthPayload.accessToken",
    "AuthPayload.refreshToken",
    "AuthPayload.tokenType",
    "AuthPayload.expiresIn",
    "AuthPayload.user",
];

#[test]
fn every_field_reachable_from_the_roots_declares_the_scopes_it_requires() {
    let document = schema();
    let declared = declarations(&document);
    let objects: std::collections::HashMap<String, Vec<(String, String)>> = document
        .definitions
        .iter()
        .filter_map(|definition| match definition {
            TypeSystemDefinition::Type(ty) => match &ty.node.kind {
                TypeKind::Object(object) => Some((
                    ty.node.name.node.to_string(),
                    object
                        .fields
                        .iter()
                        .map(|f| (f.node.name.node.to_string(), named(&f.node.ty.node).to_owned()))
                        .collect(),
                )),
                TypeKind::Interface(_) | TypeKind::Union(_) => {
                    panic!("{} is an interface or union: teach this walk to follow it", ty.node.name.node)
                }
                _ => None,
            },
            _ => None,
        })
        .collect();
    let mut queue: VecDeque<String> = ["Query", "Mutation", "Subscription"].map(str::to_owned).into();
    let mut seen = BTreeSet::new();
    let (mut undeclared, mut walked) = (Vec::new(), 0);
    while let Some(ty) = queue.pop_front() {
        if !seen.insert(ty.clone()) {
            continue;
        }
        let Some(fields) = objects.get(&ty) else { continue };
        for (field, field_type) in fields {
            walked += 1;
            let name = format!("{ty}.{field}");
            match declared.get(&(ty.clone(), field.clone())) {
                None => undeclared.push(name),
                Some(requirement) => {
                    let public = requirement.iter().any(Vec::is_empty);
                    assert_eq!(
                        public,
                        PUBLIC.contains(&name.as_str()),
                        "{name} is public only if listed: {requirement:?}"
                    );
                    for scope in requirement.iter().flatten() {
                        assert!(SCOPES.contains(&scope.as_str()), "{name} requires an unknown scope {scope:?}");
                    }
                }
            }
            if objects.contains_key(field_type) {
                queue.push_back(field_type.clone());
            }
        }
    }
    assert!(undeclared.is_empty(), "these fields declare no scopes (add #[scopes(…)]):\n  {}", undeclared.join("\n  "));
    // The walk reached the whole API, personal access tokens included.
    for ty in [
        "Query",
        "Mutation",
        "Subscription",
        "User",
        "Todo",
        "TodoConnection",
        "TodoEdge",
        "PageInfo",
        "TodoEvent",
        "AuthPayload",
        "AccessToken",
        "CreatedAccessToken",
    ] {
        assert!(seen.contains(ty), "the walk never reached {ty}");
    }
    assert!(walked > 50, "only {walked} fields walked");
}

#[test]
fn the_walk_would_catch_a_field_without_a_declaration() {
    // The same parser and lookup on a schema with one undeclared field: it is not found.
    let sdl = "type Query { me: String @requiresScopes(scopes: [[\"profile:read\"]]) leak: String }\n\
               directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION";
    let document = async_graphql::parser::parse_schema(sdl).expect("parses");
    let declared = declarations(&document);
    assert!(declared.contains_key(&("Query".to_owned(), "me".to_owned())));
    assert!(!declared.contains_key(&("Query".to_owned(), "leak".to_owned())));
}
