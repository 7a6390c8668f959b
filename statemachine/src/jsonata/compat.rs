//! Rewrites of the parsed tree that make jsonata-core answer as jsonata-js 2.0.6, the version
//! AWS runs, where the two differ.
//!
//! - `$now(picture[, timezone])`: jsonata-js formats the current time with the picture
//!   (`$now()` is defined there as `$fromMillis($millis(), picture, timezone)`); jsonata-core
//!   only accepts `$now()` and fails with "now() takes no arguments". Calls with arguments are
//!   rewritten to that definition.

use jsonata_core::ast::{AstNode, Stage};

/// The parser refuses expressions nested deeper than 1,000 levels; this bound only guards the
/// walk should that ever change. Deeper nodes are left as they are.
const MAX_WALK_DEPTH: usize = 2_000;

/// Applies every rewrite to `ast`.
pub(crate) fn to_jsonata_js(ast: &mut AstNode) {
    visit(ast, 0, &mut now_with_picture);
}

/// `$now(p, tz)` → `$fromMillis($millis(), p, tz)`.
fn now_with_picture(node: &mut AstNode) {
    if let AstNode::Function {
        name,
        args,
        is_builtin,
    } = node
        && name == "now"
        && *is_builtin
        && !args.is_empty()
    {
        let millis = AstNode::Function {
            name: "millis".to_owned(),
            args: Vec::new(),
            is_builtin: true,
        };
        *name = "fromMillis".to_owned();
        args.insert(0, millis);
    }
}

/// Calls `rewrite` on every node, children first.
fn visit(node: &mut AstNode, depth: usize, rewrite: &mut impl FnMut(&mut AstNode)) {
    if depth > MAX_WALK_DEPTH {
        return;
    }
    let depth = depth + 1;
    match node {
        AstNode::Path { steps } => {
            for step in steps {
                visit(&mut step.node, depth, rewrite);
                for stage in &mut step.stages {
                    if let Stage::Filter(predicate) = stage {
                        visit(predicate, depth, rewrite);
                    }
                }
            }
        }
        AstNode::Binary { lhs, rhs, .. } => {
            visit(lhs, depth, rewrite);
            visit(rhs, depth, rewrite);
        }
        AstNode::Unary { operand, .. } => visit(operand, depth, rewrite),
        AstNode::Function { args, .. } => args.iter_mut().for_each(|a| visit(a, depth, rewrite)),
        AstNode::Call { procedure, args } => {
            visit(procedure, depth, rewrite);
            args.iter_mut().for_each(|a| visit(a, depth, rewrite));
        }
        AstNode::Lambda { body, .. } => visit(body, depth, rewrite),
        AstNode::Array(items) | AstNode::Block(items) | AstNode::ArrayGroup(items) => {
            items.iter_mut().for_each(|i| visit(i, depth, rewrite))
        }
        AstNode::Object(pairs) => pairs.iter_mut().for_each(|(k, v)| {
            visit(k, depth, rewrite);
            visit(v, depth, rewrite);
        }),
        AstNode::ObjectTransform { input, pattern } => {
            visit(input, depth, rewrite);
            pattern.iter_mut().for_each(|(k, v)| {
                visit(k, depth, rewrite);
                visit(v, depth, rewrite);
            });
        }
        AstNode::Conditional {
            condition,
            then_branch,
            else_branch,
        } => {
            visit(condition, depth, rewrite);
            visit(then_branch, depth, rewrite);
            if let Some(e) = else_branch {
                visit(e, depth, rewrite);
            }
        }
        AstNode::FunctionApplication(inner) => visit(inner, depth, rewrite),
        AstNode::Sort { input, terms } => {
            visit(input, depth, rewrite);
            terms
                .iter_mut()
                .for_each(|(term, _)| visit(term, depth, rewrite));
        }
        AstNode::Transform {
            location,
            update,
            delete,
        } => {
            visit(location, depth, rewrite);
            visit(update, depth, rewrite);
            if let Some(d) = delete {
                visit(d, depth, rewrite);
            }
        }
        AstNode::String(_)
        | AstNode::Name(_)
        | AstNode::Number(_)
        | AstNode::Boolean(_)
        | AstNode::Null
        | AstNode::Undefined
        | AstNode::Placeholder
        | AstNode::Regex { .. }
        | AstNode::Variable(_)
        | AstNode::ParentVariable(_)
        | AstNode::Wildcard
        | AstNode::Descendant
        | AstNode::Parent(_) => {}
    }
    rewrite(node);
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonata_core::evaluator::Evaluator;
    use jsonata_core::parser::parse;
    use jsonata_core::value::JValue;

    fn evaluate(expr: &str) -> Result<JValue, String> {
        let mut ast = parse(expr).map_err(|e| e.to_string())?;
        to_jsonata_js(&mut ast);
        Evaluator::new()
            .evaluate(&ast, &JValue::Undefined)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn now_accepts_a_picture_and_timezone() {
        let year = evaluate("$now('[Y0001]')").expect("formats");
        let year: i32 = year.as_str().expect("string").parse().expect("a year");
        assert!(year >= 2024);
        // Same day as the ISO timestamp, formatted in UTC (only a midnight tick could differ).
        let same_day = evaluate("$now('[Y0001]-[M01]-[D01]', '+0000') = $substring($now(), 0, 10)");
        assert_eq!(same_day, Ok(JValue::Bool(true)));
        let nested = evaluate("{'at': $uppercase($now('[Y0001]'))}.at").expect("rewritten inside");
        assert!(nested.is_string(), "{nested:?}");
    }

    #[test]
    fn plain_now_is_untouched() {
        let now = evaluate("$now()").expect("now");
        assert!(now.as_str().is_some_and(|s| s.ends_with('Z')), "{now:?}");
    }
}
