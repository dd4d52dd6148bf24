//! Documents built from the GraphQL grammar, not from random bytes (issue 13): selection sets
//! of schema fields and made-up ones, aliases, arguments whose values nest, directives, inline
//! fragments and fragments spreading each other — each shape optionally amplified to the sizes
//! an attacker would send (hundreds of levels, chains of thousands of fragments). Whatever the
//! shape, the server answers with well-formed, coded JSON, never a 5xx, and stays up.
//!
//! 128 cases a run (`PROPTEST_CASES=n` for more), against a server in its own process.

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::support::*;

/// Field names: the schema's, and one that is not in it.
const FIELDS: &[&str] = &[
    "me",
    "todos",
    "todo",
    "nodes",
    "edges",
    "node",
    "owner",
    "id",
    "title",
    "description",
    "completed",
    "totalCount",
    "pageInfo",
    "hasNextPage",
    "endCursor",
    "email",
    "name",
    "createdAt",
    "__typename",
    "__schema",
    "types",
    "fields",
    "type",
    "ofType",
    "kind",
    "nope",
];
/// Type conditions: the schema's types, and one that is not in it.
const TYPES: &[&str] = &["Query", "User", "Todo", "TodoConnection", "Mutation", "__Type", "Nope"];
/// Argument names.
const ARGUMENTS: &[&str] = &["first", "last", "after", "before", "filter", "orderBy", "id", "search", "if", "x"];

/// A GraphQL input value: scalars, variables, and lists and objects of values.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        any::<i32>().prop_map(|n| n.to_string()),
        Just("1e400".to_owned()),
        Just("99999999999999999999999".to_owned()),
        "[a-z%_\\\\\"]{0,8}".prop_map(|s| format!("{:?}", s)),
        Just("\"\"\"block \\\"\"\" \"\"\"".to_owned()),
        Just("true".to_owned()),
        Just("null".to_owned()),
        Just("TITLE".to_owned()),
        Just("$v".to_owned()),
    ];
    leaf.prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec((select(ARGUMENTS), inner), 0..4).prop_map(|fields| {
                let fields: Vec<String> = fields.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", fields.join(", "))
            }),
        ]
    })
}

/// A value wrapped in `levels` lists: the deep-value amplifier.
fn deep_value() -> impl Strategy<Value = String> {
    (value(), 0..400usize).prop_map(|(value, levels)| format!("{}{value}{}", "[".repeat(levels), "]".repeat(levels)))
}

fn arguments() -> impl Strategy<Value = String> {
    prop::collection::vec((select(ARGUMENTS), prop_oneof![4 => value(), 1 => deep_value()]), 0..3).prop_map(|args| {
        if args.is_empty() {
            String::new()
        } else {
            let args: Vec<String> = args.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
            format!("({})", args.join(", "))
        }
    })
}

fn directives() -> impl Strategy<Value = String> {
    let directive = (select(&["include", "skip", "deprecated", "nope"][..]), arguments())
        .prop_map(|(name, args)| format!(" @{name}{args}"));
    prop::collection::vec(directive, 0..3).prop_map(|d| d.concat())
}

/// A selection set: fields (aliased or not, with arguments and directives), inline fragments
/// (with or without a type condition) and spreads of fragments `F0`…`F{fragments-1}` (and one
/// that does not exist).
fn selection_set(fragments: usize) -> impl Strategy<Value = String> {
    let leaf = (select(FIELDS), arguments(), directives()).prop_map(|(f, a, d)| format!("{f}{a}{d}"));
    let spread = (0..fragments + 1).prop_map(|i| format!("...F{i}"));
    let item = prop_oneof![4 => leaf, 1 => spread];
    let set = prop::collection::vec(item, 1..4).prop_map(|items| items.join(" "));
    set.prop_recursive(8, 64, 4, move |inner| {
        let field = (prop::option::of("[a-z]{1,3}"), select(FIELDS), arguments(), directives(), inner.clone())
            .prop_map(|(alias, f, a, d, set)| {
                let alias = alias.map(|a| format!("{a}: ")).unwrap_or_default();
                format!("{alias}{f}{a}{d} {{ {set} }}")
            });
        let inline = (prop::option::of(select(TYPES)), directives(), inner.clone()).prop_map(|(on, d, set)| {
            let on = on.map(|t| format!(" on {t}")).unwrap_or_default();
            format!("...{on}{d} {{ {set} }}")
        });
        prop::collection::vec(prop_oneof![2 => field, 1 => inline, 1 => inner], 1..4).prop_map(|items| items.join(" "))
    })
}

