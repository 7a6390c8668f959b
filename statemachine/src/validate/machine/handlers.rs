//! Retry and Catch: `States.ALL` placement, and the per-language fields of catchers.

use serde_json::{Map, Value};

use super::super::{Location, codes};
use super::{Checker, QueryLanguage};

impl Checker {
    /// `States.ALL` must stand alone in its ErrorEquals, in the last retrier.
    pub(super) fn retriers(&mut self, state: &Map<String, Value>, location: &Location) {
        if let Some(retriers) = state.get("Retry").and_then(Value::as_array) {
            self.states_all_last(retriers, &location.key("Retry"), "retrier");
        }
    }

    pub(super) fn catchers(
        &mut self,
        state: &Map<String, Value>,
        location: &Location,
        language: QueryLanguage,
    ) {
        let Some(catchers) = state.get("Catch").and_then(Value::as_array) else {
            return;
        };
        let catch_location = location.key("Catch");
        self.states_all_last(catchers, &catch_location, "catcher");
        for (i, catcher) in catchers.iter().enumerate() {
            let Some(catcher) = catcher.as_object() else {
                continue;
            };
            let catcher_location = catch_location.index(i);
            self.fields_for_language(
                catcher,
                &catcher_location,
                language,
                &["ResultPath"],
                &["Output"],
            );
            match language {
                QueryLanguage::JsonPath => {
                    if let Some(Value::String(path)) = catcher.get("ResultPath") {
                        self.reference_path(path, &catcher_location.key("ResultPath"));
                    }
                    if let Some(assign) = catcher.get("Assign") {
                        self.payload_template(assign, &catcher_location.key("Assign"));
                    }
                }
                QueryLanguage::Jsonata => {
                    for field in ["Output", "Assign"] {
                        if let Some(value) = catcher.get(field) {
                            self.jsonata_template(value, &catcher_location.key(field));
                        }
                    }
                }
            }
        }
    }

    fn states_all_last(&mut self, handlers: &[Value], location: &Location, kind: &str) {
        let last = handlers.len().saturating_sub(1);
        for (i, handler) in handlers.iter().enumerate() {
            let Some(names) = handler.get("ErrorEquals").and_then(Value::as_array) else {
                continue;
            };
            if !names.iter().any(|n| n.as_str() == Some("States.ALL")) {
                continue;
            }
            let handler_location = location.index(i);
            if names.len() > 1 {
                self.report(
                    &handler_location.key("ErrorEquals"),
                    codes::STATES_ALL_NOT_LAST,
                    "States.ALL must appear alone in ErrorEquals",
                );
            }
            if i != last {
                self.report(
                    &handler_location,
                    codes::STATES_ALL_NOT_LAST,
                    format!("the {kind} with States.ALL must be the last one"),
                );
            }
        }
    }
}
