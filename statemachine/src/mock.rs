//! Step Functions Local's mock-config format: mocked task results per test case.
//!
//! ```json
//! {"StateMachines": {"Purge": {"TestCases": {"HappyPath": {"DeleteObjects": "DeleteOk"}}}},
//!  "MockedResponses": {"DeleteOk": {"0": {"Throw": {"Error": "S3.SlowDown", "Cause": "busy"}},
//!                                   "1-2": {"Return": {"deleted": 3}}}}}
//! ```
//! Invocations of a state are counted from 0 per state name; each key of a mocked response is an
//! invocation number or an inclusive range `"N-M"`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use serde_json::Value;

use crate::error::{StatesError, names};
use crate::task::TaskInvoker;

/// A mock-config file that does not have the documented shape, or a lookup that fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MockConfigError {
    #[error("invalid mock config at {path}: {message}")]
    Invalid { path: String, message: String },
    #[error("mock config has no state machine named {0:?}")]
    UnknownStateMachine(String),
    #[error("state machine {state_machine:?} has no test case named {test_case:?}")]
    UnknownTestCase {
        state_machine: String,
        test_case: String,
    },
    #[error("test case {test_case:?} refers to mocked response {response:?}, which is not defined")]
    UnknownResponse { test_case: String, response: String },
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> MockConfigError {
    MockConfigError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

/// What one invocation returns or throws.
#[derive(Debug, Clone, PartialEq)]
pub enum MockedResult {
    Return(Value),
    Throw(StatesError),
}

/// One mocked response: results by (inclusive) invocation range, sorted.
#[derive(Debug, Clone, PartialEq)]
pub struct MockedResponse {
    name: String,
    ranges: Vec<(u64, u64, MockedResult)>,
}

impl MockedResponse {
    fn parse(name: &str, value: &Value) -> Result<Self, MockConfigError> {
        let path = format!("$.MockedResponses.{name}");
        let Value::Object(entries) = value else {
            return Err(invalid(
                path,
                "a mocked response must be an object of invocation numbers",
            ));
        };
        let mut ranges = Vec::with_capacity(entries.len());
        for (key, entry) in entries {
            let at = format!("{path}.{key}");
            let (start, end) = parse_range(key).ok_or_else(|| {
                invalid(
                    &at,
                    "keys are invocation numbers (\"0\") or ranges (\"1-2\")",
                )
            })?;
            ranges.push((start, end, parse_result(entry, &at)?));
        }
        ranges.sort_by_key(|(start, _, _)| *start);
        for pair in ranges.windows(2) {
            if let [(_, end, _), (next, _, _)] = pair
                && next <= end
            {
                return Err(invalid(
                    path,
                    format!("invocation {next} is covered by two entries"),
                ));
            }
        }
        if ranges.is_empty() {
            return Err(invalid(path, "a mocked response needs at least one entry"));
        }
        Ok(Self {
            name: name.to_owned(),
            ranges,
        })
    }

    fn at(&self, invocation: u64) -> Option<&MockedResult> {
        self.ranges
            .iter()
            .find(|(s, e, _)| (*s..=*e).contains(&invocation))
            .map(|(_, _, r)| r)
    }

    fn keys(&self) -> String {
        let keys: Vec<String> = self
            .ranges
            .iter()
            .map(|(s, e, _)| {
                if s == e {
                    s.to_string()
                } else {
                    format!("{s}-{e}")
                }
            })
            .collect();
        keys.join(", ")
    }
}

fn parse_range(key: &str) -> Option<(u64, u64)> {
    let number = |s: &str| {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    match key.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (number(a)?, number(b)?);
            (a <= b).then_some((a, b))
        }
        None => number(key).map(|n| (n, n)),
    }
}

fn parse_result(entry: &Value, at: &str) -> Result<MockedResult, MockConfigError> {
    let Value::Object(map) = entry else {
        return Err(invalid(
            at,
            "an entry must be {\"Return\": ...} or {\"Throw\": {\"Error\", \"Cause\"}}",
        ));
    };
    match (map.get("Return"), map.get("Throw"), map.len()) {
        (Some(value), None, 1) => Ok(MockedResult::Return(value.clone())),
        (None, Some(throw), 1) => {
            let field = |name: &str| -> Result<String, MockConfigError> {
                throw
                    .get(name)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        invalid(
                            format!("{at}.Throw"),
                            format!("Throw needs a string {name}"),
                        )
                    })
            };
            Ok(MockedResult::Throw(StatesError::new(
                field("Error")?,
                field("Cause")?,
            )))
        }
        _ => Err(invalid(at, "an entry holds exactly one of Return or Throw")),
    }
}

/// The parsed mock config.
#[derive(Debug, Clone, Default)]
pub struct MockConfig {
    /// state machine -> test case -> state name -> mocked response name.
    state_machines: HashMap<String, HashMap<String, HashMap<String, String>>>,
    responses: HashMap<String, Arc<MockedResponse>>,
}

