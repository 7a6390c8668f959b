//! JSONPath-mode Choice rules: every comparison operator and its `...Path` variant, `And`, `Or`,
//! `Not`, and the type tests (`IsPresent`, `IsNull`, `IsNumeric`, ...).
//!
//! OWNER: paths helper. Signatures are a contract with the evaluator and validator.
//!
//! AWS semantics, as the recorded choice_operators cases show them: comparing a value of the
//! wrong type is simply false (`NumericEquals` on a string, `BooleanEquals` on 0, ...), never
//! an error. A `Variable` path that selects nothing is an error for every operator except
//! `IsPresent`.

mod operator;
mod timestamp;
mod wildcard;

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::context::PathContext;
use crate::error::StatesError;
use crate::jsonpath;

use operator::{Comparison, Kind, Operator, TypeTest};

/// Nesting limit for And/Or/Not: a hostile definition must not overflow the stack.
const MAX_RULE_DEPTH: usize = 128;

/// Fields a rule may carry besides its operator. `Condition` and `Output` are JSONata fields
/// the validator reports itself; they are not this module's concern.
const TOP_LEVEL_FIELDS: &[&str] = &["Next", "Comment", "Assign", "Condition", "Output"];

/// Evaluates one Choice rule (the whole rule object as written in the definition; `Next`,
/// `Assign`, `Output` and `Comment` are ignored here).
pub fn evaluate_rule(rule: &Value, ctx: &PathContext<'_>) -> Result<bool, StatesError> {
    evaluate_at_depth(rule, ctx, 0)
}

/// Load-time check of a rule's shape (exactly one operator, valid paths, nested rules valid).
/// Returns (relative JSON path, message) pairs.
pub fn check_rule(rule: &Value) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    check_at(rule, "", true, 0, &mut problems);
    problems
}

