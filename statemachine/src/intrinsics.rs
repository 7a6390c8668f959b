//! The 18 intrinsic functions (`States.Format`, `States.Array`, ... ), with ASL's escaping rules.
//!
//! OWNER: paths helper. Signatures are a contract with the evaluator and validator.
//!
//! `parser` turns the expression into a tree (tokenizer + recursive descent), `functions`
//! applies each function to evaluated arguments. Arguments are evaluated innermost first;
//! path arguments go through [`crate::jsonpath`], so `$`, `$$` and `$var` all work.

mod functions;
mod parser;

use serde_json::Value;

use crate::context::PathContext;
use crate::error::StatesError;
use crate::jsonpath;

use functions::Arg;
use parser::Expr;

/// True when a `.$` value is an intrinsic function call rather than a path.
pub fn is_intrinsic(expr: &str) -> bool {
    expr.trim_start().starts_with("States.")
}

/// Evaluates an intrinsic function call (nested calls and path arguments included).
///
/// A path argument that selects nothing is reported for the field "Parameters"; callers that
/// know the template key should use [`evaluate_in_field`].
pub fn evaluate(expr: &str, ctx: &PathContext<'_>) -> Result<Value, StatesError> {
    evaluate_in_field(expr, ctx, "Parameters")
}

/// Evaluates an intrinsic function call for the template key `field` (e.g. `"value.$"`), which
/// AWS names when a path argument selects nothing.
pub fn evaluate_in_field(
    expr: &str,
    ctx: &PathContext<'_>,
    field: &str,
) -> Result<Value, StatesError> {
    // GUESS: a call that fails to parse at run time (the validator normally rejects it at load
    // time) is reported in the style of AWS's other intrinsic errors.
    let tree = parser::parse(expr).map_err(|msg| {
        StatesError::runtime(format!("Invalid intrinsic function '{expr}': {msg}"))
    })?;
    eval(&tree, ctx, field)
}

/// Load-time check of syntax, function names and arity. The `Err` is a plain message.
pub fn check_syntax(expr: &str) -> Result<(), String> {
    let tree = parser::parse(expr)?;
    check_tree(&tree)
}

fn check_tree(expr: &Expr) -> Result<(), String> {
    match expr {
        Expr::Call { name, args } => {
            functions::check_arity(name, args.len())?;
            args.iter().try_for_each(check_tree)
        }
        Expr::Path(path) => jsonpath::check_path(path),
        Expr::Str(_) | Expr::Number(_) | Expr::Bool(_) | Expr::Null => Ok(()),
    }
}

