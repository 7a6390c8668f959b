//! A typed serde model of an ASL definition.
//!
//! Fields that may hold either a literal, a path or a JSONata template stay `serde_json::Value`:
//! the evaluator resolves them per query language. Fields where "absent" and `null` differ
//! (ResultPath, InputPath, OutputPath, Result) are `Option<Value>` read with `present`, so
//! `null` is `Some(Value::Null)` and only an absent field is `None`.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::validate::Diagnostic;

/// `QueryLanguage` at the top level or on a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum QueryLanguage {
    #[default]
    #[serde(rename = "JSONPath")]
    JsonPath,
    #[serde(rename = "JSONata")]
    Jsonata,
}

/// A state machine, or a Parallel branch, or a Map ItemProcessor.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Definition {
    pub start_at: String,
    pub states: HashMap<String, State>,
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    #[serde(default)]
    pub query_language: Option<QueryLanguage>,
    #[serde(default)]
    pub processor_config: Option<ProcessorConfig>,
}

impl Definition {
    /// Builds the model from a definition the validator accepted. A shape the model can't
    /// represent is reported as a schema diagnostic rather than a panic.
    pub fn from_value(definition: &Value) -> Result<Definition, Diagnostic> {
        // serde recurses once per level (more with flattened fields): refuse absurd depths
        // before it can exhaust the stack.
        if json_depth(definition) > MAX_JSON_DEPTH {
            return Err(Diagnostic {
                path: "$".into(),
                code: "TOO_DEEPLY_NESTED".into(),
                message: format!("the definition nests deeper than {MAX_JSON_DEPTH} JSON levels"),
            });
        }
        let mut model = Definition::deserialize(definition).map_err(|e| Diagnostic {
            path: "$".into(),
            code: "SCHEMA_VALIDATION_FAILED".into(),
            message: e.to_string(),
        })?;
        mark_context_use(&mut model, definition);
        Ok(model)
    }

    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.get(name)
    }
}

/// The deepest JSON [`Definition::from_value`] accepts (the validator's own limit is lower).
pub const MAX_JSON_DEPTH: usize = 200;

/// Nesting depth of a JSON value, measured without recursion.
pub fn json_depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 1usize)];
    while let Some((value, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        match value {
            Value::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    deepest
}

/// A Map's `ItemProcessor.ProcessorConfig`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessorConfig {
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub execution_type: Option<String>,
}

/// Reads a field so that `null` is `Some(Value::Null)` (serde maps `null` to `None` otherwise).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// One state: the fields every state may carry, and its type-specific part.
#[derive(Debug, Clone, Deserialize)]
pub struct State {
    #[serde(flatten)]
    pub common: Common,
    #[serde(flatten)]
    pub kind: StateKind,
    /// The state's definition mentions `$$` or `$states` somewhere, so it may read the context
    /// object. Set by [`Definition::from_value`]; a model deserialized some other way keeps
    /// the safe default (`true`).
    #[serde(skip, default = "always")]
    pub uses_context: bool,
}

fn always() -> bool {
    true
}

/// Whether any key or string inside `value` mentions the context object.
fn mentions_context(value: &Value) -> bool {
    let mentions = |s: &str| s.contains("$$") || s.contains("$states");
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::String(s) if mentions(s) => return true,
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                if map.keys().any(|k| mentions(k)) {
                    return true;
                }
                stack.extend(map.values());
            }
            _ => {}
        }
    }
    false
}

/// Sets [`State::uses_context`] from the raw definition, in branches and processors too.
fn mark_context_use(definition: &mut Definition, raw: &Value) {
    for (name, state) in &mut definition.states {
        let Some(raw_state) = raw.get("States").and_then(|s| s.get(name)) else {
            continue;
        };
        state.uses_context = mentions_context(raw_state);
        match &mut state.kind {
            StateKind::Parallel(parallel) => {
                for (i, branch) in parallel.branches.iter_mut().enumerate() {
                    if let Some(raw_branch) = raw_state.get("Branches").and_then(|b| b.get(i)) {
                        mark_context_use(branch, raw_branch);
                    }
                }
            }
            StateKind::Map(map) => {
                if let Some(raw_processor) = raw_state
                    .get("ItemProcessor")
                    .or_else(|| raw_state.get("Iterator"))
                {
                    mark_context_use(&mut map.item_processor, raw_processor);
                }
            }
            _ => {}
        }
    }
}

