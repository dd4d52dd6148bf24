//! The schema as clients see it: `todoql schema` is the source of truth, the checked-in
//! `schema.graphql` must equal it, and every type and field is documented.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use async_graphql::parser::types::{ServiceDocument, TypeDefinition, TypeKind, TypeSystemDefinition};

/// How long `todoql schema` may take before the test gives up on it.
const SCHEMA_TIMEOUT: Duration = Duration::from_secs(60);

/// Scalars every GraphQL schema has; they need no description of ours.
const BUILT_IN_SCALARS: [&str; 5] = ["String", "Int", "Float", "Boolean", "ID"];

/// Runs `todoql schema` (bounded) and returns what it prints.
fn todoql_schema() -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_todoql"));
    command.arg("schema").env_clear().env("NO_COLOR", "1").current_dir(dir.path()).stdin(Stdio::null());
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(command.output());
    });
    let output = receiver
        .recv_timeout(SCHEMA_TIMEOUT)
        .unwrap_or_else(|_| panic!("`todoql schema` did not finish within {SCHEMA_TIMEOUT:?}"))
        .expect("run `todoql schema`");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "`todoql schema` failed with {}: {stderr}", output.status);
    String::from_utf8(output.stdout).expect("`todoql schema` prints UTF-8")
}

/// The SDL, parsed.
fn parsed_schema() -> ServiceDocument {
    let sdl = todoql_schema();
    async_graphql::parser::parse_schema(&sdl)
        .unwrap_or_else(|error| panic!("`todoql schema` is not valid SDL: {error}\n{sdl}"))
}

/// The type definitions of a parsed schema.
fn types(document: &ServiceDocument) -> impl Iterator<Item = &TypeDefinition> {
    document.definitions.iter().filter_map(|definition| match definition {
        TypeSystemDefinition::Type(ty) => Some(&ty.node),
        _ => None,
    })
}

#[test]
fn checked_in_schema_matches_todoql_schema() {
    let printed = todoql_schema();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if printed != checked_in {
        let first_difference = printed
            .lines()
            .zip(checked_in.lines())
            .enumerate()
            .find(|(_, (printed, checked_in))| printed != checked_in)
            .map(|(n, (printed, checked_in))| {
                format!("line {}: `todoql schema` prints {printed:?}, schema.graphql has {checked_in:?}", n + 1)
            })
            .unwrap_or_else(|| {
                format!(
                    "one is a prefix of the other ({} lines printed, {} lines checked in)",
                    printed.lines().count(),
                    checked_in.lines().count()
                )
            });
        panic!(
            "schema.graphql is stale: run `cargo run -- schema > schema.graphql`\n(first difference: {first_difference})"
        );
    }
}

#[test]
fn schema_names_the_roots_query_mutation() {
    let document = parsed_schema();
    for root in ["Query", "Mutation"] {
        let found = types(&document).find(|ty| ty.name.node.as_str() == root);
        assert!(matches!(found.map(|ty| &ty.kind), Some(TypeKind::Object(_))), "the SDL has no `type {root}`");
    }
    // When the SDL spells out a schema block, it names these types as the roots.
    for definition in &document.definitions {
        if let TypeSystemDefinition::Schema(schema) = definition {
            let schema = &schema.node;
            assert_eq!(schema.query.as_ref().map(|name| name.node.as_str()), Some("Query"), "query root");
            if let Some(mutation) = &schema.mutation {
                assert_eq!(mutation.node.as_str(), "Mutation", "mutation root");
            }
        }
    }
}

#[test]
fn every_type_and_field_has_a_description() {
    let document = parsed_schema();
    let described = |description: &Option<async_graphql::Positioned<String>>| {
        description.as_ref().is_some_and(|text| !text.node.trim().is_empty())
    };
    let mut missing = Vec::new();
    for ty in types(&document) {
        let name = ty.name.node.as_str();
        if matches!(ty.kind, TypeKind::Scalar) && BUILT_IN_SCALARS.contains(&name) {
            continue;
        }
        if !described(&ty.description) {
            missing.push(format!("type {name}"));
        }
        let fields = match &ty.kind {
            TypeKind::Object(object) => object.fields.as_slice(),
            TypeKind::Interface(interface) => interface.fields.as_slice(),
            _ => &[],
        };
        for field in fields {
            if !described(&field.node.description) {
                missing.push(format!("field {name}.{}", field.node.name.node));
            }
        }
        match &ty.kind {
            TypeKind::InputObject(input) => {
                for field in &input.fields {
                    if !described(&field.node.description) {
                        missing.push(format!("input field {name}.{}", field.node.name.node));
                    }
                }
            }
            TypeKind::Enum(enumeration) => {
                for value in &enumeration.values {
                    if !described(&value.node.description) {
                        missing.push(format!("enum value {name}.{}", value.node.value.node));
                    }
                }
            }
            _ => {}
        }
    }
    assert!(missing.is_empty(), "these have no description in `todoql schema`:\n  {}", missing.join("\n  "));
}
