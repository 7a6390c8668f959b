//! Input and output processing, in both query languages.
//!
//! JSONPath: InputPath -> Parameters -> (work) -> ResultSelector -> ResultPath -> OutputPath.
//! JSONata: Arguments -> (work) -> Output, with `$states.input/.result/.errorOutput/.context`.
//! In both, Assign sees the variables from before the state, and all its values are evaluated
//! before any is stored.

use serde_json::{Map, Value, json};

use super::Failure;
use crate::context::PathContext;
use crate::jsonata::{self, JsonataBindings, JsonataEngine};
use crate::jsonpath;
use crate::model::{Common, QueryLanguage};
use crate::random::RandomSource;

/// What the expressions of one state can see.
#[derive(Clone, Copy)]
pub(crate) struct Eval<'a> {
    pub context: &'a Value,
    pub variables: &'a Map<String, Value>,
    pub engine: &'a dyn JsonataEngine,
    pub language: QueryLanguage,
    /// The execution's seeded random source (`States.UUID()`, `$random()`, ...).
    pub random: &'a RandomSource,
}

impl<'a> Eval<'a> {
    fn path_ctx<'b>(&'b self, input: &'b Value) -> PathContext<'b> {
        PathContext {
            input,
            context: self.context,
            variables: self.variables,
            random: Some(self.random),
        }
    }

    /// `$states` for a JSONata expression.
    pub fn states(
        &self,
        input: &Value,
        result: Option<&Value>,
        error_output: Option<&Value>,
    ) -> Value {
        let mut states = Map::new();
        states.insert("input".into(), input.clone());
        states.insert("context".into(), self.context.clone());
        if let Some(result) = result {
            states.insert("result".into(), result.clone());
        }
        if let Some(error_output) = error_output {
            states.insert("errorOutput".into(), error_output.clone());
        }
        Value::Object(states)
    }

    /// Resolves a JSONata-mode field (`{% %}` strings evaluated, the rest copied).
    pub fn jsonata(&self, template: &Value, states: &Value, field: &str) -> Result<Value, Failure> {
        let bindings = JsonataBindings {
            states,
            variables: self.variables,
            random: Some(self.random),
        };
        jsonata::evaluate_template(self.engine, template, &bindings, field).map_err(Failure::from)
    }

    /// A JSONata-mode field that must resolve to one JSON type (`Condition`: boolean), failing
    /// with AWS's "returned an unexpected result type" cause otherwise.
    pub fn jsonata_typed(
        &self,
        template: &Value,
        states: &Value,
        field: &str,
        expected: jsonata::ExpectedType,
    ) -> Result<Value, Failure> {
        let bindings = JsonataBindings {
            states,
            variables: self.variables,
            random: Some(self.random),
        };
        jsonata::evaluate_typed(self.engine, template, &bindings, field, expected)
            .map_err(Failure::from)
    }

    /// A JSONPath reference path (InputPath, ItemsPath, SecondsPath, ...).
    pub fn query(&self, path: &str, input: &Value, field: &str) -> Result<Value, Failure> {
        jsonpath::query(path, &self.path_ctx(input), field).map_err(Failure::from)
    }

    /// A JSONPath payload template (Parameters, ResultSelector, ItemSelector, Assign).
    pub fn template(&self, template: &Value, input: &Value, field: &str) -> Result<Value, Failure> {
        super::payload_template::resolve_payload_template(template, &self.path_ctx(input), field)
            .map_err(Failure::from)
    }

    /// InputPath: absent keeps the input, `null` gives `{}`.
    pub fn input_path(&self, common: &Common, input: &Value) -> Result<Value, Failure> {
        self.optional_path(common.input_path.as_ref(), input, "InputPath")
    }

    /// OutputPath: absent keeps the value, `null` gives `{}`.
    pub fn output_path(&self, common: &Common, value: Value) -> Result<Value, Failure> {
        match &common.output_path {
            None => Ok(value),
            other => self.optional_path(other.as_ref(), &value, "OutputPath"),
        }
    }

    fn optional_path(
        &self,
        path: Option<&Value>,
        input: &Value,
        field: &str,
    ) -> Result<Value, Failure> {
        match path {
            None => Ok(input.clone()),
            Some(Value::Null) => Ok(json!({})),
            Some(Value::String(path)) => self.query(path, input, field),
            Some(other) => Err(Failure::new(
                crate::error::names::RUNTIME,
                format!("The {field} field must be a string or null, but was: {other}"),
            )),
        }
    }

    /// ResultPath: places `result` into the state's raw input.
    pub fn result_path(
        &self,
        result_path: Option<&Value>,
        input: &Value,
        result: Value,
    ) -> Result<Value, Failure> {
        jsonpath::apply_result_path(input, result, result_path).map_err(Failure::from)
    }

    /// JSONPath: ResultSelector -> ResultPath -> OutputPath on a state's result.
    pub fn jsonpath_output(
        &self,
        common: &Common,
        raw_input: &Value,
        result: Value,
    ) -> Result<Value, Failure> {
        let selected = match &common.result_selector {
            Some(selector) => self.template(selector, &result, "ResultSelector")?,
            None => result,
        };
        let placed = self.result_path(common.result_path.as_ref(), raw_input, selected)?;
        self.output_path(common, placed)
    }

    /// Evaluates Assign: `data` is what `$` means in JSONPath mode; `states` is `$states` in
    /// JSONata mode. Returns the new bindings (not yet stored).
    pub fn assign(
        &self,
        assign: Option<&Value>,
        data: &Value,
        states: &Value,
    ) -> Result<Option<Map<String, Value>>, Failure> {
        let Some(assign) = assign else {
            return Ok(None);
        };
        let resolved = match self.language {
            QueryLanguage::JsonPath => self.template(assign, data, "Assign")?,
            QueryLanguage::Jsonata => self.jsonata(assign, states, "Assign")?,
        };
        match resolved {
            Value::Object(map) => Ok(Some(map)),
            other => Err(Failure::new(
                crate::error::names::RUNTIME,
                format!("The Assign field must be an object, but was: {other}"),
            )),
        }
    }
}

/// How AWS quotes a value in "refers to value ..." causes: strings bare, the rest as JSON.
pub(crate) fn raw_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => crate::history::json_text(other),
    }
}
