//! Test helper: validate a value against one of the contract's JSON Schemas.
//!
//! Loads every `statemachine/schemas/*.json` once, registers each under its `$id` (so
//! `"$ref": "common.schema.json#/$defs/PurgeTarget"` resolves between files without any network
//! access), and validates against a schema named by its file name.
//!
//! ```ignore
//! crate::schema_check::assert_valid("validate-records.output.schema.json", &output_json);
//! ```

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jsonschema::{Registry, Resource};
use serde_json::Value;

/// Base of every schema's `$id`; the file name follows it.
pub(crate) const SCHEMA_BASE_URI: &str = "https://purgeflow.dev/schemas/";

/// The directory holding the contract's schemas.
pub(crate) fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../statemachine/schemas")
}

/// Every schema file, by file name, parsed once per test binary.
fn schemas() -> &'static Vec<(String, Value)> {
    static SCHEMAS: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let dir = schema_dir();
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read schema directory {}: {e}", dir.display()));
        let mut schemas = Vec::new();
        for entry in entries {
            let path = entry.expect("schema directory entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("schema file names are UTF-8")
                .to_owned();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let value: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()));
            schemas.push((name, value));
        }
        schemas.sort_by(|a, b| a.0.cmp(&b.0));
        schemas
    })
}

/// The names of all schema files (e.g. `common.schema.json`).
pub(crate) fn schema_names() -> Vec<&'static str> {
    schemas().iter().map(|(name, _)| name.as_str()).collect()
}

/// Validates `instance` against the schema in `schema_file`. `Err` lists every violation, one
/// per line, with the instance path and the schema path, so a failing test says what is wrong.
pub(crate) fn validate(schema_file: &str, instance: &Value) -> Result<(), String> {
    let all = schemas();
    if !all.iter().any(|(name, _)| name == schema_file) {
        return Err(format!(
            "no schema named {schema_file} in {}; have: {}",
            schema_dir().display(),
            schema_names().join(", ")
        ));
    }
    // Register each schema under the URI its `$id` declares (task schemas use
    // `https://purgeflow.dev/schemas/<file>`, so relative `$ref`s between files resolve offline).
    // A schema without `$id` is registered under that same base plus its file name.
    let mut resources = Vec::new();
    let mut root_uri = None;
    for (name, schema) in all {
        let uri = schema
            .get("$id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("{SCHEMA_BASE_URI}{name}"), str::to_owned);
        if name == schema_file {
            root_uri = Some(uri.clone());
        }
        resources.push((uri, Resource::from_contents(schema.clone())));
    }
    let root_uri = root_uri.ok_or_else(|| format!("no schema named {schema_file}"))?;
    let registry = Registry::new()
        .extend(resources)
        .and_then(|builder| builder.prepare())
        .map_err(|e| format!("cannot register the schemas: {e}"))?;
    let root = serde_json::json!({ "$ref": root_uri });
    let validator = jsonschema::options()
        .with_registry(&registry)
        .build(&root)
        .map_err(|e| format!("{schema_file} does not compile: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("  at {} ({}): {e}", e.instance_path(), e.schema_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "value does not match {schema_file}:\n{}",
            errors.join("\n")
        ))
    }
}

/// Panics with every violation when `instance` does not match `schema_file`.
#[track_caller]
pub(crate) fn assert_valid(schema_file: &str, instance: &Value) {
    if let Err(report) = validate(schema_file, instance) {
        panic!("{report}\nvalue: {instance:#}");
    }
}

/// Panics when `instance` unexpectedly matches `schema_file` (for negative schema tests).
#[track_caller]
pub(crate) fn assert_invalid(schema_file: &str, instance: &Value) {
    if validate(schema_file, instance).is_ok() {
        panic!("value unexpectedly matches {schema_file}: {instance:#}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_schema_compiles_and_resolves_its_refs() {
        let names = schema_names();
        assert!(
            names.contains(&"common.schema.json"),
            "schemas found: {names:?}"
        );
        for name in names {
            // An empty object matches or not depending on the schema; what matters is that it
            // compiles and resolves its `$ref`s, which `validate` reports as a distinct error.
            if let Err(report) = validate(name, &json!({})) {
                assert!(
                    report.starts_with("value does not match"),
                    "{name}: {report}"
                );
            }
        }
    }

    #[test]
    fn cross_file_refs_resolve_and_reject_bad_values() {
        let good = json!({
            "batchId": "b-1",
            "records": [{
                "eventId": "e1", "sequenceNumber": "1", "deleteKind": "user",
                "keys": {"photo_id": {"S": "p1"}}, "oldImage": null
            }]
        });
        assert_valid("execution-input.schema.json", &good);
        let bad = json!({"batchId": "b-1", "records": [{"eventId": "e1", "deleteKind": "robot"}]});
        let report = validate("execution-input.schema.json", &bad).expect_err("must be rejected");
        assert!(report.contains("/records/0"), "{report}");
        assert_invalid("execution-input.schema.json", &bad);
    }

    #[test]
    fn unknown_schema_is_named_in_the_error() {
        let report = validate("nope.schema.json", &json!({})).expect_err("no such schema");
        assert!(report.contains("nope.schema.json"), "{report}");
    }
}
