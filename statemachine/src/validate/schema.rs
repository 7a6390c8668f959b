//! The JSON Schema half of validation: `schemas/asl.schema.json`, embedded at build time and
//! compiled once.

use std::sync::LazyLock;

use jsonschema::Validator;
use jsonschema::paths::LocationSegment;
use serde_json::Value;

use super::{Diagnostic, Location, codes};

/// The schema text, as checked in.
pub(crate) const ASL_SCHEMA: &str = include_str!("../../schemas/asl.schema.json");

/// A broken document can fail one keyword per field; past this many, more lines only bury the
/// first (usually root) causes.
const MAX_SCHEMA_DIAGNOSTICS: usize = 50;

/// Plain messages for the schema rules whose generic wording ("not valid under any of the
/// schemas listed in the 'oneOf' keyword") does not say what to do. Keyed by schema location.
const RULE_MESSAGES: &[(&str, &str)] = &[
    (
        "/$defs/exactlyOneTransition/oneOf",
        "a state needs exactly one of \"Next\" or \"End\": true",
    ),
    (
        "/$defs/mapState/oneOf",
        "a Map state needs exactly one of ItemProcessor or Iterator",
    ),
];

static VALIDATOR: LazyLock<Validator> = LazyLock::new(|| {
    let schema: Value =
        serde_json::from_str(ASL_SCHEMA).expect("the embedded ASL schema is valid JSON (tested)");
    jsonschema::validator_for(&schema).expect("the embedded ASL schema compiles (tested)")
});

/// Schema errors as diagnostics, with the instance location as a JSON path.
pub(super) fn check(definition: &Value) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let mut skipped = 0usize;
    for error in VALIDATOR.iter_errors(definition) {
        if diagnostics.len() >= MAX_SCHEMA_DIAGNOSTICS {
            skipped += 1;
            continue;
        }
        let mut location = Location::root();
        for segment in error.instance_path().segments() {
            location = match segment {
                LocationSegment::Property(name) => location.key(&name),
                LocationSegment::Index(i) => location.index(i),
            };
        }
        let rule = error.schema_path().as_str();
        let message = match RULE_MESSAGES.iter().find(|(path, _)| *path == rule) {
            Some((_, message)) => (*message).to_owned(),
            // Masked: the message names the problem, not the (possibly huge) offending value.
            None => error.masked_with("the value").to_string(),
        };
        diagnostics.push(Diagnostic::new(
            &location,
            codes::SCHEMA_VALIDATION_FAILED,
            message,
        ));
    }
    if skipped > 0 {
        diagnostics.push(Diagnostic::new(
            &Location::root(),
            codes::SCHEMA_VALIDATION_FAILED,
            format!("{skipped} more schema errors not shown"),
        ));
    }
    diagnostics
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_embedded_schema_is_valid_draft_2020_12() {
        let schema: Value = serde_json::from_str(ASL_SCHEMA).expect("schema parses");
        assert!(
            jsonschema::meta::is_valid(&schema),
            "asl.schema.json must be a valid JSON Schema"
        );
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
    }

    #[test]
    fn a_minimal_machine_passes() {
        let def = json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}});
        assert_eq!(check(&def), vec![]);
    }

    #[test]
    fn errors_carry_the_instance_path() {
        let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "ResultPath": 5}}});
        let found = check(&def);
        assert!(
            found
                .iter()
                .any(|d| d.path == "$.States.A.ResultPath"
                    && d.code == codes::SCHEMA_VALIDATION_FAILED),
            "{found:?}"
        );
    }

    #[test]
    fn next_and_end_together_get_one_plain_message() {
        let def =
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Next": "A"}}});
        let found = check(&def);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, "$.States.A");
        assert_eq!(
            found[0].message,
            "a state needs exactly one of \"Next\" or \"End\": true"
        );
    }

    #[test]
    fn output_is_capped() {
        let states: serde_json::Map<String, Value> = (0..200)
            .map(|i| (format!("S{i}"), json!({"Type": "Bogus"})))
            .collect();
        let def = json!({"StartAt": "S0", "States": states});
        let found = check(&def);
        assert_eq!(found.len(), MAX_SCHEMA_DIAGNOSTICS + 1);
        assert!(
            found
                .last()
                .is_some_and(|d| d.message.contains("more schema errors"))
        );
    }
}
