//! The contract's JSON Schemas (`statemachine/schemas/*.schema.json`), loaded once and checked
//! offline.
//!
//! This repeats the small core of `tasks/src/schema_check.rs` (register every schema under its
//! `$id` so cross-file `$ref`s resolve without a network), which is `cfg(test)`-only inside the
//! tasks crate and so cannot be shared with this crate.

use std::sync::OnceLock;

use jsonschema::{Registry, Resource, Validator};
use serde_json::{Value, json};

use crate::repo;

/// Where the schemas live, relative to the repository root.
pub const SCHEMA_DIR: &str = "statemachine/schemas";

/// Every schema file's name and `$id`-registered content, parsed once per test binary.
fn schemas() -> &'static Vec<(String, String, Value)> {
    static SCHEMAS: OnceLock<Vec<(String, String, Value)>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        repo::json_files(SCHEMA_DIR)
            .into_iter()
            .map(|relative| {
                let name = relative.rsplit('/').next().unwrap_or(&relative).to_owned();
                let schema = repo::read_json(&relative);
                // Task schemas declare `https://purgeflow.dev/schemas/<file>`; one without `$id`
                // gets the same shape of URI, so relative `$ref`s between files still resolve.
                let uri = schema.get("$id").and_then(Value::as_str).map_or_else(
                    || format!("https://purgeflow.dev/schemas/{name}"),
                    str::to_owned,
                );
                (name, uri, schema)
            })
            .collect()
    })
}

/// A validator for the schema file `name` (e.g. `execution-input.schema.json`).
pub fn validator(name: &str) -> Result<Validator, String> {
    let all = schemas();
    let root_uri = all
        .iter()
        .find(|(file, _, _)| file == name)
        .map(|(_, uri, _)| uri.clone())
        .ok_or_else(|| format!("no schema named {name} in {SCHEMA_DIR}"))?;
    let registry = Registry::new()
        .extend(
            all.iter()
                .map(|(_, uri, schema)| (uri.clone(), Resource::from_contents(schema.clone()))),
        )
        .and_then(|builder| builder.prepare())
        .map_err(|e| format!("cannot register the schemas: {e}"))?;
    jsonschema::options()
        .with_registry(&registry)
        .build(&json!({ "$ref": root_uri }))
        .map_err(|e| format!("{name} does not compile: {e}"))
}

/// Every violation of `instance` against schema `name`, one per line; `Ok` when it matches.
pub fn check(name: &str, instance: &Value) -> Result<(), String> {
    let validator = validator(name)?;
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("  at {} ({}): {e}", e.instance_path(), e.schema_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "value does not match {name}:\n{}",
            errors.join("\n")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_file_refs_resolve_and_bad_values_are_named() {
        check(
            "invalidate-cache.input.schema.json",
            &json!({"distributionId": "E1", "callerReference": "r", "paths": ["/a"]}),
        )
        .expect("a valid batch");
        let report = check(
            "invalidate-cache.input.schema.json",
            &json!({"distributionId": "E1", "paths": []}),
        )
        .expect_err("no callerReference, no paths");
        assert!(report.contains("callerReference"), "{report}");
        assert!(
            check("nope.schema.json", &json!({}))
                .expect_err("unknown")
                .contains("nope.schema.json")
        );
    }
}
