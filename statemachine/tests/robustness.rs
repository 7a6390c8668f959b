//! Robustness: random and mutated state machines, run on random inputs, never panic and never
//! hang.
//!
//! The machines are generated here from a seeded RNG (nothing is read from the shared cases):
//! small graphs of every state type with fields drawn from ASL's vocabulary, including hostile
//! values (deep paths, huge ranges, bad timestamps, malformed expressions, `Next` cycles).
//! Each one is validated; a valid one runs on several inputs, each run on its own thread with a
//! wall-clock bound. A panic, a hang, or an outcome outside the engine's contract (a failure
//! without an error name, a success without output) fails the test and prints the seed, the
//! definition and the input, so a failure reproduces with `ROBUSTNESS_SEED=<seed>`.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use purgeflow_asl::error::StatesError;
use purgeflow_asl::{
    ExecutionOptions, ExecutionResult, ExecutionStatus, StateMachine, TaskRegistry,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

/// How long one execution may take on the wall clock before it counts as a hang. Generous:
/// the slowest legal runs (a `Next` cycle up to the 25,000-event history limit) take well
/// under a second in a debug build, and the machine is shared.
const RUN_BOUND: Duration = Duration::from_secs(20);

/// Machines per test run (each on several inputs).
const MACHINES: usize = 200;

/// Task resources: handlers registered by [`tasks`], and one left unregistered on purpose.
const RESOURCES: &[&str] = &[
    "arn:aws:lambda:us-east-1:123456789012:function:echo",
    "arn:aws:lambda:us-east-1:123456789012:function:boom",
    "arn:aws:lambda:us-east-1:123456789012:function:missing",
];

/// JSONPath-mode values for `...Path` fields and `.$` keys.
const PATHS: &[&str] = &[
    "$",
    "$.a",
    "$.a.b",
    "$.items",
    "$.items[0]",
    "$.items[-1]",
    "$.items[*]",
    "$.items[1:3]",
    "$..a",
    "$.missing",
    "$.n",
    "$.s",
    "$.t",
    "$$",
    "$$.Execution.Input",
    "$$.State.Name",
    "$$.Map.Item.Value",
    "$$.Nope",
    "$x",
    "$x.y",
    "$undefinedVar",
];

/// Intrinsic calls, legal and hostile.
const INTRINSICS: &[&str] = &[
    "States.Format('{} and {}', $.a, $.n)",
    "States.Format('{}', $.items)",
    "States.StringToJson($.s)",
    "States.JsonToString($)",
    "States.Array($.a, $.n, 'x')",
    "States.ArrayPartition($.items, $.n)",
    "States.ArrayContains($.items, 1)",
    "States.ArrayRange(0, $.n, 1)",
    "States.ArrayRange(0, 100000000, 1)",
    "States.ArrayRange(5, 0, -1)",
    "States.ArrayGetItem($.items, $.n)",
    "States.ArrayLength($.items)",
    "States.ArrayUnique($.items)",
    "States.Base64Encode($.s)",
    "States.Base64Decode($.s)",
    "States.Hash($.s, 'SHA-256')",
    "States.Hash($.s, 'NOPE')",
    "States.JsonMerge($.a, $.a, false)",
    "States.MathRandom(1, $.n)",
    "States.MathAdd($.n, -1)",
    "States.MathAdd($.s, 1)",
    "States.StringSplit($.s, ',')",
    "States.UUID()",
    "States.ArrayGetItem(States.StringSplit($$.State.Name, 'x'), 0)",
];

/// JSONata expressions, legal and hostile.
const JSONATA: &[&str] = &[
    "{% $states.input %}",
    "{% $states.input.a %}",
    "{% $states.input.items %}",
    "{% $states.input.n + 1 %}",
    "{% $states.input.s & '!' %}",
    "{% $states.context.State.Name %}",
    "{% $x %}",
    "{% $undefinedVar %}",
    "{% $count($states.input.items) > 1 %}",
    "{% $states.input.n > 2 %}",
    "{% $range(0, 100000000, 1) %}",
    "{% $partition($states.input.items, 2) %}",
    "{% $hash($states.input.s, 'MD5') %}",
    "{% $random() %}",
    "{% $uuid() %}",
    "{% $parse($states.input.s) %}",
    "{% $eval('1') %}",
    "{% $number($states.input.s) %}",
    "{% $string($states.input) %}",
    "{% 10 % 0 %}",
    "{% $sum([1..1000]) %}",
    "{% $states.input.t %}",
    "{% ($f := function($n) { $n < 1 ? 0 : $f($n - 1) }; $f(100000)) %}",
    "{% $states.errorOutput %}",
    "{% $states.result %}",
    "{% %}",
    "{% $states.input. %}",
    "{% [1,2,3] %}",
    "{% true %}",
    "{% null %}",
];

const TIMESTAMPS: &[&str] = &[
    "2016-03-14T01:59:00Z",
    "2016-03-14T01:59:00.123456789Z",
    "2016-03-14T01:59:00+02:00",
    "2016-13-14T01:59:00Z",
    "2016-03-14 01:59:00Z",
    "not a time",
    "9999-12-31T23:59:59Z",
    "",
];

const ERRORS: &[&str] = &[
    "States.ALL",
    "States.TaskFailed",
    "States.Runtime",
    "States.Timeout",
    "States.QueryEvaluationError",
    "States.NoChoiceMatched",
    "States.ExceedToleratedFailureThreshold",
    "Custom.Error",
];

/// A seeded generator of small ASL machines and inputs.
struct Generator {
    rng: StdRng,
    /// State names must be unique across the whole definition, branches included.
    next_name: usize,
}

impl Generator {
    fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            next_name: 0,
        }
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.rng.random_range(0..from.len())]
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.random_range(0..100) < percent
    }

    /// A random number, sometimes hostile (negative, fractional, huge).
    fn number(&mut self) -> Value {
        match self.rng.random_range(0..8) {
            0 => json!(-1),
            1 => json!(1.5),
            2 => json!(1e300),
            3 => json!(0),
            _ => json!(self.rng.random_range(1..5)),
        }
    }

    /// An execution input: mostly the shape the expressions above expect, sometimes not.
    fn input(&mut self) -> Value {
        if self.chance(10) {
            return self.scalar();
        }
        let items: Vec<Value> = (0..self.rng.random_range(0..6))
            .map(|_| self.scalar())
            .collect();
        let mut input = Map::new();
        input.insert(
            "a".into(),
            if self.chance(70) {
                json!({"b": self.scalar()})
            } else {
                self.scalar()
            },
        );
        input.insert(
            "items".into(),
            if self.chance(85) {
                Value::Array(items)
            } else {
                self.scalar()
            },
        );
        input.insert("n".into(), self.number());
        input.insert(
            "s".into(),
            json!(self.pick(&["1,2,3", "{\"k\": 1}", "aGVsbG8=", "", "not json", "[1"])),
        );
        input.insert("t".into(), json!(self.pick(TIMESTAMPS)));
        Value::Object(input)
    }

    fn scalar(&mut self) -> Value {
        match self.rng.random_range(0..6) {
            0 => Value::Null,
            1 => json!(self.chance(50)),
            2 => self.number(),
            3 => json!("x"),
            4 => json!([1, 2, 2]),
            _ => json!({"k": [1, {"z": null}]}),
        }
    }

    /// A payload template for Parameters / ResultSelector / ItemSelector / Assign.
    fn template(&mut self) -> Value {
        let mut template = Map::new();
        for i in 0..self.rng.random_range(0..4) {
            match self.rng.random_range(0..4) {
                0 => template.insert(format!("p{i}.$"), json!(self.pick(PATHS))),
                1 => template.insert(format!("p{i}.$"), json!(self.pick(INTRINSICS))),
                2 => template.insert(format!("p{i}"), self.scalar()),
                _ => template.insert(format!("p{i}"), self.template()),
            };
        }
        Value::Object(template)
    }

    /// A JSONata field value: an expression, or an object/array holding some.
    fn jsonata_value(&mut self) -> Value {
        match self.rng.random_range(0..4) {
            0 => json!({"v": self.pick(JSONATA), "w": [self.pick(JSONATA), 1]}),
            1 => self.scalar(),
            _ => json!(self.pick(JSONATA)),
        }
    }

    /// Retry and Catch arrays (Catch targets are states of the enclosing machine).
    fn error_handling(&mut self, state: &mut Map<String, Value>, names: &[&str]) {
        if self.chance(40) {
            let retriers: Vec<Value> = (0..self.rng.random_range(1..3))
                .map(|_| {
                    json!({
                        "ErrorEquals": [self.pick(&ERRORS[1..])],
                        "IntervalSeconds": self.rng.random_range(1..5),
                        "MaxAttempts": self.rng.random_range(0..4),
                        "BackoffRate": 1.5,
                        "JitterStrategy": self.pick(&["FULL", "NONE"]),
                    })
                })
                .collect();
            state.insert("Retry".into(), Value::Array(retriers));
        }
        if self.chance(40) {
            state.insert(
                "Catch".into(),
                json!([{"ErrorEquals": [self.pick(ERRORS)], "Next": self.pick(names)}]),
            );
        }
    }

    /// A machine (the top level, a branch or an ItemProcessor), `depth` levels down: a chain
    /// of states, each flowing to the next. Choice rules and Catchers may jump anywhere in the
    /// chain, which makes cycles without making any state unreachable.
    fn machine(&mut self, depth: usize, jsonata: bool) -> Value {
        let count = self.rng.random_range(1..=4);
        let names: Vec<String> = (0..count)
            .map(|_| {
                self.next_name += 1;
                format!("S{}", self.next_name)
            })
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut states = Map::new();
        for (i, name) in refs.iter().enumerate() {
            let next = refs.get(i + 1).copied();
            states.insert((*name).to_owned(), self.state(&refs, next, depth, jsonata));
        }
        json!({"StartAt": refs[0], "States": states})
    }

    /// One state. `next` is the natural successor (`None`: this is the last state).
    fn state(&mut self, names: &[&str], next: Option<&str>, depth: usize, jsonata: bool) -> Value {
        let mut kinds = vec!["Pass", "Wait", "Task"];
        if depth < 3 {
            kinds.extend(["Map", "Parallel"]);
        }
        // A Choice needs somewhere to go by default, so it never comes last; Succeed and Fail
        // end the chain, so they only come last (else what follows is unreachable).
        if next.is_some() {
            kinds.push("Choice");
        } else {
            kinds.extend(["Succeed", "Fail"]);
        }
        let kind = self.pick(&kinds);
        let mut state = Map::new();
        state.insert("Type".into(), json!(kind));
        let flows = !matches!(kind, "Choice" | "Succeed" | "Fail");
        if flows {
            match next {
                Some(target) => state.insert("Next".into(), json!(target)),
                None => state.insert("End".into(), json!(true)),
            };
        }
        match kind {
            "Pass" => self.pass(&mut state, jsonata),
            "Choice" => self.choice(&mut state, names, next, jsonata),
            "Wait" => self.wait(&mut state, jsonata),
            "Fail" => self.fail(&mut state, jsonata),
            "Task" => {
                state.insert("Resource".into(), json!(self.pick(RESOURCES)));
                if self.chance(30) {
                    state.insert(
                        "TimeoutSeconds".into(),
                        json!(self.rng.random_range(1..100)),
                    );
                }
                self.io(&mut state, jsonata);
                self.error_handling(&mut state, names);
            }
            "Map" => {
                state.insert("ItemProcessor".into(), self.machine(depth + 1, jsonata));
                if jsonata {
                    if self.chance(60) {
                        state.insert("Items".into(), json!(self.pick(JSONATA)));
                    }
                } else if self.chance(60) {
                    state.insert("ItemsPath".into(), json!(self.pick(PATHS)));
                }
                if self.chance(30) {
                    state.insert("MaxConcurrency".into(), json!(self.rng.random_range(0..3)));
                }
                if self.chance(30) {
                    state.insert(
                        "ToleratedFailureCount".into(),
                        json!(self.rng.random_range(0..3)),
                    );
                }
                if self.chance(20) {
                    state.insert(
                        "ToleratedFailurePercentage".into(),
                        json!(self.rng.random_range(0..101)),
                    );
                }
                self.io(&mut state, jsonata);
                self.error_handling(&mut state, names);
            }
            "Parallel" => {
                let branches: Vec<Value> = (0..self.rng.random_range(1..4))
                    .map(|_| self.machine(depth + 1, jsonata))
                    .collect();
                state.insert("Branches".into(), Value::Array(branches));
                self.io(&mut state, jsonata);
                self.error_handling(&mut state, names);
            }
            _ => {}
        }
        if flows && self.chance(25) {
            let assign = if jsonata {
                json!({"x": self.jsonata_value()})
            } else {
                json!({"x": self.scalar(), "y.$": self.pick(PATHS)})
            };
            state.insert("Assign".into(), assign);
        }
        Value::Object(state)
    }

    /// Input/output processing fields of the state's query language.
    fn io(&mut self, state: &mut Map<String, Value>, jsonata: bool) {
        if jsonata {
            // Only Task and Parallel take Arguments: an object or one expression.
            let takes_arguments = matches!(
                state.get("Type").and_then(Value::as_str),
                Some("Task" | "Parallel")
            );
            if takes_arguments && self.chance(40) {
                let arguments = if self.chance(50) {
                    json!({"v": self.pick(JSONATA), "k": self.scalar()})
                } else {
                    json!(self.pick(JSONATA))
                };
                state.insert("Arguments".into(), arguments);
            }
            if self.chance(40) {
                state.insert("Output".into(), self.jsonata_value());
            }
            return;
        }
        if self.chance(25) {
            state.insert("InputPath".into(), json!(self.pick(PATHS)));
        }
        if self.chance(40) {
            state.insert("Parameters".into(), self.template());
        }
        if self.chance(25) && state.get("Type") != Some(&json!("Pass")) {
            state.insert("ResultSelector".into(), self.template());
        }
        if self.chance(30) {
            let path = self.pick(&["$.r", "$.a.b", "$.items[0]", "$.s.x", "$"]);
            state.insert("ResultPath".into(), json!(path));
        }
        if self.chance(20) {
            state.insert("OutputPath".into(), json!(self.pick(PATHS)));
        }
    }

    fn pass(&mut self, state: &mut Map<String, Value>, jsonata: bool) {
        if !jsonata && self.chance(30) {
            state.insert("Result".into(), self.scalar());
        }
        self.io(state, jsonata);
    }

    fn choice(
        &mut self,
        state: &mut Map<String, Value>,
        names: &[&str],
        next: Option<&str>,
        jsonata: bool,
    ) {
        // The rule may jump anywhere (a cycle when it jumps back); the default keeps the chain.
        let target = self.pick(names);
        let rule = if jsonata {
            json!({"Condition": self.pick(JSONATA), "Next": target})
        } else {
            let operator = self.pick(&[
                "NumericGreaterThan",
                "StringEquals",
                "BooleanEquals",
                "TimestampLessThan",
                "IsPresent",
                "IsNumeric",
                "StringMatches",
                "NumericEqualsPath",
            ]);
            let operand = match operator {
                "StringEquals" => json!("x"),
                "BooleanEquals" | "IsPresent" | "IsNumeric" => json!(self.chance(50)),
                "TimestampLessThan" => json!("2020-01-01T00:00:00Z"),
                "StringMatches" => json!("*x*"),
                "NumericEqualsPath" => json!(self.pick(PATHS)),
                _ => json!(2),
            };
            let mut rule = Map::new();
            rule.insert("Variable".into(), json!(self.pick(PATHS)));
            rule.insert(operator.into(), operand);
            rule.insert("Next".into(), json!(target));
            if self.chance(30) {
                json!({"Not": {"Variable": "$.n", "IsNull": false}, "Next": target})
            } else {
                Value::Object(rule)
            }
        };
        state.insert("Choices".into(), json!([rule]));
        if let Some(next) = next {
            state.insert("Default".into(), json!(next));
        }
        if jsonata && self.chance(30) {
            state.insert("Output".into(), self.jsonata_value());
        }
    }

    fn wait(&mut self, state: &mut Map<String, Value>, jsonata: bool) {
        if jsonata {
            if self.chance(50) {
                let seconds = if self.chance(50) {
                    json!(self.pick(JSONATA))
                } else {
                    json!(self.rng.random_range(0..100))
                };
                state.insert("Seconds".into(), seconds);
            } else {
                let timestamp = if self.chance(50) {
                    self.pick(JSONATA)
                } else {
                    self.pick(&TIMESTAMPS[..3])
                };
                state.insert("Timestamp".into(), json!(timestamp));
            }
            return;
        }
        match self.rng.random_range(0..4) {
            0 => state.insert("Seconds".into(), json!(self.rng.random_range(0..1000))),
            1 => state.insert(
                "SecondsPath".into(),
                json!(self.pick(&["$.n", "$.s", "$.missing"])),
            ),
            2 => state.insert("Timestamp".into(), json!(self.pick(&TIMESTAMPS[..3]))),
            _ => state.insert(
                "TimestampPath".into(),
                json!(self.pick(&["$.t", "$.n", "$.missing"])),
            ),
        };
    }

    fn fail(&mut self, state: &mut Map<String, Value>, jsonata: bool) {
        if jsonata {
            state.insert(
                "Error".into(),
                json!(self.pick(&["E", "{% $states.input.s %}", "{% 1 %}"])),
            );
            state.insert(
                "Cause".into(),
                json!(self.pick(&["C", "{% $string($states.input) %}"])),
            );
            return;
        }
        if self.chance(50) {
            state.insert("Error".into(), json!("E"));
        } else {
            state.insert(
                "ErrorPath".into(),
                json!(self.pick(&["$.s", "$.n", "$.missing", "States.Format('e{}', $.n)"])),
            );
        }
        if self.chance(50) {
            state.insert("CausePath".into(), json!(self.pick(&["$.s", "$.a"])));
        }
    }

    /// A whole top-level machine, sometimes with a definition-level TimeoutSeconds.
    fn top_level(&mut self) -> Value {
        let jsonata = self.chance(40);
        let mut machine = self.machine(0, jsonata);
        if let Value::Object(m) = &mut machine {
            // The query language is set once, at the top: branches inherit it.
            if jsonata {
                m.insert("QueryLanguage".into(), json!("JSONata"));
            }
            if self.chance(15) {
                m.insert(
                    "TimeoutSeconds".into(),
                    json!(self.rng.random_range(1..600)),
                );
            }
        }
        machine
    }

    /// Replaces one random node of `value` with a random scalar, template or expression.
    fn mutate(&mut self, value: &mut Value) {
        let children = match value {
            Value::Object(m) => m.len(),
            Value::Array(a) => a.len(),
            _ => 0,
        };
        if children == 0 || self.chance(20) {
            *value = match self.rng.random_range(0..4) {
                0 => self.scalar(),
                1 => json!(self.pick(PATHS)),
                2 => json!(self.pick(JSONATA)),
                _ => self.template(),
            };
            return;
        }
        let pick = self.rng.random_range(0..children);
        let child = match value {
            Value::Object(m) => m.values_mut().nth(pick),
            Value::Array(a) => a.get_mut(pick),
            _ => None,
        };
        if let Some(child) = child {
            self.mutate(child);
        }
    }
}

