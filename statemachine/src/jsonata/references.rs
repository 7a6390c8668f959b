//! What an expression refers to: AWS's load-time refusal of context references, and the
//! variables an expression reads (so only those are bound).
//!
//! An ASL expression runs with no context item: data comes from `$states` and variables only.
//! AWS therefore refuses (`UNSUPPORTED_JSONATA_EXPRESSION`) a path whose first step reads the
//! context at the top level (`{% phone %}`: "Reference to 'phone' at the top level is not
//! supported.") and any use of `$$` ("Reference to '$$' is not supported."). Inside a path
//! step, a predicate, a sort term or a grouping there *is* a context item, so names there are
//! legal (`$states.input.items[value > 3]`). A lambda body keeps the context of the place it is
//! written, so `function($x){ b }` at the top level refers to `b` at the top level.
//!
//! The walk only ever refuses what it positively recognises: anything it does not model is
//! treated as legal, so a definition AWS accepts is never rejected here. The wording is AWS's
//! as published; no recorded conformance case covers it.

use std::collections::HashSet;

use jsonata_core::ast::{AstNode, PathStep, Stage};

/// The parser refuses expressions nested deeper than 1,000 levels; this bound only guards the
/// walk should that ever change.
const MAX_WALK_DEPTH: usize = 2_000;

/// The first unsupported reference in `ast`, as AWS words it.
pub(crate) fn unsupported_reference(ast: &AstNode) -> Option<String> {
    walk(ast, true, 0)
}

/// `top`: whether `node` is evaluated with no context item.
fn walk(node: &AstNode, top: bool, depth: usize) -> Option<String> {
    if depth > MAX_WALK_DEPTH {
        return None;
    }
    let depth = depth + 1;
    match node {
        AstNode::ParentVariable(name) if name.is_empty() => {
            Some("Reference to '$$' is not supported.".to_owned())
        }
        AstNode::Name(name) if top => Some(top_level(name)),
        AstNode::Path { steps } => walk_path(steps, top, depth),
        AstNode::Binary { lhs, rhs, .. } => walk(lhs, top, depth).or_else(|| walk(rhs, top, depth)),
        AstNode::Unary { operand, .. } => walk(operand, top, depth),
        AstNode::Function { args, .. } => walk_all(args.iter(), top, depth),
        AstNode::Call { procedure, args } => {
            walk(procedure, top, depth).or_else(|| walk_all(args.iter(), top, depth))
        }
        AstNode::Lambda { body, .. } => walk(body, top, depth),
        AstNode::Array(items) | AstNode::Block(items) | AstNode::ArrayGroup(items) => {
            walk_all(items.iter(), top, depth)
        }
        AstNode::Object(pairs) => walk_all(pairs.iter().flat_map(|(k, v)| [k, v]), top, depth),
        AstNode::Conditional {
            condition,
            then_branch,
            else_branch,
        } => walk(condition, top, depth)
            .or_else(|| walk(then_branch, top, depth))
            .or_else(|| else_branch.as_deref().and_then(|e| walk(e, top, depth))),
        AstNode::FunctionApplication(inner) => walk(inner, top, depth),
        // The input is read where the expression stands; the terms and the grouping each see
        // one item of it.
        AstNode::Sort { input, terms } => walk(input, top, depth)
            .or_else(|| walk_all(terms.iter().map(|(term, _)| term), false, depth)),
        AstNode::ObjectTransform { input, pattern } => walk(input, top, depth)
            .or_else(|| walk_all(pattern.iter().flat_map(|(k, v)| [k, v]), false, depth)),
        // `| location | update |` is a function applied to whatever it is given.
        AstNode::Transform {
            location,
            update,
            delete,
        } => walk(location, false, depth)
            .or_else(|| walk(update, false, depth))
            .or_else(|| delete.as_deref().and_then(|d| walk(d, false, depth))),
        _ => None,
    }
}

fn walk_all<'a>(
    mut nodes: impl Iterator<Item = &'a AstNode>,
    top: bool,
    depth: usize,
) -> Option<String> {
    nodes.find_map(|node| walk(node, top, depth))
}

/// A path: its first step is read where the path stands, every later step (and every
/// predicate) against the items before it.
fn walk_path(steps: &[PathStep], top: bool, depth: usize) -> Option<String> {
    steps.iter().enumerate().find_map(|(i, step)| {
        let step_top = top && i == 0;
        walk(&step.node, step_top, depth).or_else(|| {
            step.stages.iter().find_map(|stage| match stage {
                Stage::Filter(predicate) => walk(predicate, false, depth),
                _ => None,
            })
        })
    })
}

fn top_level(name: &str) -> String {
    format!("Reference to '{name}' at the top level is not supported.")
}

/// Every variable name `ast` may read (`$states`, `$x`, and `$f` in a call `$f(...)`), or
/// `None` when the walk cannot tell, in which case every variable must be bound.
///
/// Used to bind only what an expression reads: converting a large variable that the
/// expression never mentions costs time for nothing. A variable can only be read by name
/// (`$eval`, the one dynamic lookup, is disabled), so the names in the tree are complete. The
/// match is exhaustive on purpose: a new node kind in a jsonata-core upgrade must be looked at
/// here rather than silently skipped.
pub(crate) fn referenced_names(ast: &AstNode) -> Option<HashSet<String>> {
    let mut names = HashSet::new();
    collect(ast, &mut names, 0).then_some(names)
}

