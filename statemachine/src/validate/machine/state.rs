//! Per-state semantic checks: fields allowed by the state's query language, fields that
//! exclude each other, path / intrinsic / JSONata syntax, Task and Wait specifics, and the
//! nested machines of Parallel and Map. Retry/Catch live in [`super::handlers`], Choice rules
//! in [`super::rules`].

use serde_json::{Map, Value};

use super::super::{Location, codes};
use super::{Checker, QueryLanguage};

/// State fields that only exist in JSONPath states.
const JSONPATH_ONLY_FIELDS: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Result",
    "ItemsPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
];

/// State fields that only exist in JSONata states.
const JSONATA_ONLY_FIELDS: &[&str] = &["Arguments", "Output", "Items"];

/// JSONPath states: the fields holding a JSONPath (not a reference path, not an intrinsic).
const PATH_FIELDS: &[&str] = &[
    "InputPath",
    "OutputPath",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
];

/// JSONPath states: the payload templates (`key.$` fields).
const TEMPLATE_FIELDS: &[&str] = &[
    "Parameters",
    "ResultSelector",
    "ItemSelector",
    "Assign",
    "Credentials",
];

/// Fields that take a number, or in JSONata a `{% %}` expression. The schema allows both forms
/// for either language; a JSONPath state must use the number (or the `...Path` field).
const NUMBER_OR_EXPRESSION_FIELDS: &[&str] = &[
    "Seconds",
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "MaxConcurrency",
    "ToleratedFailureCount",
    "ToleratedFailurePercentage",
];

/// JSONata states: the fields whose strings may be `{% %}` expressions.
const JSONATA_FIELDS: &[&str] = &[
    "Arguments",
    "Output",
    "Assign",
    "Items",
    "ItemSelector",
    "Seconds",
    "Timestamp",
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "MaxConcurrency",
    "ToleratedFailureCount",
    "ToleratedFailurePercentage",
    "Error",
    "Cause",
    "Credentials",
    "ItemReader",
    "ItemBatcher",
    "ResultWriter",
];

/// Pairs of state fields of which at most one may be given.
const EXCLUSIVE_PAIRS: &[(&str, &str)] = &[
    ("Error", "ErrorPath"),
    ("Cause", "CausePath"),
    ("TimeoutSeconds", "TimeoutSecondsPath"),
    ("HeartbeatSeconds", "HeartbeatSecondsPath"),
    ("MaxConcurrency", "MaxConcurrencyPath"),
    ("ToleratedFailureCount", "ToleratedFailureCountPath"),
    (
        "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath",
    ),
    ("ItemSelector", "Parameters"),
];

/// A Wait state waits in exactly one of these ways.
const WAIT_FIELDS: &[&str] = &["Seconds", "Timestamp", "SecondsPath", "TimestampPath"];

impl Checker {
    /// All checks of one state. `inherited` is the language of the enclosing machine.
    pub(super) fn state(
        &mut self,
        name: &str,
        state: &Map<String, Value>,
        location: &Location,
        inherited: QueryLanguage,
    ) {
        let explicit = QueryLanguage::from_field(state.get("QueryLanguage"));
        if explicit == Some(QueryLanguage::JsonPath) && self.top_language == QueryLanguage::Jsonata
        {
            self.report(
                &location.key("QueryLanguage"),
                codes::INVALID_QUERY_LANGUAGE,
                format!("'{name}' asks for JSONPath, but the definition's QueryLanguage is JSONata; states can't go back to JSONPath"),
            );
        }
        let language = explicit.unwrap_or(inherited);
        self.fields_for_language(
            state,
            location,
            language,
            JSONPATH_ONLY_FIELDS,
            JSONATA_ONLY_FIELDS,
        );
        self.exclusive_fields(state, location);
        match language {
            QueryLanguage::JsonPath => self.jsonpath_fields(state, location),
            QueryLanguage::Jsonata => self.jsonata_fields(state, location),
        }
        self.nested_config_fields(state, location, language);
        self.retriers(state, location);
        self.catchers(state, location, language);
        match state.get("Type").and_then(Value::as_str) {
            Some("Task") => self.task(state, location),
            Some("Wait") => self.wait(state, location, language),
            Some("Choice") => self.choices(state, location, language),
            Some("Parallel") => self.branches(state, location, language),
            Some("Map") => self.processor(state, location, language),
            _ => {}
        }
    }

