//! Load-time validation: the ASL JSON Schema (`statemachine/schemas/asl.schema.json`) plus the
//! semantic checks a schema can't express. Diagnostics carry a JSON path, an AWS-style code and
//! a plain message.
//!
//! Order of work, and why:
//! 1. a nesting-depth bound, checked without recursion, so that nothing after it (the schema
//!    validator, our own walkers, the intrinsic and JSONata parsers) can overflow the stack on a
//!    hostile document;
//! 2. the JSON Schema, for shapes and types;
//! 3. the semantic pass (`machine`), which reads the document defensively (a wrong type is
//!    skipped there, since step 2 already reported it) so that both kinds of problems show up
//!    in one run, as in AWS's ValidateStateMachineDefinition.
//!
//! The codes are listed in [`codes`], each marked as AWS's own or ours.

use serde::Serialize;
use serde_json::{Map, Value};

pub mod codes;
mod depth;
mod location;
mod machine;
mod paths;
mod schema;
mod substitution;

pub(crate) use location::Location;

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

impl Diagnostic {
    pub(crate) fn new(path: &Location, code: &str, message: impl Into<String>) -> Self {
        Self {
            path: path.to_string(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {}: {}", self.code, self.path, self.message)
    }
}

/// The deepest JSON nesting a definition may have. Real definitions stay far below it (each
/// nested Parallel or Map costs about four levels); it exists so that every recursive walk over
/// the document, ours and the libraries', is bounded. It equals serde_json's default parse
/// limit, so any document serde_json parses with default settings passes this check.
pub const MAX_NESTING_DEPTH: usize = 128;

/// Validates a whole definition. Empty means valid.
pub fn validate_definition(definition: &Value) -> Vec<Diagnostic> {
    if let Some(path) = depth::first_path_deeper_than(definition, MAX_NESTING_DEPTH) {
        return vec![Diagnostic::new(
            &path,
            codes::TOO_DEEPLY_NESTED,
            format!("the definition nests deeper than {MAX_NESTING_DEPTH} levels"),
        )];
    }
    let mut diagnostics = schema::check(definition);
    diagnostics.extend(machine::check(definition));
    diagnostics
}

/// Replaces `${Name}` in every string of the definition with `substitutions[Name]`, as
/// `DefinitionSubstitutions` does. An unknown name is a diagnostic.
pub fn substitute(
    definition: &Value,
    substitutions: &Map<String, Value>,
) -> Result<Value, Vec<Diagnostic>> {
    if let Some(path) = depth::first_path_deeper_than(definition, MAX_NESTING_DEPTH) {
        return Err(vec![Diagnostic::new(
            &path,
            codes::TOO_DEEPLY_NESTED,
            format!("the definition nests deeper than {MAX_NESTING_DEPTH} levels"),
        )]);
    }
    substitution::substitute(definition, substitutions)
}

#[cfg(test)]
mod tests;
