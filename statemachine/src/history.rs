//! The execution history, in AWS GetExecutionHistory's shape.
//!
//! Each event has `id`, `previousEventId`, `type`, `timestamp` and, for most types, one
//! `<camelCaseType>EventDetails` object. Detail fields that AWS returns as JSON text (`input`,
//! `output`, `assignedVariables` values, ...) are JSON text here too.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::clock::VirtualClock;

/// The events of one execution, in order.
#[derive(Debug, Clone)]
pub struct History {
    clock: VirtualClock,
    events: Vec<Value>,
    /// Most events share the instant of the one before; formatting it once saves real time.
    last_timestamp: Option<(Duration, String)>,
}

impl History {
    pub fn new(clock: VirtualClock) -> Self {
        Self {
            clock,
            events: Vec::new(),
            last_timestamp: None,
        }
    }

    /// Id of the most recent event (0 before the first).
    pub fn last_id(&self) -> u64 {
        self.events.len() as u64
    }

    /// Appends an event and returns its id.
    pub fn push(
        &mut self,
        event_type: &str,
        previous: u64,
        at: Duration,
        details: Option<(&str, Value)>,
    ) -> u64 {
        let id = self.last_id() + 1;
        let mut event = Map::new();
        event.insert("id".into(), json!(id));
        event.insert("previousEventId".into(), json!(previous));
        let timestamp = match &self.last_timestamp {
            Some((when, text)) if *when == at => text.clone(),
            _ => {
                let text = self.clock.format(at);
                self.last_timestamp = Some((at, text.clone()));
                text
            }
        };
        event.insert("timestamp".into(), Value::String(timestamp));
        event.insert("type".into(), json!(event_type));
        if let Some((key, value)) = details {
            event.insert(key.into(), value);
        }
        self.events.push(Value::Object(event));
        id
    }

    pub fn into_events(self) -> Vec<Value> {
        self.events
    }
}

/// A JSON value as the JSON text AWS puts in event details.
pub fn json_text(value: &Value) -> String {
    // Serialising a Value cannot fail (all keys are strings).
    serde_json::to_string(value).unwrap_or_default()
}

/// `stateEnteredEventDetails`.
pub fn state_entered(name: &str, input: &Value) -> Value {
    json!({"name": name, "input": json_text(input), "inputDetails": {"truncated": false}})
}

/// `stateExitedEventDetails`, with `assignedVariables` when the state assigned any.
pub fn state_exited(name: &str, output: &Value, assigned: Option<&Map<String, Value>>) -> Value {
    let mut details = Map::new();
    details.insert("name".into(), json!(name));
    details.insert("output".into(), json!(json_text(output)));
    details.insert("outputDetails".into(), json!({"truncated": false}));
    if let Some(assigned) = assigned.filter(|a| !a.is_empty()) {
        let texts: Map<String, Value> = assigned
            .iter()
            .map(|(k, v)| (k.clone(), json!(json_text(v))))
            .collect();
        details.insert("assignedVariables".into(), Value::Object(texts));
        details.insert(
            "assignedVariablesDetails".into(),
            json!({"truncated": false}),
        );
    }
    Value::Object(details)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    #[test]
    fn events_are_numbered_and_carry_details_as_json_text() {
        let clock = VirtualClock::new(DateTime::<Utc>::from_timestamp(0, 0).expect("epoch"));
        let mut history = History::new(clock);
        let first = history.push(
            "PassStateEntered",
            0,
            Duration::ZERO,
            Some((
                "stateEnteredEventDetails",
                state_entered("A", &json!({"a": 1})),
            )),
        );
        let mut assigned = Map::new();
        assigned.insert("x".into(), json!("s"));
        let second = history.push(
            "PassStateExited",
            first,
            Duration::ZERO,
            Some((
                "stateExitedEventDetails",
                state_exited("A", &json!([1]), Some(&assigned)),
            )),
        );
        assert_eq!((first, second), (1, 2));
        let events = history.into_events();
        assert_eq!(
            events[0]["stateEnteredEventDetails"]["input"],
            json!("{\"a\":1}")
        );
        assert_eq!(events[1]["previousEventId"], json!(1));
        assert_eq!(
            events[1]["stateExitedEventDetails"]["assignedVariables"]["x"],
            json!("\"s\"")
        );
        assert_eq!(events[1]["timestamp"], json!("1970-01-01T00:00:00.000Z"));
    }
}