    /// Reports fields that belong to the other query language.
    pub(super) fn fields_for_language(
        &mut self,
        object: &Map<String, Value>,
        location: &Location,
        language: QueryLanguage,
        jsonpath_only: &[&str],
        jsonata_only: &[&str],
    ) {
        let wrong = match language {
            QueryLanguage::JsonPath => jsonata_only,
            QueryLanguage::Jsonata => jsonpath_only,
        };
        for field in wrong.iter().filter(|f| object.contains_key(**f)) {
            self.report(
                &location.key(field),
                codes::FIELD_NOT_SUPPORTED_IN_QUERY_LANGUAGE,
                format!(
                    "'{field}' is not supported when the query language is {}",
                    language.name()
                ),
            );
        }
    }

    fn exclusive_fields(&mut self, state: &Map<String, Value>, location: &Location) {
        for (a, b) in EXCLUSIVE_PAIRS {
            if state.contains_key(*a) && state.contains_key(*b) {
                self.report(
                    &location.key(b),
                    codes::MUTUALLY_EXCLUSIVE_FIELDS,
                    format!("'{a}' and '{b}' can't both be set"),
                );
            }
        }
    }

    fn jsonpath_fields(&mut self, state: &Map<String, Value>, location: &Location) {
        for field in PATH_FIELDS {
            if let Some(Value::String(path)) = state.get(*field) {
                self.path(path, &location.key(field));
            }
        }
        for field in ["ErrorPath", "CausePath"] {
            if let Some(Value::String(expr)) = state.get(field) {
                self.path_or_intrinsic(expr, &location.key(field));
            }
        }
        if let Some(Value::String(path)) = state.get("ResultPath") {
            self.reference_path(path, &location.key("ResultPath"));
        }
        for field in TEMPLATE_FIELDS {
            if let Some(template) = state.get(*field) {
                self.payload_template(template, &location.key(field));
            }
        }
        for field in NUMBER_OR_EXPRESSION_FIELDS {
            if let Some(Value::String(_)) = state.get(*field) {
                self.report(
                    &location.key(field),
                    codes::INVALID_FIELD_VALUE,
                    format!("'{field}' takes a number in JSONPath states; use '{field}Path' or QueryLanguage JSONata for an expression"),
                );
            }
        }
    }

    fn jsonata_fields(&mut self, state: &Map<String, Value>, location: &Location) {
        for field in JSONATA_FIELDS {
            if let Some(value) = state.get(*field) {
                self.jsonata_template(value, &location.key(field));
            }
        }
    }

    /// ItemReader, ItemBatcher and ResultWriter have their own per-language fields.
    fn nested_config_fields(
        &mut self,
        state: &Map<String, Value>,
        location: &Location,
        language: QueryLanguage,
    ) {
        for container in ["ItemReader", "ResultWriter"] {
            let Some(config) = state.get(container).and_then(Value::as_object) else {
                continue;
            };
            let config_location = location.key(container);
            self.fields_for_language(
                config,
                &config_location,
                language,
                &["Parameters"],
                &["Arguments"],
            );
            if language == QueryLanguage::JsonPath
                && let Some(parameters) = config.get("Parameters")
            {
                self.payload_template(parameters, &config_location.key("Parameters"));
            }
            if let Some(reader) = config.get("ReaderConfig").and_then(Value::as_object) {
                let reader_location = config_location.key("ReaderConfig");
                self.fields_for_language(
                    reader,
                    &reader_location,
                    language,
                    &["MaxItemsPath"],
                    &[],
                );
                self.exclusive_pair(reader, &reader_location, "MaxItems", "MaxItemsPath");
                if let Some(Value::String(path)) = reader.get("MaxItemsPath") {
                    self.path(path, &reader_location.key("MaxItemsPath"));
                }
            }
        }
        if let Some(batcher) = state.get("ItemBatcher").and_then(Value::as_object) {
            let batcher_location = location.key("ItemBatcher");
            let path_fields = ["MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath"];
            self.fields_for_language(batcher, &batcher_location, language, &path_fields, &[]);
            self.exclusive_pair(
                batcher,
                &batcher_location,
                "MaxItemsPerBatch",
                "MaxItemsPerBatchPath",
            );
            self.exclusive_pair(
                batcher,
                &batcher_location,
                "MaxInputBytesPerBatch",
                "MaxInputBytesPerBatchPath",
            );
            for field in path_fields {
                if let Some(Value::String(path)) = batcher.get(field) {
                    self.path(path, &batcher_location.key(field));
                }
            }
            if language == QueryLanguage::JsonPath
                && let Some(batch_input) = batcher.get("BatchInput")
            {
                self.payload_template(batch_input, &batcher_location.key("BatchInput"));
            }
        }
    }

