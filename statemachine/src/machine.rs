//! A parsed, validated state machine, ready to run.

use serde_json::Value;

use crate::execution::{ExecutionOptions, ExecutionResult};
use crate::model::Definition;
use crate::validate::{Diagnostic, validate_definition};

/// A parsed and validated definition.
#[derive(Debug, Clone)]
pub struct StateMachine {
    definition: Value,
    model: Definition,
}

impl StateMachine {
    /// Validates with [`validate_definition`], then builds the typed model.
    pub fn from_value(definition: &Value) -> Result<StateMachine, Vec<Diagnostic>> {
        let diagnostics = validate_definition(definition);
        if !diagnostics.is_empty() {
            return Err(diagnostics);
        }
        let model = Definition::from_value(definition).map_err(|d| vec![d])?;
        Ok(StateMachine {
            definition: definition.clone(),
            model,
        })
    }

    pub fn from_json_str(json: &str) -> Result<StateMachine, Vec<Diagnostic>> {
        let value: Value = serde_json::from_str(json).map_err(|e| {
            vec![Diagnostic {
                path: "$".into(),
                code: "INVALID_JSON_DESCRIPTION".into(),
                message: e.to_string(),
            }]
        })?;
        Self::from_value(&value)
    }

    /// The definition as given (after any substitutions the caller applied).
    pub fn definition(&self) -> &Value {
        &self.definition
    }

    /// The typed model.
    pub fn model(&self) -> &Definition {
        &self.model
    }

    /// Runs one execution on the virtual clock.
    pub async fn execute(&self, input: Value, options: &ExecutionOptions) -> ExecutionResult {
        crate::engine::run(&self.model, input, options).await
    }
}