fn evaluate_at_depth(
    rule: &Value,
    ctx: &PathContext<'_>,
    depth: usize,
) -> Result<bool, StatesError> {
    if depth > MAX_RULE_DEPTH {
        return Err(StatesError::runtime(format!(
            "Choice rules are nested more than {MAX_RULE_DEPTH} deep"
        )));
    }
    let Some(rule) = rule.as_object() else {
        return Err(StatesError::runtime(format!(
            "A Choice rule must be an object, but was: {}",
            jsonpath::compact(rule)
        )));
    };
    if let Some(rules) = rule.get("And") {
        for nested in nested_rules(rules, "And")? {
            if !evaluate_at_depth(nested, ctx, depth + 1)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    if let Some(rules) = rule.get("Or") {
        for nested in nested_rules(rules, "Or")? {
            if evaluate_at_depth(nested, ctx, depth + 1)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    if let Some(nested) = rule.get("Not") {
        return Ok(!evaluate_at_depth(nested, ctx, depth + 1)?);
    }
    evaluate_comparison(rule, ctx)
}

fn nested_rules<'a>(rules: &'a Value, operator: &str) -> Result<&'a Vec<Value>, StatesError> {
    rules.as_array().ok_or_else(|| {
        StatesError::runtime(format!(
            "The value of '{operator}' in a Choice rule must be an array of rules"
        ))
    })
}

fn evaluate_comparison(
    rule: &Map<String, Value>,
    ctx: &PathContext<'_>,
) -> Result<bool, StatesError> {
    let Some(Value::String(variable)) = rule.get("Variable") else {
        return Err(StatesError::runtime(
            "A Choice rule needs a Variable (a JSONPath string)",
        ));
    };
    let Some((name, operand)) = rule
        .iter()
        .find_map(|(k, v)| Operator::from_name(k).map(|op| (op, v)))
    else {
        return Err(StatesError::runtime(
            "A Choice rule needs a comparison operator",
        ));
    };
    let value = jsonpath::query_optional(variable, ctx)?;
    if let Operator::Type(TypeTest::Present) = name {
        return Ok(value.is_some() == expect_bool(operand, "IsPresent")?);
    }
    let Some(value) = value else {
        return Err(invalid_variable(variable));
    };
    match name {
        Operator::Type(test) => Ok(test.holds(&value) == expect_bool(operand, test.name())?),
        Operator::StringMatches => {
            let pattern = operand.as_str().ok_or_else(|| {
                StatesError::runtime("The value of StringMatches must be a string")
            })?;
            Ok(value
                .as_str()
                .is_some_and(|s| wildcard::matches(pattern, s)))
        }
        Operator::Compare(comparison) => {
            let expected = if comparison.path {
                let Value::String(path) = operand else {
                    return Err(StatesError::runtime(format!(
                        "The value of {} must be a JSONPath string",
                        comparison.name()
                    )));
                };
                match jsonpath::query_optional(path, ctx)? {
                    Some(v) => v,
                    None => return Err(invalid_variable(path)),
                }
            } else {
                operand.clone()
            };
            Ok(compare(comparison, &value, &expected))
        }
    }
}

/// AWS's cause when a Choice rule's path selects nothing (a `States.Runtime` error).
/// Not in a recorded case of ours; independent emulators that copy AWS's messages agree on
/// this wording (ManageIQ/floe's fixture comment "Variable missing -> Invalid path '$.foo'.
/// The choice state's condition path references an invalid value.", and several TypeScript
/// Step Functions emulators' tests expecting `States.Runtime` with it).
fn invalid_variable(path: &str) -> StatesError {
    StatesError::runtime(format!(
        "Invalid path '{path}': The choice state's condition path references an invalid value."
    ))
}

fn expect_bool(operand: &Value, operator: &str) -> Result<bool, StatesError> {
    operand
        .as_bool()
        .ok_or_else(|| StatesError::runtime(format!("The value of {operator} must be a boolean")))
}

/// Applies one comparison; a value of the wrong type makes it false (recorded behaviour).
fn compare(comparison: Comparison, value: &Value, expected: &Value) -> bool {
    let ordering = match comparison.kind {
        Kind::String => match (value, expected) {
            (Value::String(a), Value::String(b)) => Some(compare_utf16(a, b)),
            _ => None,
        },
        Kind::Numeric => match (value, expected) {
            (Value::Number(a), Value::Number(b)) => compare_numbers(a, b),
            _ => None,
        },
        Kind::Boolean => match (value, expected) {
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            _ => None,
        },
        Kind::Timestamp => match (
            value.as_str().and_then(parse_timestamp),
            expected.as_str().and_then(parse_timestamp),
        ) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => None,
        },
    };
    ordering.is_some_and(|o| comparison.accepts(o))
}

/// Java's String.compareTo order (UTF-16 code units), which differs from Rust's byte order
/// for characters outside the Basic Multilingual Plane.
fn compare_utf16(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Numbers compare by value: `0` equals `0.0` (recorded). Integers compare exactly.
fn compare_numbers(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    let as_int = |n: &serde_json::Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (as_int(a), as_int(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// Parses a timestamp as AWS does for the Timestamp operators, `IsTimestamp` and Wait's
/// `Timestamp`/`TimestampPath` (Java's ISO-8601 extended offset date-time format).
pub fn parse_timestamp(text: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    timestamp::parse(text)
}

fn check_at(
    rule: &Value,
    at: &str,
    top_level: bool,
    depth: usize,
    problems: &mut Vec<(String, String)>,
) {
    if depth > MAX_RULE_DEPTH {
        problems.push((
            at.to_owned(),
            format!("Choice rules are nested more than {MAX_RULE_DEPTH} deep"),
        ));
        return;
    }
    let Some(members) = rule.as_object() else {
        problems.push((at.to_owned(), "a Choice rule must be an object".to_owned()));
        return;
    };
    let combinators: Vec<&str> = ["And", "Or", "Not"]
        .into_iter()
        .filter(|k| members.contains_key(*k))
        .collect();
    let operators: Vec<(&String, Operator)> = members
        .keys()
        .filter_map(|k| Operator::from_name(k).map(|op| (k, op)))
        .collect();

    for key in members.keys() {
        let known = key == "Variable"
            || combinators.contains(&key.as_str())
            || Operator::from_name(key).is_some()
            || (top_level && TOP_LEVEL_FIELDS.contains(&key.as_str()))
            || (!top_level && key == "Comment");
        if !known {
            let message = if key == "Next" {
                "a nested Choice rule (inside And, Or or Not) must not have Next".to_owned()
            } else {
                format!("'{key}' is not a field of a Choice rule")
            };
            problems.push((format!("{at}.{key}"), message));
        }
    }

    match (combinators.as_slice(), operators.len()) {
        ([], 0) => problems.push((
            at.to_owned(),
            "a Choice rule needs a comparison operator, or And, Or or Not".to_owned(),
        )),
        ([], 1) => check_comparison(members, &operators[0], at, problems),
        ([], _) => problems.push((
            at.to_owned(),
            "a Choice rule must have exactly one comparison operator".to_owned(),
        )),
        ([combinator], 0) => {
            if members.contains_key("Variable") {
                problems.push((
                    format!("{at}.Variable"),
                    format!("a rule with {combinator} must not have a Variable"),
                ));
            }
            check_combinator(members, combinator, at, depth, problems);
        }
        _ => problems.push((
            at.to_owned(),
            "a Choice rule must have exactly one of And, Or, Not or a comparison operator"
                .to_owned(),
        )),
    }
}

fn check_combinator(
    members: &Map<String, Value>,
    combinator: &str,
    at: &str,
    depth: usize,
    problems: &mut Vec<(String, String)>,
) {
    let nested_at = format!("{at}.{combinator}");
    let Some(value) = members.get(combinator) else {
        return;
    };
    if combinator == "Not" {
        check_at(value, &nested_at, false, depth + 1, problems);
        return;
    }
    match value.as_array() {
        Some(rules) if !rules.is_empty() => {
            for (i, nested) in rules.iter().enumerate() {
                check_at(
                    nested,
                    &format!("{nested_at}[{i}]"),
                    false,
                    depth + 1,
                    problems,
                );
            }
        }
        _ => problems.push((
            nested_at,
            format!("{combinator} must be a non-empty array of Choice rules"),
        )),
    }
}

fn check_comparison(
    members: &Map<String, Value>,
    (key, operator): &(&String, Operator),
    at: &str,
    problems: &mut Vec<(String, String)>,
) {
    match members.get("Variable") {
        Some(Value::String(path)) => {
            if let Err(message) = jsonpath::check_path(path) {
                problems.push((format!("{at}.Variable"), message));
            }
        }
        Some(_) => problems.push((
            format!("{at}.Variable"),
            "Variable must be a JSONPath string".to_owned(),
        )),
        None => problems.push((at.to_owned(), format!("a rule with {key} needs a Variable"))),
    }
    let operand = &members[key.as_str()];
    let operand_at = format!("{at}.{key}");
    let problem = match operator {
        Operator::Type(_) => {
            (!operand.is_boolean()).then(|| format!("{key} must be true or false"))
        }
        Operator::StringMatches => {
            (!operand.is_string()).then(|| format!("{key} must be a string"))
        }
        Operator::Compare(c) if c.path => match operand.as_str() {
            Some(path) => jsonpath::check_path(path).err(),
            None => Some(format!("{key} must be a JSONPath string")),
        },
        Operator::Compare(c) => match c.kind {
            Kind::String => (!operand.is_string()).then(|| format!("{key} must be a string")),
            Kind::Numeric => (!operand.is_number()).then(|| format!("{key} must be a number")),
            Kind::Boolean => {
                (!operand.is_boolean()).then(|| format!("{key} must be true or false"))
            }
            Kind::Timestamp => operand
                .as_str()
                .and_then(parse_timestamp)
                .is_none()
                .then(|| {
                    format!(
                        "{key} must be an RFC 3339 timestamp string, such as 2016-03-14T01:59:00Z"
                    )
                }),
        },
    };
    if let Some(message) = problem {
        problems.push((operand_at, message));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn eval_on(variable: Value, rule: Value) -> Result<bool, StatesError> {
        let input = json!({"Variable": variable, "Value": rule.get("__value").cloned().unwrap_or(Value::Null)});
        let context = json!({"Execution": {"Input": {"flag": true}}});
        let mut variables = Map::new();
        variables.insert("limit".to_owned(), json!(10));
        let ctx = PathContext {
            input: &input,
            context: &context,
            variables: &variables,
            random: None,
        };
        evaluate_rule(&rule, &ctx)
    }

    fn is(variable: Value, rule: Value) -> bool {
        eval_on(variable, rule).expect("rule evaluates")
    }

    fn rule(operator: &str, operand: Value) -> Value {
        json!({"Variable": "$.Variable", operator: operand, "Next": "X"})
    }

    /// A `...Path` rule comparing `$.Variable` with `$.Value`.
    fn path_rule(operator: &str, value: Value) -> Value {
        json!({"Variable": "$.Variable", operator: "$.Value", "__value": value})
    }

    #[test]
    fn string_comparisons() {
        assert!(is(json!("Hello"), rule("StringEquals", json!("Hello"))));
        assert!(!is(json!(" "), rule("StringEquals", json!("     "))));
        assert!(!is(json!("\t\n"), rule("StringEquals", json!("\t\r\n"))));
        assert!(!is(json!(1), rule("StringEquals", json!("1"))));
        assert!(!is(json!(null), rule("StringEquals", json!("HelloWorld"))));
        assert!(!is(json!("A"), rule("StringGreaterThan", json!("A "))));
        assert!(!is(json!("AB"), rule("StringGreaterThan", json!("ABC"))));
        assert!(is(json!("AB"), rule("StringGreaterThanEquals", json!("A"))));
        assert!(!is(
            json!("A"),
            rule("StringGreaterThanEquals", json!("AB"))
        ));
        assert!(!is(json!("AB"), rule("StringLessThan", json!("A"))));
        assert!(is(json!(""), rule("StringLessThanEquals", json!(""))));
        assert!(is(
            json!("Hello"),
            path_rule("StringEqualsPath", json!("Hello"))
        ));
        assert!(!is(json!(""), path_rule("StringLessThanPath", json!(""))));
        assert!(is(
            json!(""),
            path_rule("StringGreaterThanEqualsPath", json!(""))
        ));
        assert!(!is(
            json!("AB"),
            path_rule("StringLessThanEqualsPath", json!("A"))
        ));
    }

    #[test]
    fn string_order_is_utf16_like_java() {
        // U+FF61 sorts after U+1F600 in UTF-16 (0xFF61 > 0xD83D) but before it in UTF-8.
        assert!(is(
            json!("\u{FF61}"),
            rule("StringGreaterThan", json!("\u{1F600}"))
        ));
    }

    #[test]
    fn numeric_comparisons() {
        assert!(is(json!(0), rule("NumericEquals", json!(0.0))));
        assert!(is(json!(0.0), rule("NumericEquals", json!(0))));
        assert!(is(json!(2.22), rule("NumericEquals", json!(2.22))));
        assert!(!is(json!(1.1), rule("NumericEquals", json!(1))));
        for wrong in [
            json!(null),
            json!(""),
            json!(" "),
            json!([]),
            json!({}),
            json!(false),
            json!(true),
            json!("0"),
        ] {
            assert!(
                !is(wrong.clone(), rule("NumericEquals", json!(0))),
                "{wrong}"
            );
        }
        assert!(is(json!(1), rule("NumericGreaterThan", json!(0))));
        assert!(!is(json!(0.0), rule("NumericGreaterThan", json!(0))));
        assert!(is(json!(0.0), rule("NumericGreaterThanEquals", json!(0))));
        assert!(is(json!(0), rule("NumericLessThan", json!(1))));
        assert!(!is(json!(0.0), rule("NumericLessThan", json!(0))));
        assert!(is(json!(0.0), rule("NumericLessThanEquals", json!(0))));
        assert!(is(json!(0), path_rule("NumericEqualsPath", json!(0.0))));
        assert!(!is(json!(true), path_rule("NumericEqualsPath", json!(1.0))));
        assert!(is(json!(1), path_rule("NumericGreaterThanPath", json!(0))));
        assert!(is(
            json!(1),
            path_rule("NumericGreaterThanEqualsPath", json!(1))
        ));
        assert!(!is(json!(1), path_rule("NumericLessThanPath", json!(1))));
        assert!(is(
            json!(1),
            path_rule("NumericLessThanEqualsPath", json!(1))
        ));
        assert!(is(
            json!(u64::MAX),
            rule("NumericGreaterThan", json!(i64::MAX))
        ));
    }

    #[test]
    fn boolean_comparisons() {
        assert!(is(json!(true), rule("BooleanEquals", json!(true))));
        assert!(!is(json!(false), rule("BooleanEquals", json!(true))));
        assert!(!is(json!(0), rule("BooleanEquals", json!(false))));
        assert!(!is(json!("true"), rule("BooleanEquals", json!(true))));
        assert!(is(
            json!(false),
            path_rule("BooleanEqualsPath", json!(false))
        ));
        assert!(!is(json!(1), path_rule("BooleanEqualsPath", json!(true))));
    }

    #[test]
    fn timestamp_comparisons() {
        let t55 = json!("2012-10-09T19:00:55Z");
        let t56 = json!("2012-10-09T19:00:56Z");
        assert!(is(t55.clone(), rule("TimestampEquals", t55.clone())));
        assert!(is(
            json!("2012-10-09T20:00:55+01:00"),
            rule("TimestampEquals", t55.clone())
        ));
        assert!(!is(t56.clone(), rule("TimestampEquals", t55.clone())));
        assert!(is(t56.clone(), rule("TimestampGreaterThan", t55.clone())));
        assert!(is(
            t56.clone(),
            rule("TimestampGreaterThanEquals", t55.clone())
        ));
        assert!(!is(t55.clone(), rule("TimestampLessThan", t55.clone())));
        assert!(is(
            t55.clone(),
            rule("TimestampLessThanEquals", t55.clone())
        ));
        assert!(!is(
            json!("2023-02-24 12:15:56.832957"),
            rule("TimestampEquals", t55.clone())
        ));
        assert!(!is(json!(1), rule("TimestampEquals", t55.clone())));
        assert!(is(
            t55.clone(),
            path_rule("TimestampEqualsPath", t55.clone())
        ));
        assert!(!is(
            t55.clone(),
            path_rule("TimestampGreaterThanPath", t56.clone())
        ));
        assert!(!is(
            t55.clone(),
            path_rule("TimestampGreaterThanEqualsPath", t56.clone())
        ));
        assert!(!is(
            t56.clone(),
            path_rule("TimestampLessThanEqualsPath", t55.clone())
        ));
        assert!(is(t55.clone(), path_rule("TimestampLessThanPath", t56)));
        assert!(!is(
            t55,
            path_rule("TimestampEqualsPath", json!("not a time"))
        ));
    }

    #[test]
    fn string_matches_wildcards() {
        assert!(is(
            json!("log-2024.txt"),
            rule("StringMatches", json!("log-*.txt"))
        ));
        assert!(!is(
            json!("log-2024.csv"),
            rule("StringMatches", json!("log-*.txt"))
        ));
        assert!(is(json!("a*b"), rule("StringMatches", json!(r"a\*b"))));
        assert!(!is(json!("axb"), rule("StringMatches", json!(r"a\*b"))));
        assert!(!is(json!(5), rule("StringMatches", json!("*"))));
    }

    #[test]
    fn type_tests() {
        assert!(is(json!(null), rule("IsPresent", json!(true))));
        assert!(is(json!(null), rule("IsNull", json!(true))));
        assert!(!is(json!(""), rule("IsNull", json!(true))));
        assert!(is(json!(""), rule("IsNull", json!(false))));
        assert!(is(json!(1.1), rule("IsNumeric", json!(true))));
        assert!(!is(json!("1"), rule("IsNumeric", json!(true))));
        assert!(is(json!(""), rule("IsString", json!(true))));
        assert!(is(json!([]), rule("IsString", json!(false))));
        assert!(is(json!(false), rule("IsBoolean", json!(true))));
        assert!(!is(json!(0), rule("IsBoolean", json!(true))));
        assert!(is(
            json!("2012-10-09T19:00:55Z"),
            rule("IsTimestamp", json!(true))
        ));
        assert!(is(
            json!("2012-10-09T19:00:55"),
            rule("IsTimestamp", json!(false))
        ));
        assert!(is(json!("2023-02-24"), rule("IsTimestamp", json!(false))));
    }

    #[test]
    fn is_present_handles_missing_paths_and_other_operators_fail() {
        let input = json!({"a": 1});
        let context = json!({});
        let variables = Map::new();
        let ctx = PathContext {
            input: &input,
            context: &context,
            variables: &variables,
            random: None,
        };
        assert!(evaluate_rule(&json!({"Variable": "$.b", "IsPresent": false}), &ctx).expect("ok"));
        assert!(!evaluate_rule(&json!({"Variable": "$.b", "IsPresent": true}), &ctx).expect("ok"));
        assert!(
            !evaluate_rule(&json!({"Variable": "$undefined", "IsPresent": true}), &ctx)
                .expect("ok")
        );
        let err =
            evaluate_rule(&json!({"Variable": "$.b", "IsNull": true}), &ctx).expect_err("missing");
        assert_eq!(err.error, "States.Runtime");
        assert_eq!(
            err.cause,
            "Invalid path '$.b': The choice state's condition path references an invalid value."
        );
        let err = evaluate_rule(
            &json!({"Variable": "$.a", "NumericEqualsPath": "$.nope"}),
            &ctx,
        )
        .expect_err("missing");
        assert_eq!(
            err.cause,
            "Invalid path '$.nope': The choice state's condition path references an invalid value."
        );
    }

    #[test]
    fn context_and_variable_paths() {
        assert!(is(
            json!(0),
            json!({"Variable": "$$.Execution.Input.flag", "BooleanEquals": true})
        ));
        assert!(is(
            json!(5),
            json!({"Variable": "$.Variable", "NumericLessThanPath": "$limit"})
        ));
        assert!(is(
            json!(10),
            json!({"Variable": "$limit", "NumericEquals": 10})
        ));
    }

    #[test]
    fn combinators() {
        let and = json!({"And": [
            {"Variable": "$.Variable", "IsNumeric": true},
            {"Variable": "$.Variable", "NumericGreaterThan": 1}
        ], "Next": "X"});
        assert!(is(json!(2), and.clone()));
        assert!(!is(json!(1), and));
        let or = json!({"Or": [
            {"Variable": "$.Variable", "StringEquals": "a"},
            {"Variable": "$.Variable", "StringEquals": "b"}
        ]});
        assert!(is(json!("b"), or.clone()));
        assert!(!is(json!("c"), or));
        assert!(is(
            json!("x"),
            json!({"Not": {"Variable": "$.Variable", "StringEquals": "y"}})
        ));
        // And stops at the first false rule: the missing path in the second rule is not read.
        assert!(!is(
            json!(0),
            json!({"And": [
                {"Variable": "$.Variable", "IsString": true},
                {"Variable": "$.missing", "IsNull": true}
            ]})
        ));
    }

    #[test]
    fn malformed_rules_at_run_time_are_errors_not_panics() {
        for bad in [
            json!("rule"),
            json!({"Variable": "$.Variable"}),
            json!({"StringEquals": "x"}),
            json!({"Variable": "$.Variable", "IsNull": "yes"}),
            json!({"And": {}}),
            json!({"Variable": "$.Variable", "StringEqualsPath": 3}),
        ] {
            assert!(eval_on(json!("x"), bad.clone()).is_err(), "{bad}");
        }
        let mut deep = json!({"Variable": "$.Variable", "IsNull": false});
        for _ in 0..1000 {
            deep = json!({"Not": deep});
        }
        assert!(eval_on(json!("x"), deep.clone()).is_err());
        assert!(!check_rule(&deep).is_empty());
    }

    #[test]
    fn check_rule_accepts_valid_rules() {
        for ok in [
            json!({"Variable": "$.a", "StringEquals": "x", "Next": "N"}),
            json!({"Variable": "$.a", "NumericLessThanEqualsPath": "$$.b", "Next": "N", "Comment": "c"}),
            json!({"Variable": "$var", "TimestampEquals": "2016-03-14T01:59:00Z", "Next": "N"}),
            json!({"Variable": "$.a", "IsPresent": true, "Next": "N", "Assign": {"x": 1}}),
            json!({"Not": {"Variable": "$.a", "BooleanEquals": true}, "Next": "N"}),
            json!({"And": [{"Variable": "$.a", "IsNull": false}, {"Or": [{"Variable": "$.b", "StringMatches": "*.txt"}]}], "Next": "N"}),
        ] {
            assert_eq!(check_rule(&ok), Vec::<(String, String)>::new(), "{ok}");
        }
    }

    #[test]
    fn check_rule_reports_problems_with_relative_paths() {
        let problems = |rule: Value| {
            check_rule(&rule)
                .into_iter()
                .map(|(at, _)| at)
                .collect::<Vec<_>>()
        };
        assert_eq!(problems(json!({"Variable": "$.a", "Next": "N"})), vec![""]);
        assert_eq!(
            problems(json!({"Variable": "$.a", "StringEquals": "x", "NumericEquals": 1})),
            vec![""]
        );
        assert_eq!(
            problems(json!({"Variable": "a", "StringEquals": "x"})),
            vec![".Variable"]
        );
        assert_eq!(
            problems(json!({"Variable": "$.a", "NumericEquals": "1"})),
            vec![".NumericEquals"]
        );
        assert_eq!(
            problems(json!({"Variable": "$.a", "TimestampEquals": "yesterday"})),
            vec![".TimestampEquals"]
        );
        assert_eq!(
            problems(json!({"Variable": "$.a", "StringEqualsPath": "nope"})),
            vec![".StringEqualsPath"]
        );
        assert_eq!(
            problems(json!({"Variable": "$.a", "IsNull": 1})),
            vec![".IsNull"]
        );
        assert_eq!(
            problems(json!({"Variable": "$.a", "StringEqual": "x"})),
            vec![".StringEqual", ""]
        );
        assert_eq!(problems(json!({"And": []})), vec![".And"]);
        assert_eq!(
            problems(
                json!({"And": [{"Variable": "$.a", "IsNull": true, "Next": "X"}, {"Not": {"Variable": "$.b"}}]})
            ),
            vec![".And[0].Next", ".And[1].Not"]
        );
        assert_eq!(
            problems(json!({"Not": {"Variable": "$.a", "IsNull": true}, "Variable": "$.a"})),
            vec![".Variable"]
        );
        assert_eq!(problems(json!({"Or": [1]})), vec![".Or[0]"]);
        assert_eq!(problems(json!([])), vec![""]);
    }
}
