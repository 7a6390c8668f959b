//! [`JsonataEngine`] over jsonata-core (pinned to an exact version in the workspace).
//!
//! jsonata-core passed the most expressions of the crates probed for issue 3 and never panics
//! on operators jsonata-rs panics on (`%`). Its values are `Rc`-based and not `Send`, so each
//! evaluation builds its own evaluator and bindings; parsed expressions are plain data and are
//! cached across evaluations and threads.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::{Context, Evaluator, EvaluatorOptions};
use jsonata_core::parser;
use jsonata_core::value::JValue;
use serde_json::Value;

use super::values::{MAX_RESULT_DEPTH, NotJson, to_json, to_jvalue};
use super::{JsonataBindings, JsonataEngine, aws_functions, causes, compat, references};
use crate::error::StatesError;

/// Wall-clock budget of one evaluation. AWS bounds evaluation too; this keeps a runaway
/// expression (`($f := function(){$f()}; $f())` loops as a tail call) from hanging a run.
const EVALUATION_TIMEOUT_MS: u64 = 5_000;

/// Longest sequence one expression may build (`[1..n]`, `$map`, ...): a backstop against
/// hostile definitions. AWS refuses values past ~7 MB, about 870,000 numbers.
const MAX_SEQUENCE_LENGTH: usize = 1_000_000;

/// Parsed expressions kept at most; the cache is emptied when full. Definitions hold a
/// bounded number of distinct expressions, so in practice it never fills.
const MAX_CACHED_EXPRESSIONS: usize = 4_096;

/// The default [`JsonataEngine`]: jsonata-core plus the AWS functions, with a parse cache.
#[derive(Debug, Default)]
pub struct JsonataCore {
    parsed: Mutex<HashMap<String, Arc<Parsed>>>,
}

/// One parsed expression and the variables it can read.
#[derive(Debug)]
struct Parsed {
    ast: AstNode,
    /// `None`: unknown, bind every variable.
    reads: Option<HashSet<String>>,
}

impl Parsed {
    fn reads(&self, name: &str) -> bool {
        self.reads.as_ref().is_none_or(|names| names.contains(name))
    }
}

