//! Payload templates (Parameters, ResultSelector, ItemSelector, JSONPath-mode Assign): where
//! JSONPath and the intrinsic functions meet, so it sits above both and neither knows the other.

use serde_json::{Map, Value};

use crate::context::PathContext;
use crate::error::StatesError;
use crate::intrinsics;
use crate::jsonpath::{compact, query};

/// Resolves a payload template (Parameters, ResultSelector, ItemSelector, JSONPath-mode Assign):
/// keys ending in `.$` take the value of a path, a `$$` context path, a `$var` variable path,
/// or an intrinsic function call; other values are copied; objects and arrays recurse.
pub(crate) fn resolve_payload_template(
    template: &Value,
    ctx: &PathContext<'_>,
    field: &str,
) -> Result<Value, StatesError> {
    match template {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, value) in map {
                match key.strip_suffix(".$") {
                    Some(name) => {
                        let resolved = resolve_dynamic_value(key, value, ctx, field)?;
                        out.insert(name.to_owned(), resolved);
                    }
                    None => {
                        out.insert(key.clone(), resolve_payload_template(value, ctx, field)?);
                    }
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .map(|item| resolve_payload_template(item, ctx, field))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// The value of one `"key.$"` entry: an intrinsic call or a path.
fn resolve_dynamic_value(
    key: &str,
    value: &Value,
    ctx: &PathContext<'_>,
    field: &str,
) -> Result<Value, StatesError> {
    let Value::String(expr) = value else {
        // The validator rejects this at load time; at run time it must still not pass silently.
        return Err(StatesError::runtime(format!(
            "The value of the field '{key}' in '{field}' must be a JSONPath or an intrinsic function, but was: {}",
            compact(value)
        )));
    };
    if intrinsics::is_intrinsic(expr) {
        intrinsics::evaluate_in_field(expr, ctx, key)
    } else {
        query(expr, ctx, key)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::jsonpath::tests::Fixture;

    #[test]
    fn payload_template_resolves_paths_context_variables_and_intrinsics() {
        let f = Fixture::new(json!({"who": "world", "n": [1, 2]}));
        let template = json!({
            "static": "kept $.who",
            "greeting.$": "States.Format('hello {}', $.who)",
            "first.$": "$.n[0]",
            "id.$": "$$.Execution.Id",
            "var.$": "$name",
            "nested": {"inner.$": "$.who", "list": [{"deep.$": "$x.deep"}, 3]},
        });
        let out = resolve_payload_template(&template, &f.ctx(), "Parameters").expect("resolves");
        assert_eq!(
            out,
            json!({
                "static": "kept $.who",
                "greeting": "hello world",
                "first": 1,
                "id": "exec-1",
                "var": "pikachu",
                "nested": {"inner": "world", "list": [{"deep": [1, 2, 3]}, 3]},
            })
        );
    }

    #[test]
    fn payload_template_errors_name_the_key() {
        let f = Fixture::new(json!({"int-literal": 0}));
        let err = resolve_payload_template(
            &json!({"value.$": "$.no_such_jsonpath"}),
            &f.ctx(),
            "Parameters",
        )
        .expect_err("missing");
        assert_eq!(
            err.cause,
            "The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be found in the input '{\"int-literal\":0}'"
        );
        assert!(resolve_payload_template(&json!({"v.$": 3}), &f.ctx(), "Parameters").is_err());
    }
}
