//! JSONata, behind a trait of our own, over a pinned JSONata crate; plus ASL's `{% %}`
//! templates, `$states`, number normalisation and the AWS-specific functions.
//!
//! OWNER: jsonata helper. Signatures are a contract with the evaluator and validator.
//!
//! Causes: every error returned from here is `States.QueryEvaluationError` with AWS's wording
//! *without* the state prefix (`An error occurred while executing the state 'X' (entered at the
//! event id #N). `), which only the evaluator can write. The `field` argument names the field
//! relative to the state, as AWS prints it: `Output`, `Assign`, `Arguments`, `Items`,
//! `Seconds`, `Choices[1]/Condition`, ...; [`evaluate_template`] appends `/key` for each object
//! key and `[i]` for each array index it descends into (`Output/result`, `Assign/x`).
//!
//! Known differences from AWS, all inherited from jsonata-core:
//! - numbers are doubles inside expressions, so an integer beyond 2^53 read through an
//!   expression loses precision (AWS keeps integers exact up to the 64-bit range);
//! - regular expressions use Rust's `regex`: look-around and backreferences fail to compile;
//! - there is no bound on the memory one value may take (AWS refuses values past ~7 MB);
//!   only the sequence length, the result depth and the 5-second time budget are bounded.

mod aws_functions;
mod causes;
mod compat;
mod core_engine;
mod references;
mod values;

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::error::StatesError;

pub use core_engine::JsonataCore;

/// What an expression sees: `$states` (`{input, context, result?, errorOutput?}`) and the
/// variables in scope (`$name`).
#[derive(Debug, Clone, Copy)]
pub struct JsonataBindings<'a> {
    pub states: &'a Value,
    pub variables: &'a Map<String, Value>,
    /// Where unseeded `$random()` and `$uuid()` draw from: the execution's seeded source.
    /// `None` (outside an execution) draws from the operating system.
    pub random: Option<&'a crate::random::RandomSource>,
}

/// A JSONata implementation. The engine depends on this trait, never on the crate directly.
pub trait JsonataEngine: Send + Sync + std::fmt::Debug {
    /// Evaluates one expression (without the `{% %}`) for `field` (e.g. "Output"), mapping
    /// failures to `States.QueryEvaluationError` with AWS's cause wording.
    fn evaluate(
        &self,
        expr: &str,
        bindings: &JsonataBindings<'_>,
        field: &str,
    ) -> Result<Value, StatesError>;
    /// Load-time syntax check. The `Err` is a plain message.
    fn check_syntax(&self, expr: &str) -> Result<(), String>;
    /// Load-time check of what a well-formed expression refers to. AWS refuses, with
    /// `UNSUPPORTED_JSONATA_EXPRESSION`, a context reference at the top level (`{% phone %}`:
    /// "Reference to 'phone' at the top level is not supported.") and any `$$` ("Reference to
    /// '$$' is not supported."): ASL expressions have no context item. The `Err` is AWS's
    /// message. Engines that cannot tell accept everything; a syntax error is
    /// [`check_syntax`](Self::check_syntax)'s to report, so it passes here.
    fn check_references(&self, expr: &str) -> Result<(), String> {
        let _ = expr;
        Ok(())
    }
}

/// True when `s` is a JSONata expression string (`{% ... %}`).
///
/// The delimiters must be the very first and last characters: AWS copies `" {% x %} "` as a
/// literal string (recorded in the `BASE_LITERALS` Output case).
pub fn is_expression(s: &str) -> bool {
    expression_body(s).is_some()
}

/// The expression inside `{% ... %}`, trimmed as AWS prints it in causes; `None` when `s` is
/// not an expression string.
pub fn expression_body(s: &str) -> Option<&str> {
    s.strip_prefix("{%")
        .and_then(|rest| rest.strip_suffix("%}"))
        .map(str::trim)
}

/// Resolves a JSONata-mode field value (Arguments, Output, Assign, Items, ...): strings of the
/// form `{% expr %}` are evaluated, objects and arrays recurse, other values are copied.
///
/// An expression that evaluates to nothing fails the field, naming its position
/// (`Output/result`): AWS never drops such a key silently.
pub fn evaluate_template(
    engine: &dyn JsonataEngine,
    template: &Value,
    bindings: &JsonataBindings<'_>,
    field: &str,
) -> Result<Value, StatesError> {
    let mut position = field.to_owned();
    resolve(engine, template, bindings, &mut position)
}