fn eval(expr: &Expr, ctx: &PathContext<'_>, field: &str) -> Result<Value, StatesError> {
    match expr {
        Expr::Call { name, args } => {
            let args = args
                .iter()
                .map(|arg| match arg {
                    Expr::Str(raw) => Ok(Arg::Literal(raw.clone())),
                    other => eval(other, ctx, field).map(Arg::Value),
                })
                .collect::<Result<Vec<_>, _>>()?;
            functions::apply_drawing(name, args, ctx.random)
        }
        Expr::Str(raw) => Ok(Value::String(parser::unescape(raw))),
        Expr::Number(n) => Ok(Value::Number(n.clone())),
        Expr::Bool(b) => Ok(Value::Bool(*b)),
        Expr::Null => Ok(Value::Null),
        Expr::Path(path) => jsonpath::query(path, ctx, field),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;

    fn with_ctx<T>(input: Value, f: impl FnOnce(&PathContext<'_>) -> T) -> T {
        let context = json!({"StateMachine": {"Name": "purge-machine-1"}, "Map": {"Item": {"Value": "Pikachu"}}});
        let mut variables = Map::new();
        variables.insert("AnswerTemplate".to_owned(), json!("It's {}!"));
        variables.insert("n".to_owned(), json!(40));
        f(&PathContext {
            input: &input,
            context: &context,
            variables: &variables,
            random: None,
        })
    }

    #[test]
    fn recognises_intrinsic_calls() {
        assert!(is_intrinsic("States.Array()"));
        assert!(is_intrinsic("  States.UUID()"));
        assert!(!is_intrinsic("$.States"));
    }

    #[test]
    fn nested_calls_with_context_and_variable_paths() {
        with_ctx(json!({}), |ctx| {
            // Recorded (test_nested_calls): the first part of the state machine's name.
            let first = evaluate(
                "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), 0)",
                ctx,
            )
            .expect("ok");
            assert_eq!(first, json!("purge"));
            let last = evaluate(
                "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))",
                ctx,
            )
            .expect("ok");
            assert_eq!(last, json!("1"));
            assert_eq!(
                evaluate("States.Format($AnswerTemplate, $$.Map.Item.Value)", ctx).expect("ok"),
                json!("It's Pikachu!")
            );
            assert_eq!(
                evaluate("States.MathAdd($n, 2)", ctx).expect("ok"),
                json!(42)
            );
        });
    }

    #[test]
    fn literal_escapes_and_raw_newlines() {
        with_ctx(json!({}), |ctx| {
            // Recorded (test_escape_sequence): a raw newline inside the literal.
            assert_eq!(
                evaluate("States.StringSplit('Hello\nWorld', '\n')", ctx).expect("ok"),
                json!(["Hello", "World"])
            );
            assert_eq!(
                evaluate(r"States.Array('it\'s', '\{\}', 'a\\b')", ctx).expect("ok"),
                json!(["it's", "{}", r"a\b"])
            );
            assert_eq!(
                evaluate(r#"States.JsonMerge(States.StringToJson('{"a": "x"}'), States.StringToJson('{"b": 1}'), false)"#, ctx)
                    .expect("ok"),
                json!({"a": "x", "b": 1})
            );
        });
    }

    #[test]
    fn missing_path_argument_names_the_field() {
        with_ctx(json!({"a": 1}), |ctx| {
            let err = evaluate_in_field("States.Array($.b)", ctx, "result.$").expect_err("missing");
            assert_eq!(err.error, "States.Runtime");
            assert_eq!(
                err.cause,
                "The JSONPath '$.b' specified for the field 'result.$' could not be found in the input '{\"a\":1}'"
            );
        });
    }

    #[test]
    fn runtime_errors_are_states_runtime() {
        with_ctx(json!({"s": "text"}), |ctx| {
            for bad in [
                "States.ArrayLength($.s)",
                "States.Nope()",
                "States.Array(",
                "States.MathAdd(1)",
            ] {
                let err = evaluate(bad, ctx).expect_err(bad);
                assert_eq!(err.error, "States.Runtime", "{bad}");
            }
        });
    }

    /// Every truncation and every one-character deletion of valid expressions: each must give
    /// a value or an error, never a panic.
    #[test]
    fn mangled_expressions_never_panic() {
        let seeds = [
            r"States.Format('a {} \{\} it\'s', $.x, States.ArrayGetItem($$.l, -1))",
            "States.JsonMerge(States.StringToJson('{\"a\": [1]}'), $v.o, false)",
            "States.ArrayRange(1, 9, 2)",
            "States.Hash($.a[?(@.b == ',)')], 'SHA-1')",
        ];
        with_ctx(json!({"x": 1, "a": [{"b": ",)"}]}), |ctx| {
            for seed in seeds {
                let chars: Vec<char> = seed.chars().collect();
                for i in 0..=chars.len() {
                    let truncated: String = chars[..i].iter().collect();
                    let deleted: String =
                        chars[..i].iter().chain(chars.iter().skip(i + 1)).collect();
                    for expr in [truncated, deleted] {
                        let _ = check_syntax(&expr);
                        let _ = evaluate(&expr, ctx);
                    }
                }
            }
        });
    }

    #[test]
    fn check_syntax_validates_names_arity_and_paths() {
        assert!(check_syntax("States.Format('{} {}', $.a, States.UUID())").is_ok());
        assert!(check_syntax("States.MathRandom(1, 10)").is_ok());
        assert!(check_syntax("States.Array()").is_ok());
        assert_eq!(
            check_syntax("States.Hash('a')"),
            Err("States.Hash takes 2 argument(s), but 1 were given".to_owned())
        );
        assert!(check_syntax("States.Unknown(1)").is_err());
        assert!(check_syntax("States.UUID(1)").is_err());
        assert!(check_syntax("States.Array($.a[)").is_err());
        assert!(check_syntax("States.Array(States.Nope())").is_err());
        assert!(check_syntax("States.Array('x'").is_err());
    }
}