/// Wraps a selection set in `levels` of the same opening: the nesting amplifier.
fn amplified(set: String, wrapper: &str, levels: usize) -> String {
    format!("{}{set}{}", format!("{wrapper} {{ ").repeat(levels), " }".repeat(levels))
}

/// One whole document: an operation and its fragments, each possibly amplified, and
/// optionally a chain of thousands of fragments after them.
fn document() -> impl Strategy<Value = String> {
    let fragments = 0..4usize;
    fragments.prop_flat_map(|count| {
        let wrapper = select(&["me", "... on Query", "...", "todos", "__schema"][..]);
        let definitions = prop::collection::vec(
            (selection_set(count), select(TYPES), wrapper.clone(), prop_oneof![3 => Just(0usize), 1 => 0..80usize]),
            count,
        );
        let operation = (
            select(&["", "query Q", "query($v: TodoFilter)", "mutation", "subscription", "query Q($v: [[Int]])"][..]),
            selection_set(count),
            wrapper,
            prop_oneof![3 => Just(0usize), 1 => 0..200usize],
        );
        // A chain of fragments after the others: each spreads the next and nests `depth`.
        let chain = prop_oneof![3 => Just((0usize, 0usize)), 1 => (1..3000usize, 0..40usize)];
        (operation, definitions, chain).prop_map(move |((op, set, wrap, levels), defs, (links, depth))| {
            let mut text = format!("{op} {{ {} }}", amplified(set, wrap, levels));
            for (i, (set, on, wrap, levels)) in defs.into_iter().enumerate() {
                text.push_str(&format!(" fragment F{i} on {on} {{ {} }}", amplified(set, wrap, levels)));
            }
            // The chain starts at the first fragment the operation may spread but none defines.
            for link in 0..links {
                let next = if link + 1 < links { format!("...F{}", count + link + 1) } else { "id".to_owned() };
                let body = amplified(next, "me", depth);
                text.push_str(&format!(" fragment F{} on Query {{ me {{ {body} }} }}", count + link));
            }
            text
        })
    })
}

/// The answer is JSON (or a 413 for an over-long text), never a 5xx, and every error is coded.
fn check(status: u16, body: &str) -> Result<(), TestCaseError> {
    prop_assert!(status < 500, "HTTP {status}: {}", &body[..body.len().min(300)]);
    let json: Value =
        serde_json::from_str(body).map_err(|_| TestCaseError::fail(format!("HTTP {status}: not JSON")))?;
    for error in json["errors"].as_array().into_iter().flatten() {
        prop_assert!(error["extensions"]["code"].is_string(), "an error without a code: {error}");
    }
    prop_assert!(json.get("data").is_some() || json.get("errors").is_some(), "neither data nor errors: {json}");
    Ok(())
}

#[test]
fn documents_built_from_the_grammar_never_break_the_server() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = runtime.block_on(async {
        let server = Server::start(dir.path(), &fresh_database(dir.path()).await, &[]);
        server.ready().await;
        server
    });
    let (token, _) = runtime.block_on(server.sign_up(PASSWORD));
    let mut config = Config { failure_persistence: None, max_shrink_iters: 100, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 128;
    }
    let strategy = (document(), any::<bool>(), prop::option::of(deep_value()));
    let outcome = TestRunner::new(config).run(&strategy, |(document, signed_in, variable)| {
        let body = json!({ "query": document, "variables": { "v": variable.map(|v| json!(v)) } });
        let mut request = server.client.post(server.url("/graphql")).json(&body);
        if signed_in {
            request = request.bearer_auth(&token);
        }
        runtime.block_on(async {
            let response = request.send().await.map_err(|e| TestCaseError::fail(format!("no answer: {e}")))?;
            let status = response.status().as_u16();
            let text = response.text().await.map_err(|e| TestCaseError::fail(format!("unreadable body: {e}")))?;
            check(status, &text)
        })
    });
    if let Some(status) = server.child.try_wait().expect("poll todoql") {
        panic!("todoql died ({status}):\n{}", server.output());
    }
    if let Err(failure) = outcome {
        panic!("{}", &failure.to_string()[..failure.to_string().len().min(4000)]);
    }
    runtime.block_on(server.stop());
}
