//! How deeply a document nests, bounded before anything walks it (issue 13).
//!
//! Everything that reads a document after it is parsed — the hostile-document checks, which
//! operation is public, async-graphql's validation rules, its executor, dropping the tree —
//! walks it recursively, following fragment spreads into the fragments they name. A runtime
//! thread has a fixed stack, so one document nested deep enough aborts the whole process.
//! async-graphql's parser bounds the selection sets of one definition (64 levels), but not
//! values (`[[[[…]]]]`), nor a chain of fragments that each nest a little and spread the next.
//!
//! Two checks close that, each iterative and each before the walks they protect:
//! [`check_text`] counts the brackets of the raw text before it is parsed (strings and
//! comments skipped), and [`check_document`] follows spreads in the parsed document, each
//! fragment measured once. Past them, every recursive walk in the process goes at most
//! [`MAX_NESTING`] levels deep.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, ServerError, ServerResult};

use super::limits::coded;

/// The most levels a document may nest: brackets in its text, and selection sets plus
/// fragment spreads once spreads are followed. GraphiQL's introspection query reaches about
/// 15; the field depth limit (10) is much tighter for anything else.
pub const MAX_NESTING: usize = 64;

/// The longest query text accepted, over every transport (GraphiQL's introspection query is
/// about 2 KiB). Over HTTP a longer one is answered 413.
pub const MAX_QUERY_BYTES: usize = 32 * 1024;

/// Refuses a query text over [`MAX_QUERY_BYTES`].
pub fn check_size(text: &str) -> ServerResult<()> {
    if text.len() > MAX_QUERY_BYTES {
        let message = format!("the query text is over {MAX_QUERY_BYTES} bytes");
        return Err(coded(ServerError::new(message, None), "QUERY_TOO_LARGE"));
    }
    Ok(())
}

/// Refuses a query text whose `{`, `[` and `(` nest deeper than [`MAX_NESTING`], without
/// parsing it. Brackets inside strings, block strings and comments do not count; a text whose
/// brackets do not balance is left to the parser.
pub fn check_text(text: &str) -> ServerResult<()> {
    let deepest = deepest_bracket(text.as_bytes());
    if deepest > MAX_NESTING {
        return Err(too_deep(format!(
            "the document nests {deepest} levels of brackets; at most {MAX_NESTING} are allowed"
        )));
    }
    Ok(())
}

/// Refuses a document whose selections, with every fragment spread followed, nest deeper than
/// [`MAX_NESTING`]. Every operation and every fragment (spread or not: validation walks them
/// all) is measured; a fragment cycle counts as far as it goes before it closes.
pub fn check_document(document: &ExecutableDocument) -> ServerResult<()> {
    let mut reach = Reach { document, done: HashMap::new() };
    let roots = document.operations.iter().map(|(_, op)| &op.node.selection_set.node);
    let fragments = document.fragments.values().map(|f| &f.node.selection_set.node);
    for set in roots.chain(fragments) {
        let levels = reach.of(set);
        if levels > MAX_NESTING {
            return Err(too_deep(format!(
                "the document nests over {MAX_NESTING} levels once its fragments are followed"
            )));
        }
    }
    Ok(())
}

fn too_deep(message: String) -> ServerError {
    coded(ServerError::new(message, None), "QUERY_TOO_DEEP")
}