/// [`evaluate_template`] at `position` (the field name of `template`). Segments are pushed
/// and popped on one buffer as the walk descends, so a large literal template costs no
/// allocation per key.
fn resolve(
    engine: &dyn JsonataEngine,
    template: &Value,
    bindings: &JsonataBindings<'_>,
    position: &mut String,
) -> Result<Value, StatesError> {
    match template {
        Value::String(s) => match expression_body(s) {
            Some(expr) => engine.evaluate(expr, bindings, position),
            None => Ok(template.clone()),
        },
        Value::Object(fields) => {
            let mut out = Map::with_capacity(fields.len());
            for (key, value) in fields {
                let len = position.len();
                position.push('/');
                position.push_str(key);
                let resolved = resolve(engine, value, bindings, position);
                position.truncate(len);
                out.insert(key.clone(), resolved?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let len = position.len();
                write!(position, "[{i}]").expect("writing to a String cannot fail");
                let resolved = resolve(engine, item, bindings, position);
                position.truncate(len);
                out.push(resolved?);
            }
            Ok(Value::Array(out))
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(template.clone()),
    }
}

/// The JSON type a field requires of its resolved value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedType {
    Array,
    Boolean,
    Number,
    String,
    Object,
}

impl ExpectedType {
    /// JSONata's name for the type, as AWS prints it in causes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Array => "array",
            Self::Boolean => "boolean",
            Self::Number => "number",
            Self::String => "string",
            Self::Object => "object",
        }
    }

    fn matches(self, value: &Value) -> bool {
        match self {
            Self::Array => value.is_array(),
            Self::Boolean => value.is_boolean(),
            Self::Number => value.is_number(),
            Self::String => value.is_string(),
            Self::Object => value.is_object(),
        }
    }
}

/// Resolves a field that must hold one JSON type (`Items`: array, `Condition`: boolean, ...)
/// and fails with AWS's "returned an unexpected result type" cause otherwise, e.g.
/// `The JSONata expression '$ItemsVar' specified for the field 'Items' returned an unexpected
/// result type. Expected 'array', but was 'null' for value: null`.
pub fn evaluate_typed(
    engine: &dyn JsonataEngine,
    template: &Value,
    bindings: &JsonataBindings<'_>,
    field: &str,
    expected: ExpectedType,
) -> Result<Value, StatesError> {
    let value = evaluate_template(engine, template, bindings, field)?;
    if expected.matches(&value) {
        return Ok(value);
    }
    // A literal of the wrong type is the validator's to reject; if one gets here anyway it
    // is named by its JSON text, the closest thing to an expression it has.
    let expr = match template {
        Value::String(s) => expression_body(s).map_or_else(|| s.clone(), str::to_owned),
        other => other.to_string(),
    };
    Err(causes::unexpected_type(
        &expr,
        field,
        expected.name(),
        &value,
    ))
}