impl State {
    /// AWS's name for the type, as used in history event types (`PassStateEntered`, ...).
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            StateKind::Pass(_) => "Pass",
            StateKind::Task(_) => "Task",
            StateKind::Choice(_) => "Choice",
            StateKind::Wait(_) => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail(_) => "Fail",
            StateKind::Parallel(_) => "Parallel",
            StateKind::Map(_) => "Map",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Common {
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub end: bool,
    #[serde(default)]
    pub query_language: Option<QueryLanguage>,
    #[serde(default, deserialize_with = "present")]
    pub input_path: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub output_path: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub result_path: Option<Value>,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub result_selector: Option<Value>,
    #[serde(default)]
    pub arguments: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub output: Option<Value>,
    #[serde(default)]
    pub assign: Option<Value>,
    #[serde(default)]
    pub retry: Vec<Retrier>,
    #[serde(default)]
    pub catch: Vec<Catcher>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "Type")]
pub enum StateKind {
    Pass(PassState),
    Task(TaskState),
    Choice(ChoiceState),
    Wait(WaitState),
    Succeed,
    Fail(FailState),
    Parallel(ParallelState),
    Map(MapState),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PassState {
    #[serde(default, deserialize_with = "present")]
    pub result: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskState {
    pub resource: String,
    /// A number, or a JSONata template.
    #[serde(default)]
    pub timeout_seconds: Option<Value>,
    #[serde(default)]
    pub timeout_seconds_path: Option<String>,
    #[serde(default)]
    pub heartbeat_seconds: Option<Value>,
    #[serde(default)]
    pub heartbeat_seconds_path: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChoiceState {
    pub choices: Vec<ChoiceRule>,
    #[serde(default)]
    pub default: Option<String>,
}

/// One top-level Choice rule. `rule` is the whole object, handed to `choice::evaluate_rule`
/// in JSONPath mode; `condition` is the JSONata-mode test.
#[derive(Debug, Clone)]
pub struct ChoiceRule {
    pub rule: Value,
    pub next: String,
    pub condition: Option<Value>,
    pub assign: Option<Value>,
    pub output: Option<Value>,
}

impl<'de> Deserialize<'de> for ChoiceRule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let rule = Value::deserialize(d)?;
        let next = rule
            .get("Next")
            .and_then(Value::as_str)
            .ok_or_else(|| serde::de::Error::custom("a Choice rule needs a string Next"))?
            .to_owned();
        Ok(ChoiceRule {
            next,
            condition: rule.get("Condition").cloned(),
            assign: rule.get("Assign").cloned(),
            output: rule.get("Output").cloned(),
            rule,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitState {
    #[serde(default)]
    pub seconds: Option<Value>,
    #[serde(default)]
    pub timestamp: Option<Value>,
    #[serde(default)]
    pub seconds_path: Option<String>,
    #[serde(default)]
    pub timestamp_path: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailState {
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
    #[serde(default)]
    pub error_path: Option<String>,
    #[serde(default)]
    pub cause_path: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParallelState {
    pub branches: Vec<Definition>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MapState {
    /// `ItemProcessor`, or the legacy `Iterator`.
    #[serde(alias = "Iterator")]
    pub item_processor: Definition,
    #[serde(default)]
    pub items_path: Option<String>,
    #[serde(default)]
    pub items: Option<Value>,
    #[serde(default)]
    pub item_selector: Option<Value>,
    #[serde(default)]
    pub item_reader: Option<Value>,
    #[serde(default)]
    pub item_batcher: Option<Value>,
    #[serde(default)]
    pub result_writer: Option<Value>,
    #[serde(default)]
    pub max_concurrency: Option<Value>,
    #[serde(default)]
    pub max_concurrency_path: Option<String>,
    #[serde(default)]
    pub tolerated_failure_count: Option<Value>,
    #[serde(default)]
    pub tolerated_failure_count_path: Option<String>,
    #[serde(default)]
    pub tolerated_failure_percentage: Option<Value>,
    #[serde(default)]
    pub tolerated_failure_percentage_path: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
}

impl MapState {
    /// Distributed mode (`ProcessorConfig.Mode: DISTRIBUTED`).
    pub fn is_distributed(&self) -> bool {
        self.item_processor
            .processor_config
            .as_ref()
            .and_then(|c| c.mode.as_deref())
            .is_some_and(|m| m == "DISTRIBUTED")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Retrier {
    pub error_equals: Vec<String>,
    #[serde(default)]
    pub interval_seconds: Option<f64>,
    #[serde(default)]
    pub max_attempts: Option<f64>,
    #[serde(default)]
    pub backoff_rate: Option<f64>,
    #[serde(default)]
    pub max_delay_seconds: Option<f64>,
    #[serde(default)]
    pub jitter_strategy: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: String,
    #[serde(default, deserialize_with = "present")]
    pub result_path: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub output: Option<Value>,
    #[serde(default)]
    pub assign: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn null_and_absent_paths_differ() {
        let d = Definition::from_value(&json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "ResultPath": null, "Next": "B"},
            "B": {"Type": "Pass", "End": true}
        }}))
        .expect("valid");
        assert_eq!(
            d.state("A").expect("A").common.result_path,
            Some(Value::Null)
        );
        assert_eq!(d.state("B").expect("B").common.result_path, None);
        assert_eq!(d.state("B").expect("B").type_name(), "Pass");
    }

    #[test]
    fn legacy_iterator_and_distributed_mode_are_read() {
        let d = Definition::from_value(&json!({"StartAt": "M", "QueryLanguage": "JSONata", "States": {"M": {"Type": "Map",
            "Iterator": {"StartAt": "I", "ProcessorConfig": {"Mode": "DISTRIBUTED"}, "States": {"I": {"Type": "Succeed"}}}, "End": true}}}))
        .expect("valid");
        assert_eq!(d.query_language, Some(QueryLanguage::Jsonata));
        let StateKind::Map(map) = &d.state("M").expect("M").kind else {
            panic!("not a Map")
        };
        assert!(map.is_distributed());
        assert_eq!(map.item_processor.start_at, "I");
    }

    #[test]
    fn shapes_the_model_cannot_hold_are_diagnostics() {
        for bad in [
            json!([]),
            json!({"StartAt": 1, "States": {}}),
            json!({"StartAt": "A", "States": {"A": {"Type": "Nope"}}}),
        ] {
            let d = Definition::from_value(&bad).expect_err("rejected");
            assert_eq!(d.code, "SCHEMA_VALIDATION_FAILED");
        }
    }

    #[test]
    fn context_use_is_detected_per_state_and_inside_branches() {
        let d = Definition::from_value(&json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Parameters": {"n.$": "$$.State.Name"}, "Next": "B"},
            "B": {"Type": "Pass", "Next": "M"},
            "M": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {
                "I": {"Type": "Pass", "Output": "{% $states.context.Execution.Name %}", "End": true},
                "J": {"Type": "Pass", "End": true}}}, "End": true}
        }}))
        .expect("valid");
        assert!(d.state("A").expect("A").uses_context);
        assert!(!d.state("B").expect("B").uses_context);
        assert!(
            d.state("M").expect("M").uses_context,
            "conservative: its processor reads it"
        );
        let StateKind::Map(map) = &d.state("M").expect("M").kind else {
            panic!("not a Map")
        };
        assert!(map.item_processor.state("I").expect("I").uses_context);
        assert!(!map.item_processor.state("J").expect("J").uses_context);
    }

    #[test]
    fn json_depth_counts_levels_without_recursing() {
        assert_eq!(json_depth(&json!(1)), 1);
        assert_eq!(json_depth(&json!({"a": [1, {"b": 2}]})), 4);
        let mut deep = json!(0);
        for _ in 0..100_000 {
            deep = Value::Array(vec![deep]);
        }
        assert_eq!(json_depth(&deep), 100_001);
        // Dropping a 100k-deep Value recurses in serde_json; leak it instead of overflowing.
        std::mem::forget(deep);
    }
}