/// Task handlers: `echo` returns its payload, `boom` fails with a custom error. `missing` is
/// left unregistered on purpose (a `States.Runtime` error, not a panic).
fn tasks() -> Arc<TaskRegistry> {
    let mut registry = TaskRegistry::new();
    // Registered by bare function name: the registry resolves the ARNs in RESOURCES to them.
    registry.register(
        "echo",
        Arc::new(|payload: Value| async move { Ok(payload) }),
    );
    registry.register(
        "boom",
        Arc::new(|_payload: Value| async move {
            Err(StatesError::new(
                "Custom.Error",
                "the task failed on purpose",
            ))
        }),
    );
    Arc::new(registry)
}

/// Runs one execution on its own thread, bounded by [`RUN_BOUND`].
fn run_bounded(machine: StateMachine, input: Value, seed: u64) -> Result<ExecutionResult, String> {
    let (sender, receiver) = mpsc::channel();
    let options = ExecutionOptions {
        seed,
        tasks: tasks(),
        ..Default::default()
    };
    let worker = std::thread::Builder::new()
        .name(format!("robustness-{seed}"))
        .stack_size(64 * 1024 * 1024)
        .spawn(move || {
            let result = futures::executor::block_on(machine.execute(input, &options));
            // The receiver is gone only after a timeout, which is reported already.
            let _ = sender.send(result);
        })
        .map_err(|e| format!("could not start a worker thread: {e}"))?;
    let started = Instant::now();
    match receiver.recv_timeout(RUN_BOUND) {
        Ok(result) => {
            let _ = worker.join();
            Ok(result)
        }
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "HANG: no result after {:?} (the thread is left running)",
            started.elapsed()
        )),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let panic = worker.join().err().map(|payload| {
                payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "a non-string panic payload".to_owned())
            });
            Err(format!(
                "PANIC: {}",
                panic.unwrap_or_else(|| "the worker ended without a result".to_owned())
            ))
        }
    }
}

