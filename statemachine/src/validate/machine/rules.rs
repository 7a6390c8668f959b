//! Choice rules: JSONPath rules go to `crate::choice::check_rule`; JSONata rules hold a
//! Condition (plus Next, Assign, Output, Comment) and nothing of JSONPath's.

use serde_json::{Map, Value};

use super::super::{Location, codes};
use super::{Checker, QueryLanguage};
use crate::choice;

/// Fields a JSONata Choice rule may hold; the rest (Variable, operators, And/Or/Not) are JSONPath.
const JSONATA_RULE_FIELDS: &[&str] = &["Condition", "Next", "Assign", "Output", "Comment"];

impl Checker {
    pub(super) fn choices(
        &mut self,
        state: &Map<String, Value>,
        location: &Location,
        language: QueryLanguage,
    ) {
        let Some(rules) = state.get("Choices").and_then(Value::as_array) else {
            return;
        };
        let choices_location = location.key("Choices");
        for (i, rule) in rules.iter().enumerate() {
            let Some(members) = rule.as_object() else {
                continue;
            };
            let rule_location = choices_location.index(i);
            match language {
                QueryLanguage::JsonPath => self.jsonpath_rule(rule, members, &rule_location),
                QueryLanguage::Jsonata => self.jsonata_rule(members, &rule_location),
            }
        }
    }

    fn jsonpath_rule(&mut self, rule: &Value, members: &Map<String, Value>, location: &Location) {
        self.fields_for_language(
            members,
            location,
            QueryLanguage::JsonPath,
            &[],
            &["Condition", "Output"],
        );
        for (relative, message) in choice::check_rule(rule) {
            self.report(
                &location.join_relative(&relative),
                codes::INVALID_CHOICE_RULE,
                message,
            );
        }
        if let Some(assign) = members.get("Assign") {
            self.payload_template(assign, &location.key("Assign"));
        }
    }

    fn jsonata_rule(&mut self, members: &Map<String, Value>, location: &Location) {
        for name in members
            .keys()
            .filter(|k| !JSONATA_RULE_FIELDS.contains(&k.as_str()))
        {
            self.report(
                &location.key(name),
                codes::FIELD_NOT_SUPPORTED_IN_QUERY_LANGUAGE,
                format!("'{name}' is not supported in a JSONata Choice rule: use Condition"),
            );
        }
        match members.get("Condition") {
            None => self.report(
                location,
                codes::MISSING_REQUIRED_FIELD,
                "a JSONata Choice rule needs a Condition",
            ),
            Some(Value::String(condition)) => {
                self.jsonata_expression(condition, &location.key("Condition"))
            }
            Some(_) => {}
        }
        for field in ["Output", "Assign"] {
            if let Some(value) = members.get(field) {
                self.jsonata_template(value, &location.key(field));
            }
        }
    }
}