impl MockConfig {
    pub fn from_value(v: &Value) -> Result<MockConfig, MockConfigError> {
        let Value::Object(root) = v else {
            return Err(invalid("$", "the mock config must be an object"));
        };
        let mut config = MockConfig::default();
        if let Some(responses) = root.get("MockedResponses") {
            let Value::Object(responses) = responses else {
                return Err(invalid("$.MockedResponses", "must be an object"));
            };
            for (name, value) in responses {
                config
                    .responses
                    .insert(name.clone(), Arc::new(MockedResponse::parse(name, value)?));
            }
        }
        let Some(Value::Object(machines)) = root.get("StateMachines") else {
            return Err(invalid(
                "$.StateMachines",
                "must be an object of state machines",
            ));
        };
        for (machine, body) in machines {
            let path = format!("$.StateMachines.{machine}.TestCases");
            let Some(Value::Object(cases)) = body.get("TestCases") else {
                return Err(invalid(path, "must be an object of test cases"));
            };
            let mut parsed_cases = HashMap::new();
            for (case, states) in cases {
                let Value::Object(states) = states else {
                    return Err(invalid(
                        format!("{path}.{case}"),
                        "must map state names to mocked response names",
                    ));
                };
                let mut parsed = HashMap::new();
                for (state, response) in states {
                    let response = response.as_str().ok_or_else(|| {
                        invalid(
                            format!("{path}.{case}.{state}"),
                            "must be the name of a mocked response",
                        )
                    })?;
                    if !config.responses.contains_key(response) {
                        return Err(MockConfigError::UnknownResponse {
                            test_case: case.clone(),
                            response: response.to_owned(),
                        });
                    }
                    parsed.insert(state.clone(), response.to_owned());
                }
                parsed_cases.insert(case.clone(), parsed);
            }
            config.state_machines.insert(machine.clone(), parsed_cases);
        }
        Ok(config)
    }

    /// The state machines the config has test cases for, sorted (for error messages).
    pub fn state_machine_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.state_machines.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// The test cases of one state machine, sorted; `None` for an unknown state machine.
    pub fn test_case_names(&self, state_machine: &str) -> Option<Vec<&str>> {
        let mut names: Vec<&str> = self
            .state_machines
            .get(state_machine)?
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        Some(names)
    }

    /// The mocked tasks of one test case, with fresh invocation counters.
    pub fn test_case(
        &self,
        state_machine: &str,
        test_case: &str,
    ) -> Result<MockedTasks, MockConfigError> {
        let cases = self
            .state_machines
            .get(state_machine)
            .ok_or_else(|| MockConfigError::UnknownStateMachine(state_machine.to_owned()))?;
        let states = cases
            .get(test_case)
            .ok_or_else(|| MockConfigError::UnknownTestCase {
                state_machine: state_machine.to_owned(),
                test_case: test_case.to_owned(),
            })?;
        let mut mocks = HashMap::new();
        for (state, response) in states {
            let response =
                self.responses
                    .get(response)
                    .ok_or_else(|| MockConfigError::UnknownResponse {
                        test_case: test_case.to_owned(),
                        response: response.clone(),
                    })?;
            mocks.insert(state.clone(), Arc::clone(response));
        }
        Ok(MockedTasks {
            test_case: test_case.to_owned(),
            mocks,
            counters: Mutex::new(HashMap::new()),
            fallback: None,
        })
    }
}

/// The mocked tasks of one test case. Counts invocations per state name (from 0, across
/// retries and Map iterations), as Step Functions Local does.
#[derive(Debug)]
pub struct MockedTasks {
    test_case: String,
    mocks: HashMap<String, Arc<MockedResponse>>,
    counters: Mutex<HashMap<String, u64>>,
    fallback: Option<Arc<dyn TaskInvoker>>,
}

impl MockedTasks {
    /// States without a mock go to `inner` instead of failing.
    pub fn with_fallback(mut self, inner: Arc<dyn TaskInvoker>) -> Self {
        self.fallback = Some(inner);
        self
    }

