//! `DefinitionSubstitutions`: `${Name}` placeholders replaced before the definition is
//! validated, as CloudFormation and SAM do for `AWS::StepFunctions::StateMachine`.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::{Diagnostic, Location, codes};

/// `${Name}`: names are what CloudFormation allows as substitution keys (letters, digits,
/// `_`, `-`, `.`). Anything else (e.g. `${ not a name }`) is left as written.
static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$\{([A-Za-z0-9_.\-]+)\}").expect("the placeholder pattern is a valid regex")
});

/// Replaces placeholders in every string, object keys included. Recursion depth is bounded by
/// the caller's nesting check.
pub(super) fn substitute(
    definition: &Value,
    substitutions: &Map<String, Value>,
) -> Result<Value, Vec<Diagnostic>> {
    let mut missing = Vec::new();
    let result = substitute_value(definition, substitutions, &Location::root(), &mut missing);
    if missing.is_empty() {
        Ok(result)
    } else {
        Err(missing)
    }
}

fn substitute_value(
    value: &Value,
    substitutions: &Map<String, Value>,
    location: &Location,
    missing: &mut Vec<Diagnostic>,
) -> Value {
    match value {
        Value::String(s) => substitute_string(s, substitutions, location, missing),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| substitute_value(item, substitutions, &location.index(i), missing))
                .collect(),
        ),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(name, member)| {
                    let member_location = location.key(name);
                    let new_name =
                        match substitute_string(name, substitutions, &member_location, missing) {
                            Value::String(s) => s,
                            // A key must stay a string: a whole-key placeholder with a non-string
                            // value is written as its JSON text.
                            other => other.to_string(),
                        };
                    (
                        new_name,
                        substitute_value(member, substitutions, &member_location, missing),
                    )
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A string that is exactly one placeholder takes the substituted value as is (so a number
/// stays a number); placeholders inside a longer string are replaced by the value's text.
fn substitute_string(
    s: &str,
    substitutions: &Map<String, Value>,
    location: &Location,
    missing: &mut Vec<Diagnostic>,
) -> Value {
    if !s.contains("${") {
        return Value::String(s.to_owned());
    }
    for captures in PLACEHOLDER.captures_iter(s) {
        let name = captures.get(1).map_or("", |m| m.as_str());
        if !substitutions.contains_key(name) {
            missing.push(Diagnostic::new(
                location,
                codes::SUBSTITUTION_NOT_FOUND,
                format!("'${{{name}}}' has no value in the definition substitutions"),
            ));
        }
    }
    if let Some(whole) = PLACEHOLDER
        .captures(s)
        .filter(|c| c.get(0).is_some_and(|m| m.as_str() == s))
        && let Some(value) = whole
            .get(1)
            .and_then(|name| substitutions.get(name.as_str()))
    {
        return value.clone();
    }
    let replaced = PLACEHOLDER.replace_all(s, |captures: &regex::Captures<'_>| {
        let name = captures.get(1).map_or("", |m| m.as_str());
        match substitutions.get(name) {
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
            // Reported above; keep the placeholder so the result still shows where it was.
            None => captures
                .get(0)
                .map_or_else(String::new, |m| m.as_str().to_owned()),
        }
    });
    Value::String(replaced.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn subs(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn replaces_inside_strings_and_whole_values() {
        let def = json!({
            "StartAt": "${First}",
            "States": {
                "${First}": {"Type": "Task", "Resource": "arn:aws:lambda:${Region}:1:function:${Fn}",
                             "TimeoutSeconds": "${Timeout}", "Comment": "runs ${Timeout}s", "End": true}
            }
        });
        let out = substitute(
            &def,
            &subs(json!({"First": "Go", "Region": "eu-west-1", "Fn": "purge", "Timeout": 30})),
        )
        .expect("all names are known");
        assert_eq!(
            out,
            json!({
                "StartAt": "Go",
                "States": {
                    "Go": {"Type": "Task", "Resource": "arn:aws:lambda:eu-west-1:1:function:purge",
                           "TimeoutSeconds": 30, "Comment": "runs 30s", "End": true}
                }
            })
        );
    }

    #[test]
    fn unknown_names_are_reported_with_their_path() {
        let def = json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${Missing}", "End": true}}});
        let errors = substitute(&def, &Map::new()).expect_err("Missing is unknown");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code, codes::SUBSTITUTION_NOT_FOUND);
        assert_eq!(errors[0].path, "$.States.A.Resource");
        assert!(
            errors[0].message.contains("${Missing}"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn text_that_is_not_a_placeholder_is_left_alone() {
        let def =
            json!({"a": "${ not a name }", "b": "{% $x %}", "c": "$.path", "d": "${unclosed"});
        assert_eq!(substitute(&def, &Map::new()), Ok(def.clone()));
    }

    #[test]
    fn non_string_values_inside_text_are_written_as_json() {
        let def = json!({"a": "n=${N}, flag=${F}, obj=${O}"});
        let out =
            substitute(&def, &subs(json!({"N": 3, "F": true, "O": {"k": 1}}))).expect("known");
        assert_eq!(out, json!({"a": "n=3, flag=true, obj={\"k\":1}"}));
    }
}
