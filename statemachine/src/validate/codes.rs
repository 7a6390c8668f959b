//! Diagnostic codes. Where AWS's ValidateStateMachineDefinition has a code for the problem, we
//! use it verbatim ("AWS"); the rest are ours ("ours"), named in the same style. AWS reports
//! several of our cases under SCHEMA_VALIDATION_FAILED with a message; a separate code makes
//! them easier to test and to act on.

/// AWS. The JSON Schema (`schemas/asl.schema.json`) rejected the document.
pub const SCHEMA_VALIDATION_FAILED: &str = "SCHEMA_VALIDATION_FAILED";
/// AWS. A `Next`, `Default` or Catch `Next` names a state that is not in the same machine.
pub const MISSING_TRANSITION_TARGET: &str = "MISSING_TRANSITION_TARGET";
/// AWS. A machine (top level, Parallel branch or Map processor) has no terminal state.
pub const MISSING_END_STATE: &str = "MISSING_END_STATE";
/// AWS. The same state name appears twice in the definition (branches included).
pub const DUPLICATE_STATE_NAME: &str = "DUPLICATE_STATE_NAME";
/// AWS. A state name is empty or longer than 80 characters.
pub const INVALID_STATE_NAME: &str = "INVALID_STATE_NAME";
/// AWS. The document nests deeper than the validator's bound.
pub const TOO_DEEPLY_NESTED: &str = "TOO_DEEPLY_NESTED";
/// AWS. A Task's Resource is not an ARN.
pub const INVALID_RESOURCE: &str = "INVALID_RESOURCE";
/// Ours. `StartAt` names a state that is not in the machine's `States`.
pub const MISSING_START_STATE: &str = "MISSING_START_STATE";
/// Ours (AWS: SCHEMA_VALIDATION_FAILED "State is not reachable"). No path from `StartAt`.
pub const UNREACHABLE_STATE: &str = "UNREACHABLE_STATE";
/// Ours. `States.ALL` is not the last retrier/catcher, or is combined with other error names.
pub const STATES_ALL_NOT_LAST: &str = "STATES_ALL_NOT_LAST";
/// Ours. A JSONPath-only field in a JSONata state, or a JSONata-only field in a JSONPath state.
pub const FIELD_NOT_SUPPORTED_IN_QUERY_LANGUAGE: &str = "FIELD_NOT_SUPPORTED_IN_QUERY_LANGUAGE";
/// Ours. A state asks for JSONPath inside a definition whose top level is JSONata.
pub const INVALID_QUERY_LANGUAGE: &str = "INVALID_QUERY_LANGUAGE";
/// Ours. Two fields that exclude each other are both present (e.g. `Error` and `ErrorPath`).
pub const MUTUALLY_EXCLUSIVE_FIELDS: &str = "MUTUALLY_EXCLUSIVE_FIELDS";
/// Ours. A state lacks a field it needs and the schema can't say so per query language (e.g. a
/// Wait state with none of Seconds/Timestamp/SecondsPath/TimestampPath).
pub const MISSING_REQUIRED_FIELD: &str = "MISSING_REQUIRED_FIELD";
/// Ours. A field's value is out of range given another field (e.g. HeartbeatSeconds not below
/// TimeoutSeconds).
pub const INVALID_FIELD_VALUE: &str = "INVALID_FIELD_VALUE";
/// Ours. A JSONPath (InputPath, `.$` value, `...Path` field, Choice Variable) does not parse.
pub const INVALID_JSONPATH: &str = "INVALID_JSONPATH";
/// Ours. ResultPath (or a Catch ResultPath) is not a reference path: `$` followed only by
/// `.name`, `['name']` or `[index]` steps.
pub const INVALID_REFERENCE_PATH: &str = "INVALID_REFERENCE_PATH";
/// Ours. An intrinsic function call does not parse, names no known function or has the wrong
/// number of arguments (checked by `crate::intrinsics::check_syntax`).
pub const INVALID_INTRINSIC_FUNCTION: &str = "INVALID_INTRINSIC_FUNCTION";
/// Ours. A `{% ... %}` expression is not valid JSONata (checked by the JSONata engine).
pub const INVALID_JSONATA: &str = "INVALID_JSONATA";
/// Ours. A Choice rule is malformed (checked by `crate::choice::check_rule` in JSONPath mode).
pub const INVALID_CHOICE_RULE: &str = "INVALID_CHOICE_RULE";
/// Ours. `${Name}` in the definition has no entry in the substitutions.
pub const SUBSTITUTION_NOT_FOUND: &str = "SUBSTITUTION_NOT_FOUND";