    /// Starts every state's invocation count from 0 again, for another execution.
    pub fn reset(&self) {
        self.counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// How often `state` has been invoked so far.
    pub fn invocations(&self, state: &str) -> u64 {
        self.counters
            .lock()
            .map(|c| c.get(state).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    fn next_invocation(&self, state: &str) -> u64 {
        // A poisoned lock only means another invocation panicked; the counts are still valid.
        let mut counters = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let counter = counters.entry(state.to_owned()).or_insert(0);
        let current = *counter;
        *counter += 1;
        current
    }
}

impl TaskInvoker for MockedTasks {
    fn invoke<'a>(
        &'a self,
        state_name: &'a str,
        resource: &'a str,
        payload: Value,
    ) -> BoxFuture<'a, Result<Value, StatesError>> {
        Box::pin(async move {
            let Some(response) = self.mocks.get(state_name) else {
                return match &self.fallback {
                    Some(inner) => inner.invoke(state_name, resource, payload).await,
                    None => Err(StatesError::new(
                        names::RUNTIME,
                        format!(
                            "test case '{}' has no mocked response for Task state '{state_name}'",
                            self.test_case
                        ),
                    )),
                };
            };
            let invocation = self.next_invocation(state_name);
            match response.at(invocation) {
                Some(MockedResult::Return(value)) => Ok(value.clone()),
                Some(MockedResult::Throw(error)) => Err(error.clone()),
                None => Err(StatesError::new(
                    names::RUNTIME,
                    format!(
                        "mocked response '{}' for Task state '{state_name}' has run out: no entry for invocation {invocation} \
                         (0-based; it defines {})",
                        response.name,
                        response.keys()
                    ),
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use serde_json::json;

    fn config() -> MockConfig {
        MockConfig::from_value(&json!({
            "StateMachines": {"Purge": {"TestCases": {
                "Flaky": {"Delete": "FlakyThenOk"},
                "Happy": {"Delete": "Ok"}
            }}},
            "MockedResponses": {
                "FlakyThenOk": {
                    "0": {"Throw": {"Error": "S3.SlowDown", "Cause": "busy"}},
                    "1-2": {"Return": {"deleted": 1}}
                },
                "Ok": {"0": {"Return": {"deleted": 3}}}
            }
        }))
        .expect("valid config")
    }

    #[test]
    fn ranges_throw_then_return_then_run_out() {
        let mocks = config().test_case("Purge", "Flaky").expect("case exists");
        let call = || block_on(mocks.invoke("Delete", "arn:aws:states:::lambda:invoke", json!({})));
        assert_eq!(call(), Err(StatesError::new("S3.SlowDown", "busy")));
        assert_eq!(call(), Ok(json!({"deleted": 1})));
        assert_eq!(call(), Ok(json!({"deleted": 1})));
        let out = call().expect_err("exhausted");
        assert_eq!(out.error, names::RUNTIME);
        assert!(
            out.cause.contains("'FlakyThenOk'")
                && out.cause.contains("'Delete'")
                && out.cause.contains("invocation 3"),
            "{}",
            out.cause
        );
        assert!(out.cause.contains("0, 1-2"), "{}", out.cause);
        assert_eq!(mocks.invocations("Delete"), 4);
        mocks.reset();
        assert_eq!(
            call(),
            Err(StatesError::new("S3.SlowDown", "busy")),
            "counting starts again"
        );
    }

    #[test]
    fn unmocked_states_fail_or_fall_through() {
        let mocks = config().test_case("Purge", "Happy").expect("case exists");
        let err = block_on(mocks.invoke("Other", "x", json!({}))).expect_err("no mock");
        assert!(
            err.cause
                .contains("no mocked response for Task state 'Other'"),
            "{}",
            err.cause
        );

        let mut registry = crate::task::TaskRegistry::new();
        registry.register(
            "x",
            Arc::new(|p: Value| async move { Ok(json!({"real": p})) }),
        );
        let mocks = config()
            .test_case("Purge", "Happy")
            .expect("case exists")
            .with_fallback(Arc::new(registry));
        assert_eq!(
            block_on(mocks.invoke("Other", "x", json!(1))),
            Ok(json!({"real": 1}))
        );
        assert_eq!(
            block_on(mocks.invoke("Delete", "x", json!(1))),
            Ok(json!({"deleted": 3}))
        );
    }

    #[test]
    fn lookups_name_what_is_missing() {
        let c = config();
        assert_eq!(
            c.test_case("Nope", "Happy").err(),
            Some(MockConfigError::UnknownStateMachine("Nope".into()))
        );
        assert!(matches!(
            c.test_case("Purge", "Nope"),
            Err(MockConfigError::UnknownTestCase { .. })
        ));
        assert_eq!(c.state_machine_names(), ["Purge"]);
        assert_eq!(c.test_case_names("Purge"), Some(vec!["Flaky", "Happy"]));
        assert_eq!(c.test_case_names("Nope"), None);
    }

    #[test]
    fn malformed_configs_are_rejected_with_a_path() {
        let bad = [
            json!([]),
            json!({"MockedResponses": {}}),
            json!({"StateMachines": {"M": {"TestCases": {"C": {"S": "Missing"}}}}, "MockedResponses": {}}),
            json!({"StateMachines": {}, "MockedResponses": {"R": {"x": {"Return": 1}}}}),
            json!({"StateMachines": {}, "MockedResponses": {"R": {"2-1": {"Return": 1}}}}),
            json!({"StateMachines": {}, "MockedResponses": {"R": {"0-2": {"Return": 1}, "1": {"Return": 2}}}}),
            json!({"StateMachines": {}, "MockedResponses": {"R": {"0": {"Return": 1, "Throw": {}}}}}),
            json!({"StateMachines": {}, "MockedResponses": {"R": {"0": {"Throw": {"Error": "E"}}}}}),
            json!({"StateMachines": {}, "MockedResponses": {"R": {}}}),
        ];
        for config in bad {
            assert!(
                MockConfig::from_value(&config).is_err(),
                "accepted {config}"
            );
        }
        assert_eq!(parse_range("0"), Some((0, 0)));
        assert_eq!(parse_range("1-2"), Some((1, 2)));
        assert_eq!(parse_range("-1"), None);
        assert_eq!(parse_range("+1"), None);
    }
}
