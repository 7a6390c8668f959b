//! What an expression can see while a state runs.

use serde_json::{Map, Value};

use crate::random::RandomSource;

/// The data a JSONPath expression, payload template, intrinsic function or Choice rule reads:
/// the state's (effective) input, the context object (`$$`), and the variables in scope
/// (`$name` in JSONPath mode).
#[derive(Debug, Clone, Copy)]
pub struct PathContext<'a> {
    pub input: &'a Value,
    pub context: &'a Value,
    pub variables: &'a Map<String, Value>,
    /// Where `States.UUID()` and unseeded `States.MathRandom` draw from: the execution's
    /// seeded source. `None` (outside an execution) draws from the operating system.
    pub random: Option<&'a RandomSource>,
}

impl<'a> PathContext<'a> {
    /// A context without a random source of its own.
    pub fn new(input: &'a Value, context: &'a Value, variables: &'a Map<String, Value>) -> Self {
        Self {
            input,
            context,
            variables,
            random: None,
        }
    }

    /// The same context drawing its random values from `random`.
    pub fn with_random(self, random: &'a RandomSource) -> Self {
        Self {
            random: Some(random),
            ..self
        }
    }
}