/// The deepest the brackets of `text` nest, outside strings and comments.
fn deepest_bracket(text: &[u8]) -> usize {
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0);
    while i < text.len() {
        match text[i] {
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            b'#' => {
                while i < text.len() && text[i] != b'\n' && text[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if text[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < text.len() && !text[i..].starts_with(b"\"\"\"") {
                    // `\"""` is an escaped delimiter inside a block string.
                    i += if text[i..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < text.len() && text[i] != b'"' && text[i] != b'\n' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
            }
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// How many levels selection sets reach once spreads are followed, each fragment measured once
/// (fragments that spread each other many times over cost their size, not their expansion).
/// Iterative throughout: a hostile document makes the fragment graph thousands of spreads long.
struct Reach<'a> {
    document: &'a ExecutableDocument,
    /// Fragments measured (`Some`), or on the path being measured (`None`: met again, a cycle,
    /// which validation reports).
    done: HashMap<&'a Name, Option<usize>>,
}

/// A selection set's own levels, without following spreads.
struct Local<'a> {
    /// The deepest level of its own selection sets (the set itself is level 1).
    deepest: usize,
    /// Each spread in it, with the level of the set that holds it.
    spreads: Vec<(&'a Name, usize)>,
}

/// A fragment on the path: its local shape, the next spread to follow, and its reach so far.
struct Frame<'a> {
    name: &'a Name,
    local: Local<'a>,
    next: usize,
    reach: usize,
}

impl<'a> Reach<'a> {
    /// The levels `set` reaches (a fragment spread at level `l` reaches `l` plus what its
    /// fragment reaches); past [`MAX_NESTING`] it stops counting.
    fn of(&mut self, set: &'a SelectionSet) -> usize {
        let local = local(set);
        let mut reach = local.deepest;
        for (name, level) in local.spreads {
            reach = reach.max(level.saturating_add(self.fragment(name)));
            if reach > MAX_NESTING {
                break;
            }
        }
        reach
    }

    /// The levels fragment `name` reaches (0 for an unknown fragment or a cycle).
    fn fragment(&mut self, name: &'a Name) -> usize {
        let mut path = match self.enter(name) {
            Ok(frame) => vec![frame],
            Err(known) => return known,
        };
        while let Some(top) = path.last_mut() {
            if let Some(&(child, level)) = top.local.spreads.get(top.next) {
                top.next += 1;
                match self.enter(child) {
                    Ok(frame) => path.push(frame),
                    Err(known) => top.reach = top.reach.max(level.saturating_add(known)),
                }
                // Each spread adds at least one level: a path this long is too deep already.
                if path.len() > MAX_NESTING || path.last().is_some_and(|f| f.reach > MAX_NESTING) {
                    return MAX_NESTING + 1;
                }
                continue;
            }
            let Some(done) = path.pop() else { break };
            self.done.insert(done.name, Some(done.reach));
            match path.last_mut() {
                Some(parent) => {
                    let level = parent.local.spreads[parent.next - 1].1;
                    parent.reach = parent.reach.max(level.saturating_add(done.reach));
                }
                None => return done.reach,
            }
        }
        0
    }

    /// A frame for fragment `name`, or what it is known to reach already.
    fn enter(&mut self, name: &'a Name) -> Result<Frame<'a>, usize> {
        match self.done.get(name) {
            Some(reach) => Err(reach.unwrap_or(0)),
            None => {
                let Some(fragment) = self.document.fragments.get(name) else { return Err(0) };
                self.done.insert(name, None);
                let local = local(&fragment.node.selection_set.node);
                Ok(Frame { name, reach: local.deepest, local, next: 0 })
            }
        }
    }
}

/// The levels of `set`'s own selection sets, and its spreads, walked with a stack.
fn local(set: &SelectionSet) -> Local<'_> {
    let mut local = Local { deepest: 0, spreads: Vec::new() };
    let mut pending = vec![(set, 1usize)];
    while let Some((set, level)) = pending.pop() {
        local.deepest = local.deepest.max(level);
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) if !field.node.selection_set.node.items.is_empty() => {
                    pending.push((&field.node.selection_set.node, level + 1));
                }
                Selection::Field(_) => {}
                Selection::InlineFragment(inline) => pending.push((&inline.node.selection_set.node, level + 1)),
                Selection::FragmentSpread(spread) => local.spreads.push((&spread.node.fragment_name.node, level)),
            }
        }
    }
    local
}

#[cfg(test)]
mod tests;