/// Adds the names under `node`; false when the tree is deeper than the walk goes.
fn collect(node: &AstNode, names: &mut HashSet<String>, depth: usize) -> bool {
    if depth > MAX_WALK_DEPTH {
        return false;
    }
    let depth = depth + 1;
    match node {
        AstNode::Variable(name) | AstNode::ParentVariable(name) => {
            names.insert(name.clone());
            true
        }
        AstNode::Function { name, args, .. } => {
            names.insert(name.clone());
            collect_all(args.iter(), names, depth)
        }
        AstNode::Path { steps } => steps.iter().all(|step| {
            collect(&step.node, names, depth)
                && step.stages.iter().all(|stage| match stage {
                    Stage::Filter(predicate) => collect(predicate, names, depth),
                    Stage::KeepArray | Stage::Index(_) => true,
                })
        }),
        AstNode::Binary { lhs, rhs, .. } => {
            collect(lhs, names, depth) && collect(rhs, names, depth)
        }
        AstNode::Unary { operand, .. } => collect(operand, names, depth),
        AstNode::Call { procedure, args } => {
            collect(procedure, names, depth) && collect_all(args.iter(), names, depth)
        }
        AstNode::Lambda { body, .. } => collect(body, names, depth),
        AstNode::Array(items) | AstNode::Block(items) | AstNode::ArrayGroup(items) => {
            collect_all(items.iter(), names, depth)
        }
        AstNode::Object(pairs) => collect_all(pairs.iter().flat_map(|(k, v)| [k, v]), names, depth),
        AstNode::ObjectTransform { input, pattern } => {
            collect(input, names, depth)
                && collect_all(pattern.iter().flat_map(|(k, v)| [k, v]), names, depth)
        }
        AstNode::Conditional {
            condition,
            then_branch,
            else_branch,
        } => {
            collect(condition, names, depth)
                && collect(then_branch, names, depth)
                && else_branch
                    .as_deref()
                    .is_none_or(|e| collect(e, names, depth))
        }
        AstNode::FunctionApplication(inner) => collect(inner, names, depth),
        AstNode::Sort { input, terms } => {
            collect(input, names, depth)
                && collect_all(terms.iter().map(|(term, _)| term), names, depth)
        }
        AstNode::Transform {
            location,
            update,
            delete,
        } => {
            collect(location, names, depth)
                && collect(update, names, depth)
                && delete.as_deref().is_none_or(|d| collect(d, names, depth))
        }
        AstNode::String(_)
        | AstNode::Name(_)
        | AstNode::Number(_)
        | AstNode::Boolean(_)
        | AstNode::Null
        | AstNode::Undefined
        | AstNode::Placeholder
        | AstNode::Regex { .. }
        | AstNode::Wildcard
        | AstNode::Descendant
        | AstNode::Parent(_) => true,
    }
}

fn collect_all<'a>(
    mut nodes: impl Iterator<Item = &'a AstNode>,
    names: &mut HashSet<String>,
    depth: usize,
) -> bool {
    nodes.all(|node| collect(node, names, depth))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonata_core::parser::parse;

    fn check(expr: &str) -> Option<String> {
        unsupported_reference(&parse(expr).expect("test expressions parse"))
    }

    #[test]
    fn top_level_field_references_are_refused() {
        let refused = "Reference to 'phone' at the top level is not supported.";
        for expr in [
            "phone",
            "phone.number",
            "phone[0]",
            "-phone",
            "$states.input.a + phone",
            "{'k': phone}",
            "[1, phone]",
            "$string(phone)",
            "$exists(phone) ? 1 : 2",
            "($x := phone; $x)",
            "function($x){ phone }($states.input)",
            "$map($states.input.a, function($x){ phone })",
            "phone^(x)",
        ] {
            assert_eq!(check(expr).as_deref(), Some(refused), "{expr}");
        }
    }

    #[test]
    fn double_dollar_is_refused_anywhere() {
        for expr in ["$$", "$$.a", "$states.input[$$.x = 1]"] {
            assert_eq!(
                check(expr).as_deref(),
                Some("Reference to '$$' is not supported."),
                "{expr}"
            );
        }
    }

    #[test]
    fn names_with_a_context_item_are_allowed() {
        for expr in [
            "$states.input.phone",
            "$phone",
            "$states.input.items[value > 3]",
            "$states.input.items[value > 3].name",
            "$states.input.a.(b * c)",
            "$states.input.items^(price)",
            "$states.input.items{category: $sum(price)}",
            "$states.input ~> | a | {'b': c} |",
            "$map($states.input.a, function($v){ $v.b })",
            "$states.input.a[0][1]",
            "{'a': 1}.a",
            "[1, 2].($ * 2)",
            "'literal'",
            "$x[phone]",
            "1 + 2",
        ] {
            assert_eq!(check(expr), None, "{expr}");
        }
    }

    fn names(expr: &str) -> Vec<String> {
        let found =
            referenced_names(&parse(expr).expect("test expressions parse")).expect("shallow tree");
        let mut found: Vec<String> = found.into_iter().collect();
        found.sort();
        found
    }

    #[test]
    fn referenced_names_cover_every_place_a_variable_can_appear() {
        assert_eq!(names("1 + 2"), Vec::<String>::new());
        assert_eq!(names("$states.input.a"), ["states"]);
        assert_eq!(
            names("$a.b[$c > 1].($d) ~> $f($e, function($x){ $x + $g }) ? {$h: $i} : [$j]^($k)"),
            ["a", "c", "d", "e", "f", "g", "h", "i", "j", "k", "x"]
        );
        assert_eq!(
            names("$states.input{$a: $b} ~> | $c | {'x': $d}, [$e] |"),
            ["a", "b", "c", "d", "e", "states"]
        );
        assert_eq!(names("($v := 1; $v + $w)"), ["v", "w"]);
    }
}