    fn exclusive_pair(
        &mut self,
        object: &Map<String, Value>,
        location: &Location,
        a: &str,
        b: &str,
    ) {
        if object.contains_key(a) && object.contains_key(b) {
            self.report(
                &location.key(b),
                codes::MUTUALLY_EXCLUSIVE_FIELDS,
                format!("'{a}' and '{b}' can't both be set"),
            );
        }
    }

    fn task(&mut self, state: &Map<String, Value>, location: &Location) {
        if let Some(Value::String(resource)) = state.get("Resource")
            && !resource.starts_with("arn:")
        {
            self.report(
                &location.key("Resource"),
                codes::INVALID_RESOURCE,
                format!("'{resource}' is not an ARN"),
            );
        }
        let seconds = |field: &str| state.get(field).and_then(Value::as_u64);
        if let (Some(heartbeat), Some(timeout)) =
            (seconds("HeartbeatSeconds"), seconds("TimeoutSeconds"))
            && heartbeat >= timeout
        {
            self.report(
                &location.key("HeartbeatSeconds"),
                codes::INVALID_FIELD_VALUE,
                format!(
                    "HeartbeatSeconds ({heartbeat}) must be smaller than TimeoutSeconds ({timeout})"
                ),
            );
        }
    }

    fn wait(&mut self, state: &Map<String, Value>, location: &Location, language: QueryLanguage) {
        // In JSONata the field may hold an expression; in JSONPath it is the timestamp itself,
        // and AWS rejects one that is not RFC 3339 when the machine is created.
        if language == QueryLanguage::JsonPath
            && let Some(Value::String(timestamp)) = state.get("Timestamp")
            && chrono::DateTime::parse_from_rfc3339(timestamp).is_err()
        {
            self.report(
                &location.key("Timestamp"),
                codes::INVALID_FIELD_VALUE,
                format!("'{timestamp}' is not an RFC 3339 timestamp (e.g. 2016-03-14T01:59:00Z)"),
            );
        }
        let given: Vec<&str> = WAIT_FIELDS
            .iter()
            .copied()
            .filter(|f| state.contains_key(*f))
            .collect();
        match given.as_slice() {
            [] => self.report(
                location,
                codes::MISSING_REQUIRED_FIELD,
                "a Wait state needs one of Seconds, Timestamp, SecondsPath or TimestampPath",
            ),
            [_] => {}
            [_, extra @ ..] => {
                for field in extra {
                    self.report(
                        &location.key(field),
                        codes::MUTUALLY_EXCLUSIVE_FIELDS,
                        format!(
                            "a Wait state takes only one of {}; found {}",
                            WAIT_FIELDS.join(", "),
                            given.join(", ")
                        ),
                    );
                }
            }
        }
    }

    fn branches(
        &mut self,
        state: &Map<String, Value>,
        location: &Location,
        language: QueryLanguage,
    ) {
        let Some(branches) = state.get("Branches").and_then(Value::as_array) else {
            return;
        };
        let branches_location = location.key("Branches");
        for (i, branch) in branches.iter().enumerate() {
            if let Some(branch) = branch.as_object() {
                self.machine(branch, &branches_location.index(i), language);
            }
        }
    }

    fn processor(
        &mut self,
        state: &Map<String, Value>,
        location: &Location,
        language: QueryLanguage,
    ) {
        for field in ["ItemProcessor", "Iterator"] {
            if let Some(processor) = state.get(field).and_then(Value::as_object) {
                self.machine(processor, &location.key(field), language);
            }
        }
    }
}
