//! Load-time validation: the ASL JSON Schema (`statemachine/schemas/asl.schema.json`) plus the
//! semantic checks a schema can't express. Diagnostics carry a JSON path, an AWS-style code and
//! a plain message.
//!
//! OWNER: validator helper. Signatures are a contract with the evaluator and the CLI.

use serde::Serialize;
use serde_json::{Map, Value};

/// One problem in a definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// JSON path of the offending field, e.g. `$.States.Hello.Next`.
    pub path: String,
    /// AWS ValidateStateMachineDefinition-style code, e.g. `SCHEMA_VALIDATION_FAILED`,
    /// `MISSING_TRANSITION_TARGET`.
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {}: {}", self.code, self.path, self.message)
    }
}

/// Validates a whole definition. Empty means valid.
pub fn validate_definition(definition: &Value) -> Vec<Diagnostic> {
    let _ = definition;
    Vec::new()
}

/// Replaces `${Name}` in every string of the definition with `substitutions[Name]`, as
/// `DefinitionSubstitutions` does. An unknown name is a diagnostic.
pub fn substitute(definition: &Value, substitutions: &Map<String, Value>) -> Result<Value, Vec<Diagnostic>> {
    let _ = substitutions;
    Ok(definition.clone())
}