/// What every outcome must satisfy, whatever the definition did.
fn check_contract(result: &ExecutionResult) -> Result<(), String> {
    match result.status {
        ExecutionStatus::Succeeded if result.output.is_none() => {
            Err("SUCCEEDED without an output".into())
        }
        ExecutionStatus::Failed | ExecutionStatus::TimedOut
            if result.error.is_none() && result.cause.is_none() =>
        {
            Err(format!("{:?} with neither error nor cause", result.status))
        }
        _ => {
            let last = result
                .history
                .last()
                .and_then(|e| e["type"].as_str())
                .unwrap_or("");
            if !last.starts_with("Execution") {
                return Err(format!(
                    "the history does not end with an Execution event: {last}"
                ));
            }
            Ok(())
        }
    }
}

/// The seeds to run: `ROBUSTNESS_SEED=<n>` replays one, else a fixed range (reproducible).
fn seeds() -> Vec<u64> {
    match std::env::var("ROBUSTNESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => vec![seed],
        None => (0..MACHINES as u64).collect(),
    }
}

#[test]
fn random_and_mutated_machines_never_panic_or_hang() {
    let mut tally = [0usize; 5]; // invalid, succeeded, failed, timed out, runs
    let mut problems = Vec::new();
    let started = Instant::now();
    for seed in seeds() {
        let mut generator = Generator::new(seed);
        let mut definition = generator.top_level();
        // Every other machine is mutated once, which mostly makes it invalid (the validator
        // must say so) and sometimes valid in a way no generator rule would produce.
        if seed % 2 == 1 {
            generator.mutate(&mut definition);
        }
        let machine = match StateMachine::from_value(&definition) {
            Ok(machine) => machine,
            Err(diagnostics) => {
                if diagnostics.is_empty() {
                    problems.push(format!(
                        "seed {seed}: rejected without a diagnostic\n{definition}"
                    ));
                }
                if std::env::var("ROBUSTNESS_VERBOSE").is_ok() {
                    println!(
                        "seed {seed}: rejected: {}",
                        diagnostics
                            .first()
                            .map(|d| format!("{} {} {}", d.code, d.path, d.message))
                            .unwrap_or_default()
                    );
                }
                tally[0] += 1;
                continue;
            }
        };
        for run in 0..3u64 {
            let input = generator.input();
            tally[4] += 1;
            match run_bounded(machine.clone(), input.clone(), seed * 3 + run) {
                Ok(result) => {
                    match result.status {
                        ExecutionStatus::Succeeded => tally[1] += 1,
                        ExecutionStatus::TimedOut => tally[3] += 1,
                        _ => tally[2] += 1,
                    }
                    if let Err(broken) = check_contract(&result) {
                        problems.push(format!("seed {seed} run {run}: {broken}\n  definition: {definition}\n  input: {input}"));
                    }
                }
                Err(problem) => {
                    problems.push(format!("seed {seed} run {run}: {problem}\n  definition: {definition}\n  input: {input}"));
                }
            }
        }
    }
    println!(
        "robustness: {} machines rejected by the validator, {} runs: {} succeeded, {} failed, {} timed out, in {:?}",
        tally[0],
        tally[4],
        tally[1],
        tally[2],
        tally[3],
        started.elapsed()
    );
    assert!(
        tally[4] > 0,
        "no generated machine was valid: the generator is broken"
    );
    assert!(
        tally[1] > 0 && tally[2] > 0,
        "the runs should both succeed and fail: {tally:?}"
    );
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Hostile shapes the random generator reaches only rarely, each checked on its own.
#[test]
fn hostile_definitions_end_with_an_error_not_a_crash() {
    let deep_parallel = (0..30).fold(json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}), |inner, _| {
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [inner], "End": true}}})
    });
    let cases = [
        // A cycle without a Wait: runs until the history limit.
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}}),
        // A cycle through a Map: each round adds iteration events.
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "ResultPath": null, "Next": "M"}}}),
        // Endless retries of a failing task.
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": RESOURCES[1], "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 99999999, "IntervalSeconds": 1, "BackoffRate": 1.0}], "End": true}}}),
        // A huge intrinsic range and a huge JSONata range.
        json!({"StartAt": "R", "States": {"R": {"Type": "Pass", "Parameters": {"r.$": "States.ArrayRange(0, 999999999, 1)"}, "End": true}}}),
        json!({"QueryLanguage": "JSONata", "StartAt": "R", "States": {"R": {"Type": "Pass", "Output": "{% [0..99999999] %}", "End": true}}}),
        // Unbounded recursion in JSONata.
        json!({"QueryLanguage": "JSONata", "StartAt": "R", "States": {"R": {"Type": "Pass", "Output": "{% ($f := function($n) { $f($n + 1) }; $f(0)) %}", "End": true}}}),
        deep_parallel,
    ];
    for (i, definition) in cases.into_iter().enumerate() {
        let machine = match StateMachine::from_value(&definition) {
            Ok(machine) => machine,
            // Rejecting at load time (the nesting is beyond the validator's depth bound) is
            // as good as failing at run time, provided it says why.
            Err(diagnostics) => {
                assert!(
                    !diagnostics.is_empty(),
                    "case {i} rejected without a diagnostic"
                );
                continue;
            }
        };
        let result = run_bounded(machine, json!({"items": [1, 2, 3]}), i as u64)
            .unwrap_or_else(|problem| panic!("case {i}: {problem}\n{definition}"));
        check_contract(&result).unwrap_or_else(|broken| panic!("case {i}: {broken}"));
        if i < 6 {
            assert_ne!(
                result.status,
                ExecutionStatus::Succeeded,
                "case {i} must end in an error: {definition}"
            );
            assert!(
                result
                    .error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("States.") || e == "Custom.Error"),
                "case {i}: {:?} {:?}",
                result.error,
                result.cause
            );
        }
    }
}