impl JsonataCore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The parsed form of `expr`, from the cache when seen before.
    fn parse(&self, expr: &str) -> Result<Arc<Parsed>, String> {
        if let Some(parsed) = self.lock_cache().get(expr) {
            return Ok(Arc::clone(parsed));
        }
        let mut ast = parser::parse(expr).map_err(|e| e.to_string())?;
        compat::to_jsonata_js(&mut ast);
        let reads = references::referenced_names(&ast);
        let parsed = Arc::new(Parsed { ast, reads });
        let mut cache = self.lock_cache();
        if cache.len() >= MAX_CACHED_EXPRESSIONS {
            cache.clear();
        }
        cache.insert(expr.to_owned(), Arc::clone(&parsed));
        Ok(parsed)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Parsed>>> {
        // A poisoned lock only means another thread panicked mid-insert of a complete entry;
        // the map itself is still consistent.
        self.parsed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// An evaluator that sees `$states`, the variables and the AWS functions. Only what
/// `parsed` reads is converted: the rest could not change the result.
fn evaluator_for(parsed: &Parsed, bindings: &JsonataBindings<'_>) -> Result<Evaluator, String> {
    let mut context = Context::new();
    for (name, value) in bindings.variables {
        if parsed.reads(name) {
            context.bind(name.clone(), to_jvalue(value));
        }
    }
    // Bound last: `$states` is reserved and always means the state's own data.
    if parsed.reads("states") {
        context.bind("states".to_owned(), to_jvalue(bindings.states));
    }
    let options = EvaluatorOptions {
        timeout_ms: Some(EVALUATION_TIMEOUT_MS),
        max_sequence_length: Some(MAX_SEQUENCE_LENGTH),
        ..EvaluatorOptions::default()
    };
    let mut evaluator = Evaluator::with_options(context, options);
    let random = bindings.random.cloned().unwrap_or_default();
    aws_functions::register(&mut evaluator, random).map_err(|e| e.message().to_owned())?;
    Ok(evaluator)
}

impl JsonataEngine for JsonataCore {
    fn evaluate(
        &self,
        expr: &str,
        bindings: &JsonataBindings<'_>,
        field: &str,
    ) -> Result<Value, StatesError> {
        let expr = expr.trim();
        // The validator rejects unparsable expressions at load time; one that reaches here
        // (an unvalidated definition) fails the field the way any evaluation error does.
        let parsed = self
            .parse(expr)
            .map_err(|message| causes::threw(expr, field, &message))?;
        let mut evaluator = evaluator_for(&parsed, bindings)
            .map_err(|message| causes::threw(expr, field, &message))?;
        // ASL expressions have no context item: everything comes from `$states` and variables,
        // so a bare path (`states.input`) reads nothing, as on AWS.
        let result = evaluator
            .evaluate(&parsed.ast, &JValue::Undefined)
            .map_err(|e| causes::threw(expr, field, e.message()))?;
        to_json(&result).map_err(|reason| match reason {
            NotJson::Undefined => causes::returned_undefined(expr, field),
            NotJson::TooDeep => causes::nested_too_deep(expr, field, MAX_RESULT_DEPTH),
        })
    }

    fn check_syntax(&self, expr: &str) -> Result<(), String> {
        let expr = expr.trim();
        if expr.is_empty() {
            return Err("the JSONata expression is empty".to_owned());
        }
        self.parse(expr).map(|_| ())
    }

    fn check_references(&self, expr: &str) -> Result<(), String> {
        match self.parse(expr.trim()) {
            Ok(parsed) => references::unsupported_reference(&parsed.ast).map_or(Ok(()), Err),
            Err(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    fn run(expr: &str, states: Value, variables: Value) -> Result<Value, StatesError> {
        let variables: Map<String, Value> = variables.as_object().cloned().unwrap_or_default();
        let bindings = JsonataBindings {
            states: &states,
            variables: &variables,
            random: None,
        };
        JsonataCore::new().evaluate(expr, &bindings, "Output")
    }

    fn value(expr: &str) -> Value {
        run(expr, json!({"input": {}}), json!({})).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    #[test]
    fn states_and_variables_are_bound() {
        let states = json!({"input": {"a": [1, 2]}, "context": {"Execution": {"Name": "n"}}});
        let got = run(
            "{'a': $states.input.a, 'n': $states.context.Execution.Name, 'x': $v.x}",
            states,
            json!({"v": {"x": true}}),
        )
        .expect("evaluates");
        assert_eq!(got, json!({"a": [1, 2], "n": "n", "x": true}));
    }

    #[test]
    fn numbers_are_normalised_in_results() {
        assert_eq!(value("6.0"), json!(6));
        assert_eq!(value("3 * 2"), json!(6));
        assert_eq!(value("$number('2')"), json!(2));
        assert_eq!(value("7 / 2"), json!(3.5));
        assert_eq!(value("$round(2.5)"), json!(2));
        assert_eq!(
            serde_json::to_string(&value("[1.0, 2.50]")).expect("serialises"),
            "[1,2.5]"
        );
    }

    #[test]
    fn input_numbers_read_as_plain_numbers() {
        // A double input holding a whole number is the same number to the expression.
        let got = run(
            "$string($states.input.n) & '|' & $string($states.input.n * 1.5)",
            json!({"input": {"n": 2.0}}),
            json!({}),
        )
        .expect("evaluates");
        assert_eq!(got, json!("2|3"));
    }

    #[test]
    fn aws_functions_are_available() {
        assert_eq!(value("$partition([1, 2, 3], 2)"), json!([[1, 2], [3]]));
        assert_eq!(value("$range(0, 10, 3)"), json!([0, 3, 6, 9]));
        // Recorded: $range(1, 9, 9) answers the bare number.
        assert_eq!(value("$range(1, 9, 9)"), json!(1));
        assert_eq!(
            value("$hash('hello', 'MD5')"),
            json!("5d41402abc4b2a76b9719d911017c592")
        );
        assert_eq!(
            value("$parse('{\"Arg1\": 1, \"Arg2\": []}')"),
            json!({"Arg1": 1, "Arg2": []})
        );
        // Recorded: $parse("-0") is 0.
        assert_eq!(value("$parse('-0')"), json!(0));
        assert!(value("$uuid()").is_string());
        let r = value("$random()").as_f64().expect("number");
        assert!((0.0..1.0).contains(&r));
        assert_eq!(value("$random(7)"), value("$random(7)"));
    }

    #[test]
    fn unknown_function_is_t1006() {
        // Recorded: intrinsic_functions_..._test_math_random_seeded.
        let err = run(
            "$randomSeeded($states.input.FunctionInput.fst)",
            json!({"input": {"FunctionInput": "fst"}}),
            json!({}),
        )
        .expect_err("not a function");
        assert_eq!(
            err.cause,
            "The JSONata expression '$randomSeeded($states.input.FunctionInput.fst)' specified for the field 'Output' \
             threw an error during evaluation. T1006: Attempted to invoke a non-function"
        );
    }

    #[test]
    fn eval_is_not_available() {
        let err =
            run("$eval('1 + 1')", json!({"input": {}}), json!({})).expect_err("eval is disabled");
        assert!(
            err.cause.ends_with(
                "threw an error during evaluation. T1006: Attempted to invoke a non-function"
            ),
            "{}",
            err.cause
        );
    }

    #[test]
    fn no_context_item() {
        // AWS evaluates with no context item: a bare path finds nothing.
        let err =
            run("states.input", json!({"input": {"a": 1}}), json!({})).expect_err("undefined");
        assert!(
            err.cause.ends_with("returned nothing (undefined)."),
            "{}",
            err.cause
        );
    }

    #[test]
    fn non_finite_results_are_named_as_aws_writes_them() {
        assert_eq!(value("1/0"), json!("Infinity"));
        assert_eq!(value("-1/0"), json!("-Infinity"));
        assert_eq!(value("0/0"), json!("NaN"));
        assert_eq!(value("{'k': 1/0}"), json!({"k": "Infinity"}));
        assert_eq!(value("$parseInteger('abc', '0')"), json!("NaN"));
    }

    #[test]
    fn regular_expressions_follow_recorded_cases() {
        // Recorded: evaluate_jsonata_..._regular_expressions (BASE and BASE_FALSE).
        assert_eq!(value(r"$contains('hello$world', /^hello\$/)"), json!(true));
        assert_eq!(value(r"$contains('hello$world', /^hello\ /)"), json!(false));
    }

    #[test]
    fn syntax_check_parses_without_evaluating() {
        let engine = JsonataCore::new();
        assert!(engine.check_syntax("$states.input.a + 1").is_ok());
        assert!(engine.check_syntax("$undefinedFunction()").is_ok());
        assert!(engine.check_syntax("a[1,2)").is_err());
        assert!(engine.check_syntax("  ").is_err());
        assert!(engine.check_syntax("(").is_err());
    }

    #[test]
    fn reference_check_reports_aws_wording_and_leaves_syntax_to_check_syntax() {
        let engine = JsonataCore::new();
        assert_eq!(
            engine.check_references(" phone "),
            Err("Reference to 'phone' at the top level is not supported.".to_owned())
        );
        assert_eq!(engine.check_references("$states.input.phone"), Ok(()));
        assert_eq!(engine.check_references("a[1,2)"), Ok(()));
    }

    #[test]
    fn malformed_or_hostile_expressions_fail_without_panicking() {
        for expr in [
            "(",
            "$states.input.",
            "1 %",
            "%",
            "[1..10000000]",
            "$range(1, 1e9, 1)",
            "$hash('x', 'NOPE')",
            // Non-tail recursion hits the library's depth limit.
            "($f := function($n){$n = 0 ? 0 : 1 + $f($n-1)}; $f(100000))",
            // A result nested 5,000 deep is refused rather than serialised.
            "$reduce([1..5000], function($a, $b){{'a': $a}}, 0)",
        ] {
            let got = run(expr, json!({"input": {}}), json!({}));
            assert!(got.is_err(), "{expr} should fail, got {got:?}");
        }
    }
}
