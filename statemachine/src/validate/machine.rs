//! The semantic pass over machines: state names, transitions, reachability and terminal
//! states, for the top level and for every Parallel branch and Map processor, each a machine in
//! its own right whose transitions stay inside it. Per-state field checks live in [`state`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Diagnostic, Location, codes};
use crate::jsonata::JsonataEngine;

mod handlers;
mod rules;
mod state;
mod templates;

/// AWS's limit on state name length, in characters.
const MAX_STATE_NAME_CHARS: usize = 80;

/// The query language in force for a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum QueryLanguage {
    JsonPath,
    Jsonata,
}

impl QueryLanguage {
    fn from_field(value: Option<&Value>) -> Option<Self> {
        match value.and_then(Value::as_str) {
            Some("JSONPath") => Some(Self::JsonPath),
            Some("JSONata") => Some(Self::Jsonata),
            _ => None,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Self::JsonPath => "JSONPath",
            Self::Jsonata => "JSONata",
        }
    }
}

/// Runs every semantic check on a definition. Values of the wrong type are skipped here: the
/// schema check reports them.
pub(super) fn check(definition: &Value) -> Vec<Diagnostic> {
    let Some(top) = definition.as_object() else {
        return Vec::new();
    };
    let top_language =
        QueryLanguage::from_field(top.get("QueryLanguage")).unwrap_or(QueryLanguage::JsonPath);
    let mut checker = Checker {
        diagnostics: Vec::new(),
        first_use_of_name: HashMap::new(),
        top_language,
        jsonata: crate::jsonata::default_engine(),
    };
    checker.machine(top, &Location::root(), top_language);
    checker.diagnostics
}

/// State shared by the whole walk.
pub(super) struct Checker {
    pub(super) diagnostics: Vec<Diagnostic>,
    /// State names are unique across the whole definition, branches included (ASL spec).
    first_use_of_name: HashMap<String, Location>,
    pub(super) top_language: QueryLanguage,
    pub(super) jsonata: Arc<dyn JsonataEngine>,
}

impl Checker {
    pub(super) fn report(&mut self, location: &Location, code: &str, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::new(location, code, message));
    }

    /// One machine: `{StartAt, States}` at `location`, whose states inherit `language`.
    pub(super) fn machine(
        &mut self,
        machine: &Map<String, Value>,
        location: &Location,
        language: QueryLanguage,
    ) {
        let Some(states) = machine.get("States").and_then(Value::as_object) else {
            return;
        };
        let states_location = location.key("States");
        for (name, state) in states {
            let state_location = states_location.key(name);
            self.state_name(name, &state_location);
            if let Some(state) = state.as_object() {
                self.state(name, state, &state_location, language);
            }
        }
        self.transitions(states, &states_location);
        let start = machine.get("StartAt").and_then(Value::as_str);
        match start {
            Some(start) if states.contains_key(start) => {
                self.reachability(start, states, &states_location)
            }
            Some(start) => self.report(
                &location.key("StartAt"),
                codes::MISSING_START_STATE,
                format!("StartAt names '{start}', which is not a state of this machine"),
            ),
            None => {}
        }
        if !states.is_empty() && !states.values().any(is_terminal) {
            self.report(
                &states_location,
                codes::MISSING_END_STATE,
                "no state ends the machine: add a Succeed or Fail state, or \"End\": true",
            );
        }
    }

    fn state_name(&mut self, name: &str, location: &Location) {
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_STATE_NAME_CHARS {
            self.report(
                location,
                codes::INVALID_STATE_NAME,
                format!("state names must be 1 to {MAX_STATE_NAME_CHARS} characters long; this one has {chars}"),
            );
        }
        if let Some(first) = self.first_use_of_name.get(name) {
            let message = format!("the state name '{name}' is already used at {first}");
            self.report(location, codes::DUPLICATE_STATE_NAME, message);
        } else {
            self.first_use_of_name
                .insert(name.to_owned(), location.clone());
        }
    }

    /// Every Next, Default, Choice rule Next and Catch Next must name a state of this machine.
    fn transitions(&mut self, states: &Map<String, Value>, states_location: &Location) {
        for (name, state) in states {
            for (target, location) in targets(state, &states_location.key(name)) {
                if !states.contains_key(target) {
                    self.report(
                        &location,
                        codes::MISSING_TRANSITION_TARGET,
                        format!("'{target}' is not a state of this machine (a branch or processor can't leave its own States)"),
                    );
                }
            }
        }
    }

    /// Breadth-first from StartAt; every state not reached is reported. Cycles are legal.
    fn reachability(
        &mut self,
        start: &str,
        states: &Map<String, Value>,
        states_location: &Location,
    ) {
        let mut reached: HashSet<&str> = HashSet::from([start]);
        let mut queue: VecDeque<&str> = VecDeque::from([start]);
        while let Some(name) = queue.pop_front() {
            let Some(state) = states.get(name) else {
                continue;
            };
            for (target, _) in targets(state, states_location) {
                if let Some((key, _)) = states.get_key_value(target)
                    && reached.insert(key.as_str())
                {
                    queue.push_back(key.as_str());
                }
            }
        }
        for name in states.keys() {
            if !reached.contains(name.as_str()) {
                self.report(
                    &states_location.key(name),
                    codes::UNREACHABLE_STATE,
                    format!("'{name}' can't be reached from StartAt"),
                );
            }
        }
    }
}

/// True for states that end their machine.
fn is_terminal(state: &Value) -> bool {
    matches!(
        state.get("Type").and_then(Value::as_str),
        Some("Succeed" | "Fail")
    ) || state.get("End") == Some(&Value::Bool(true))
}

/// The transition targets of a state, with where each is written.
fn targets<'a>(state: &'a Value, location: &Location) -> Vec<(&'a str, Location)> {
    let mut out = Vec::new();
    if let Some(next) = state.get("Next").and_then(Value::as_str) {
        out.push((next, location.key("Next")));
    }
    if let Some(default) = state.get("Default").and_then(Value::as_str) {
        out.push((default, location.key("Default")));
    }
    for list in ["Choices", "Catch"] {
        if let Some(items) = state.get(list).and_then(Value::as_array) {
            for (i, item) in items.iter().enumerate() {
                if let Some(next) = item.get("Next").and_then(Value::as_str) {
                    out.push((next, location.key(list).index(i).key("Next")));
                }
            }
        }
    }
    out
}