/// The default engine: jsonata-core with the AWS functions.
///
/// One instance is shared by the whole process, so every execution reuses the expressions
/// already parsed (parsing costs more than evaluating a typical ASL expression).
pub fn default_engine() -> std::sync::Arc<dyn JsonataEngine> {
    static SHARED: std::sync::OnceLock<std::sync::Arc<JsonataCore>> = std::sync::OnceLock::new();
    SHARED
        .get_or_init(|| std::sync::Arc::new(JsonataCore::new()))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::names;
    use serde_json::json;

    fn eval(template: Value, states: Value, variables: Value) -> Result<Value, StatesError> {
        let engine = default_engine();
        let variables = variables.as_object().cloned().unwrap_or_default();
        let bindings = JsonataBindings {
            states: &states,
            variables: &variables,
            random: None,
        };
        evaluate_template(engine.as_ref(), &template, &bindings, "Output")
    }

    #[test]
    fn expression_strings_need_exact_delimiters() {
        assert!(is_expression("{% $x %}"));
        assert!(is_expression("{%$x%}"));
        assert!(!is_expression(" {% states.input %} "));
        assert!(!is_expression("{% $x"));
        assert!(!is_expression("$states.input"));
        assert!(!is_expression("{%"));
        assert_eq!(expression_body("{%  $x + 1 %}"), Some("$x + 1"));
    }

    #[test]
    fn template_evaluates_expressions_and_copies_everything_else() {
        let template = json!({
            "sum": "{% $sum($states.input.values) + $offset %}",
            "literal": " {% states.input %} ",
            "path_like": "$states.input",
            "nested": [1, 0.1, null, true, {"deep": "{% $states.input.name %}"}],
        });
        let got = eval(
            template,
            json!({"input": {"values": [1, 2, 3], "name": "n"}}),
            json!({"offset": 10}),
        )
        .expect("evaluates");
        assert_eq!(
            got,
            json!({
                "sum": 16,
                "literal": " {% states.input %} ",
                "path_like": "$states.input",
                "nested": [1, 0.1, null, true, {"deep": "n"}],
            })
        );
    }

    #[test]
    fn template_key_order_is_kept() {
        let got = eval(
            json!({"z": "{% 1 %}", "a": 2, "m": "{% 3 %}"}),
            json!({}),
            json!({}),
        )
        .expect("ok");
        let keys: Vec<&String> = got.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn undefined_names_the_nested_field() {
        // Recorded: ..._BASE_UNDEFINED_OUTPUT_MULTIPLE_STATES and ..._BASE_UNDEFINED_ASSIGN.
        let err = eval(
            json!({"result": "{% $doesNotExist %}"}),
            json!({}),
            json!({}),
        )
        .expect_err("undefined");
        assert_eq!(err.error, names::QUERY_EVALUATION_ERROR);
        assert_eq!(
            err.cause,
            "The JSONata expression '$doesNotExist' specified for the field 'Output/result' returned nothing (undefined)."
        );
        let err = eval(
            json!({"a": [1, {"b": "{% $states.input.x %}"}]}),
            json!({"input": {}}),
            json!({}),
        )
        .expect_err("undefined");
        assert!(
            err.cause
                .contains("for the field 'Output/a[1]/b' returned nothing"),
            "{}",
            err.cause
        );
    }

    #[test]
    fn top_level_undefined_names_the_field_itself() {
        // Recorded: ..._BASE_UNDEFINED_OUTPUT.
        let err = eval(json!("{% $doesNotExist %}"), json!({}), json!({})).expect_err("undefined");
        assert_eq!(
            err.cause,
            "The JSONata expression '$doesNotExist' specified for the field 'Output' returned nothing (undefined)."
        );
    }

    #[test]
    fn typed_fields_report_the_unexpected_type() {
        // Recorded: scenarios_..._test_map_state_items_eval_jsonata_fail_object / _fail_null.
        let engine = default_engine();
        let states = json!({"input": {}});
        let variables = Map::new();
        let bindings = JsonataBindings {
            states: &states,
            variables: &variables,
            random: None,
        };
        let err = evaluate_typed(
            engine.as_ref(),
            &json!("{% {'foo': 'bar'} %}"),
            &bindings,
            "Items",
            ExpectedType::Array,
        )
        .expect_err("object is not an array");
        assert_eq!(
            err.cause,
            "The JSONata expression '{'foo': 'bar'}' specified for the field 'Items' returned an unexpected result \
             type. Expected 'array', but was 'object' for value: {\"foo\":\"bar\"}"
        );
        let err = evaluate_typed(
            engine.as_ref(),
            &json!("{% null %}"),
            &bindings,
            "Items",
            ExpectedType::Array,
        )
        .expect_err("null is not an array");
        assert_eq!(
            err.cause,
            "The JSONata expression 'null' specified for the field 'Items' returned an unexpected result type. \
             Expected 'array', but was 'null' for value: null"
        );
        let ok = evaluate_typed(
            engine.as_ref(),
            &json!("{% [0] %}"),
            &bindings,
            "Items",
            ExpectedType::Array,
        )
        .expect("array");
        assert_eq!(ok, json!([0]));
        let ok = evaluate_typed(
            engine.as_ref(),
            &json!([1, "{% 2 %}"]),
            &bindings,
            "Items",
            ExpectedType::Array,
        )
        .expect("literal array");
        assert_eq!(ok, json!([1, 2]));
    }
}
