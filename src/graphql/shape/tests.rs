//! The nesting bounds, on texts and documents a hostile client would write.

use async_graphql::parser::parse_query;

use super::{MAX_NESTING, check_document, check_text, deepest_bracket};

/// `levels` fields nested inside each other, in one selection set.
fn nested(levels: usize) -> String {
    format!("{{ {}id{} }}", "me { ".repeat(levels - 1), " }".repeat(levels - 1))
}

/// A chain of `count` fragments, each nesting `levels` fields and spreading the next.
fn chain(count: usize, levels: usize) -> String {
    let mut text = String::from("{ ...F0 }");
    for i in 0..count {
        let inner = if i + 1 < count { format!("...F{}", i + 1) } else { "id".to_owned() };
        text.push_str(&format!(
            " fragment F{i} on Query {{ {}{inner}{} }}",
            "me { ".repeat(levels),
            " }".repeat(levels)
        ));
    }
    text
}

fn code(error: async_graphql::ServerError) -> String {
    error.extensions.and_then(|e| e.get("code").map(|c| c.to_string())).unwrap_or_default()
}

#[test]
fn brackets_are_counted_outside_strings_and_comments() {
    assert_eq!(deepest_bracket(b"{ a { b(x: [[1]]) } }"), 5);
    assert_eq!(deepest_bracket(b"{ a(s: \"{{{{[[[(\") }"), 2);
    assert_eq!(deepest_bracket(b"{ a(s: \"\\\"{{{{\") }"), 2, "an escaped quote does not end the string");
    assert_eq!(
        deepest_bracket(b"{ a(s: \"\"\"{{{ \\\"\"\" {{{ \"\"\") }"),
        2,
        "block strings, with an escaped delimiter"
    );
    assert_eq!(deepest_bracket(b"# {{{{{{\n{ a }"), 1);
    assert_eq!(deepest_bracket(b"}}}}{"), 1, "unbalanced text is left to the parser");
}

#[test]
fn a_text_nested_past_the_limit_is_refused_before_parsing() {
    let at = format!("{{ a(x: {}1{}) }}", "[".repeat(MAX_NESTING - 2), "]".repeat(MAX_NESTING - 2));
    assert!(check_text(&at).is_ok());
    let past = format!("{{ a(x: {}1{}) }}", "[".repeat(MAX_NESTING - 1), "]".repeat(MAX_NESTING - 1));
    assert_eq!(code(check_text(&past).unwrap_err()), "\"QUERY_TOO_DEEP\"");
    // The worst a 64 KiB message holds: refused at once, and never parsed.
    let worst = format!("{{ a(x: {}) }}", "[".repeat(64 * 1024));
    assert!(check_text(&worst).is_err());
}

#[test]
fn a_chain_of_fragments_is_measured_across_its_spreads() {
    // Each fragment nests 3 levels; the spread adds one: the chain is 4 levels a link.
    let fits = parse_query(chain(10, 3)).unwrap();
    assert!(check_document(&fits).is_ok());
    let deep = parse_query(chain(20, 3)).unwrap();
    assert_eq!(code(check_document(&deep).unwrap_err()), "\"QUERY_TOO_DEEP\"");
    // The attack of issue 13: 117 fragments of 62 levels, 32 KiB.
    let attack = parse_query(chain(117, 62)).unwrap();
    assert!(check_document(&attack).is_err());
}

#[test]
fn a_flat_chain_of_thousands_of_fragments_is_refused_without_recursion() {
    let mut text = String::from("{ __typename }");
    for i in 0..20_000 {
        text.push_str(&format!(" fragment F{i} on Query {{ ...F{} }}", i + 1));
    }
    text.push_str(" fragment F20000 on Query { __typename }");
    // Unspread fragments are measured too: validation walks every one of them.
    let document = parse_query(&text).unwrap();
    assert!(check_document(&document).is_err());
}

#[test]
fn cycles_and_unknown_fragments_count_as_far_as_they_go() {
    let cycle = parse_query("{ ...A } fragment A on Query { ...B } fragment B on Query { me { ...A } }").unwrap();
    assert!(check_document(&cycle).is_ok(), "a cycle is a validation error, not a deep document");
    let unknown = parse_query("{ ...Nowhere }").unwrap();
    assert!(check_document(&unknown).is_ok());
    let mut long_cycle = String::from("{ ...F0 }");
    for i in 0..100 {
        long_cycle.push_str(&format!(" fragment F{i} on Query {{ ...F{} }}", (i + 1) % 100));
    }
    assert!(check_document(&parse_query(&long_cycle).unwrap()).is_err());
}

#[test]
fn wide_fan_out_costs_each_fragment_once() {
    // Ten fragments each spreading the next ten times over: 10^10 spreads inlined.
    let mut text = String::from("{ ...F0 }");
    for i in 0..10 {
        text.push_str(&format!(" fragment F{i} on Query {{ {} }}", format!("...F{} ", i + 1).repeat(10)));
    }
    text.push_str(" fragment F10 on Query { __typename }");
    assert!(check_document(&parse_query(&text).unwrap()).is_ok());
}

#[test]
fn inline_fragments_and_fields_count_one_level_each() {
    assert!(check_document(&parse_query(nested(MAX_NESTING)).unwrap()).is_ok());
    let inline = format!("{{ {}id{} }}", "... on Query { ".repeat(MAX_NESTING), " }".repeat(MAX_NESTING));
    assert!(check_text(&inline).is_err());
    let inline = format!("{{ {}id{} }}", "... on Query { ".repeat(40), " }".repeat(40));
    let document =
        parse_query(format!("{inline} fragment X on Query {{ ...Y }} fragment Y on Query {inline}")).unwrap();
    assert!(check_document(&document).is_ok());
    let document = parse_query(format!(
        "{{ ...X }} fragment X on Query {{ {}...Y{} }} fragment Y on Query {inline}",
        "... on Query { ".repeat(30),
        " }".repeat(30)
    ))
    .unwrap();
    assert!(check_document(&document).is_err(), "30 + 1 + 41 levels across a spread");
}
