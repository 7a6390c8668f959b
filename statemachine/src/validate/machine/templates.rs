//! Checks of values that hold expressions: JSONPath payload templates (`key.$` fields) and
//! JSONata templates (`{% ... %}` strings).

use serde_json::Value;

use super::super::{Location, codes, paths};
use super::Checker;
use crate::intrinsics;

impl Checker {
    /// A JSONPath-mode payload template (Parameters, ResultSelector, ItemSelector, Assign, ...):
    /// every `key.$` holds a path or an intrinsic function call; other values are literals.
    pub(super) fn payload_template(&mut self, value: &Value, location: &Location) {
        match value {
            Value::Object(members) => {
                for (name, member) in members {
                    let member_location = location.key(name);
                    if name.ends_with(".$") {
                        match member {
                            Value::String(expr) => self.path_or_intrinsic(expr, &member_location),
                            _ => self.report(
                                &member_location,
                                codes::INVALID_JSONPATH,
                                format!("'{name}' ends in '.$', so its value must be a path or intrinsic function string"),
                            ),
                        }
                    } else {
                        self.payload_template(member, &member_location);
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.payload_template(item, &location.index(i));
                }
            }
            _ => {}
        }
    }

    /// A `.$` value, ErrorPath or CausePath: an intrinsic function call or a JSONPath.
    pub(super) fn path_or_intrinsic(&mut self, expr: &str, location: &Location) {
        if intrinsics::is_intrinsic(expr) {
            if let Err(message) = intrinsics::check_syntax(expr) {
                self.report(location, codes::INVALID_INTRINSIC_FUNCTION, message);
            }
        } else {
            self.path(expr, location);
        }
    }

    /// A field that holds a JSONPath (InputPath, ItemsPath, SecondsPath, ...).
    pub(super) fn path(&mut self, expr: &str, location: &Location) {
        if let Err(message) = paths::check_path(expr) {
            self.report(location, codes::INVALID_JSONPATH, message);
        }
    }

    /// ResultPath: a reference path (or null, which the caller skips).
    pub(super) fn reference_path(&mut self, expr: &str, location: &Location) {
        if let Err(message) = paths::check_reference_path(expr) {
            self.report(location, codes::INVALID_REFERENCE_PATH, message);
        }
    }

    /// A JSONata-mode template (Arguments, Output, Assign, Items, ...): every `{% %}` string is
    /// a JSONata expression. Keys ending in `.$` are plain keys here: AWS copies
    /// `"constant_jp_input.$": "$"` through literally (conformance case BASE_LITERALS).
    pub(super) fn jsonata_template(&mut self, value: &Value, location: &Location) {
        match value {
            Value::String(text) => self.jsonata_expression(text, location),
            Value::Object(members) => {
                for (name, member) in members {
                    self.jsonata_template(member, &location.key(name));
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.jsonata_template(item, &location.index(i));
                }
            }
            _ => {}
        }
    }

    /// One string in a JSONata field: when it is `{% ... %}`, its body must parse.
    pub(super) fn jsonata_expression(&mut self, text: &str, location: &Location) {
        if !is_jsonata_expression(text) {
            return;
        }
        let Some(body) = text.strip_prefix("{%").and_then(|b| b.strip_suffix("%}")) else {
            // `{%}`: starts with `{%` and ends with `%}` only by sharing the `%`.
            self.report(
                location,
                codes::INVALID_JSONATA,
                "the JSONata expression is not closed by a separate %}",
            );
            return;
        };
        if body.trim().is_empty() {
            self.report(
                location,
                codes::INVALID_JSONATA,
                "the JSONata expression between {% and %} is empty",
            );
        } else if let Err(message) = self.jsonata.check_syntax(body) {
            self.report(location, codes::INVALID_JSONATA, message);
        }
    }
}

/// AWS's rule, exactly: the string starts with `{%` and ends with `%}`, with no surrounding
/// whitespace. `" {% states.input %} "` is a literal string in AWS (conformance case
/// BASE_LITERALS), so this does not trim.
fn is_jsonata_expression(text: &str) -> bool {
    text.starts_with("{%") && text.ends_with("%}")
}
