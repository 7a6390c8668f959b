//! The interpreter: walks a [`Definition`] from `StartAt`, state by state, on the virtual clock.
//!
//! Layout: this module holds the execution-wide state (`Run`) and the per-thread state
//! (`Flow`), the state loop and the dispatch; `io` holds input/output processing in both query
//! languages, `simple` the Pass/Choice/Wait/Fail/Succeed states, `task` the Task state,
//! `branches` Parallel and Map, `retry` Retry/Catch matching and backoff.
//!
//! Branches and Map iterations run one after another in a fixed order, so histories and
//! results are deterministic. Their simulated time still behaves as if they ran side by side:
//! each starts at its parent's instant and the parent resumes at the latest end.

mod branches;
mod failure;
mod io;
mod payload_template;
pub mod retry;
mod simple;
mod task;
pub mod test_state;

use std::time::Duration;

use futures::future::BoxFuture;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Map, Value, json};

use crate::clock::VirtualClock;
use crate::engine::io::Eval;
use crate::execution::{
    ExecutionOptions, ExecutionResult, ExecutionStatus, MachineType, StateVisit,
};
use crate::history::{self, History};
use crate::model::{Definition, QueryLanguage, State, StateKind};
use crate::random::RandomSource;

pub use failure::Failure;

/// AWS's quota on a state's input or output: 256 KiB.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// AWS's quota on the events of one (Standard) execution. Reaching it ends the execution, so a
/// `Next` cycle without a Wait cannot run forever.
pub const MAX_HISTORY_EVENTS: u64 = 25_000;
/// How deep Map and Parallel states may nest before the execution fails instead of recursing.
/// The validator and [`Definition::from_value`] already bound the JSON depth; this guards
/// models built some other way.
pub const MAX_NESTING_DEPTH: usize = 40;
/// Express executions end after five minutes.
pub const EXPRESS_TIME_LIMIT: Duration = Duration::from_secs(300);

/// Execution-wide state.
pub(crate) struct Run<'o> {
    pub options: &'o ExecutionOptions,
    pub clock: VirtualClock,
    pub history: History,
    pub rng: StdRng,
    /// What expressions draw random values from, seeded from [`ExecutionOptions::seed`] so a
    /// run is reproducible (a stream of its own, so Retry jitter stays as it was).
    pub random: RandomSource,
    pub visits: Vec<StateVisit>,
    /// `$$.Execution` and `$$.StateMachine`.
    pub execution_context: Map<String, Value>,
    /// When the whole execution times out (the definition's TimeoutSeconds, Express's limit).
    pub deadline: Option<Duration>,
}

impl Run<'_> {
    /// The evaluator a state's fields are resolved with: its context object and the variables
    /// in scope, over this run's JSONata engine and seeded random source.
    pub(crate) fn eval<'a>(
        &'a self,
        language: QueryLanguage,
        context: &'a Value,
        variables: &'a Map<String, Value>,
    ) -> Eval<'a> {
        Eval {
            context,
            variables,
            engine: &*self.options.jsonata,
            random: &self.random,
            language,
        }
    }
}

/// One thread of control: the top level, a Parallel branch or a Map iteration.
#[derive(Debug, Clone)]
pub(crate) struct Flow {
    /// Simulated time since the execution started.
    pub now: Duration,
    /// The event the next event of this flow follows (`previousEventId`).
    pub cursor: u64,
    /// Variables in scope. A branch starts with a copy of its parent's, so what it assigns
    /// stays inside it.
    pub variables: Map<String, Value>,
    pub query_language: QueryLanguage,
    pub depth: usize,
    /// When a sibling Parallel branch failed: this flow is stopped at that instant. States
    /// entered until then run; waits and retry backoffs that would pass it end the flow.
    pub stop_at: Option<Duration>,
}

impl Run<'_> {
    /// The context object (`$$`, `$states.context`) for the state being run; `null` when the
    /// state never reads it (building it for every state costs more than all else it does).
    pub fn context(&self, entered: &Entered<'_>, retry_count: Option<u32>) -> Value {
        if !entered.uses_context {
            return Value::Null;
        }
        let mut ctx = self.execution_context.clone();
        let mut state = Map::new();
        state.insert("Name".into(), json!(entered.name));
        state.insert("EnteredTime".into(), json!(self.clock.format(entered.at)));
        if let Some(count) = retry_count {
            state.insert("RetryCount".into(), json!(count));
        }
        ctx.insert("State".into(), Value::Object(state));
        Value::Object(ctx)
    }

    pub fn push(
        &mut self,
        event_type: &str,
        previous: u64,
        at: Duration,
        details: Option<(&str, Value)>,
    ) -> u64 {
        self.history.push(event_type, previous, at, details)
    }
}

/// The seed of an execution's expression random source: derived from the execution's seed so
/// it differs from the Retry jitter stream, which is seeded with the execution's seed itself.
fn expression_seed(seed: u64) -> u64 {
    // Any fixed constant separates the streams; this one is the golden ratio's bits.
    seed ^ 0x9E37_79B9_7F4A_7C15
}

/// Runs one execution of `definition`.
pub async fn run(
    definition: &Definition,
    input: Value,
    options: &ExecutionOptions,
) -> ExecutionResult {
    let clock = VirtualClock::new(options.start_time);
    let region = "us-east-1";
    let account = "123456789012";
    let machine_arn = format!(
        "arn:aws:states:{region}:{account}:stateMachine:{}",
        options.state_machine_name
    );
    let execution_arn = format!(
        "arn:aws:states:{region}:{account}:execution:{}:{}",
        options.state_machine_name, options.name
    );
    let role_arn = format!(
        "arn:aws:iam::{account}:role/StepFunctions-{}-role",
        options.state_machine_name
    );
    let mut execution = json!({
        "Id": execution_arn,
        "Input": input,
        "StartTime": clock.format(Duration::ZERO),
        "Name": options.name,
        "RoleArn": role_arn,
    });
    // Express executions cannot be redriven, and their context object has no RedriveCount.
    if options.machine_type == MachineType::Standard
        && let Value::Object(execution) = &mut execution
    {
        execution.insert("RedriveCount".into(), json!(0));
    }
    let mut execution_context = Map::new();
    execution_context.insert("Execution".into(), execution);
    execution_context.insert(
        "StateMachine".into(),
        json!({"Id": machine_arn, "Name": options.state_machine_name}),
    );

    let mut deadline = definition.timeout_seconds.map(Duration::from_secs);
    if options.machine_type == MachineType::Express {
        deadline = Some(deadline.map_or(EXPRESS_TIME_LIMIT, |d| d.min(EXPRESS_TIME_LIMIT)));
    }

    let mut run = Run {
        options,
        clock,
        history: History::new(clock),
        rng: StdRng::seed_from_u64(options.seed),
        random: RandomSource::seeded(expression_seed(options.seed)),
        visits: Vec::new(),
        execution_context,
        deadline,
    };
    run.push(
        "ExecutionStarted",
        0,
        Duration::ZERO,
        Some((
            "executionStartedEventDetails",
            json!({"input": history::json_text(&input), "inputDetails": {"truncated": false}, "roleArn": role_arn}),
        )),
    );
    let mut flow = Flow {
        now: Duration::ZERO,
        cursor: 0,
        variables: Map::new(),
        query_language: definition.query_language.unwrap_or_default(),
        depth: 0,
        stop_at: None,
    };

    let outcome = if history::json_text(&input).len() > MAX_PAYLOAD_BYTES {
        Err(Failure::new(
            crate::error::names::DATA_LIMIT_EXCEEDED,
            "The execution input exceeds the maximum number of bytes service limit.",
        ))
    } else {
        run_machine(&mut run, definition, input, &mut flow).await
    };

    let (status, output, error, cause) = match outcome {
        Ok(output) => {
            let details = json!({"output": history::json_text(&output), "outputDetails": {"truncated": false}});
            run.push(
                "ExecutionSucceeded",
                flow.cursor,
                flow.now,
                Some(("executionSucceededEventDetails", details)),
            );
            (ExecutionStatus::Succeeded, Some(output), None, None)
        }
        Err(failure) => {
            let timed_out = failure.timed_out;
            let (event, key, status) = if timed_out {
                (
                    "ExecutionTimedOut",
                    "executionTimedOutEventDetails",
                    ExecutionStatus::TimedOut,
                )
            } else {
                (
                    "ExecutionFailed",
                    "executionFailedEventDetails",
                    ExecutionStatus::Failed,
                )
            };
            run.push(event, flow.cursor, flow.now, Some((key, failure.details())));
            (status, None, failure.error, failure.cause)
        }
    };
    ExecutionResult {
        status,
        output,
        error,
        cause,
        history: run.history.into_events(),
        states: run.visits,
        duration: flow.now,
    }
}

/// Runs a machine (or branch, or iteration) from its StartAt to a terminal state.
pub(crate) fn run_machine<'a, 'o>(
    run: &'a mut Run<'o>,
    definition: &'a Definition,
    input: Value,
    flow: &'a mut Flow,
) -> BoxFuture<'a, Result<Value, Failure>> {
    Box::pin(async move {
        if let Some(language) = definition.query_language {
            flow.query_language = language;
        }
        let mut current = definition.start_at.as_str();
        let mut input = input;
        loop {
            let Some(state) = definition.state(current) else {
                // The validator rejects unknown targets; this guards a definition built around it.
                return Err(Failure::new(
                    crate::error::names::RUNTIME,
                    format!("The state machine has no state named '{current}'."),
                ));
            };
            check_history_limit(run)?;
            check_deadline(run, flow)?;
            if flow.stop_at.is_some_and(|stop| flow.now > stop) {
                return Err(Failure::stopped());
            }
            let visit_index = run.visits.len();
            let entered_after = flow.now;
            run.visits.push(StateVisit {
                name: current.to_owned(),
                state_type: state.type_name().to_owned(),
                entered_after,
                duration: Duration::ZERO,
            });
            let step = run_state(run, current, state, input, flow).await;
            if let Some(visit) = run.visits.get_mut(visit_index) {
                visit.duration = flow.now.saturating_sub(entered_after);
            }
            let step = step?;
            check_deadline(run, flow)?;
            match step.next {
                Some(next) => {
                    let Some((key, _)) = definition.states.get_key_value(next.as_str()) else {
                        return Err(Failure::new(
                            crate::error::names::RUNTIME,
                            format!("The state machine has no state named '{next}'."),
                        ));
                    };
                    current = key.as_str();
                    input = step.output;
                }
                None => return Ok(step.output),
            }
        }
    })
}

/// Ends the execution once its history reaches AWS's event quota: the bound on `Next` cycles,
/// endless retries and oversized inline Maps.
pub(crate) fn check_history_limit(run: &Run<'_>) -> Result<(), Failure> {
    if run.history.last_id() >= MAX_HISTORY_EVENTS {
        return Err(Failure::new(
            crate::error::names::RUNTIME,
            format!(
                "The execution reached the maximum number of history events ({MAX_HISTORY_EVENTS}): \
                 a Next cycle that never exits, endless retries or a very large inline Map end here."
            ),
        )
        .terminal());
    }
    Ok(())
}

/// Fails with States.Timeout once simulated time passes the execution's deadline.
fn check_deadline(run: &Run<'_>, flow: &Flow) -> Result<(), Failure> {
    match run.deadline {
        Some(deadline) if flow.now > deadline => Err(Failure::execution_timeout(deadline)),
        _ => Ok(()),
    }
}

/// What a state hands to the loop: its output and where to go (`None` = the end).
#[derive(Debug)]
pub(crate) struct Step {
    pub output: Value,
    pub next: Option<String>,
}

impl Step {
    fn after(state: &State, output: Value) -> Step {
        Step {
            output,
            next: if state.common.end {
                None
            } else {
                state.common.next.clone()
            },
        }
    }
}

/// Enters one state, runs it and records its events.
async fn run_state(
    run: &mut Run<'_>,
    name: &str,
    state: &State,
    input: Value,
    flow: &mut Flow,
) -> Result<Step, Failure> {
    let language = state.common.query_language.unwrap_or(flow.query_language);
    let entered_event = format!("{}StateEntered", state.type_name());
    let entered_prev = flow.cursor;
    let entered_id = run.push(
        &entered_event,
        entered_prev,
        flow.now,
        Some((
            "stateEnteredEventDetails",
            history::state_entered(name, &input),
        )),
    );
    flow.cursor = entered_id;
    let entered = Entered {
        name,
        id: entered_id,
        prev: entered_prev,
        at: flow.now,
        language,
        state_type: state.type_name(),
        uses_context: state.uses_context,
    };

    let result = match &state.kind {
        StateKind::Pass(pass) => simple::pass(run, &entered, state, pass, input, flow),
        StateKind::Choice(choice) => simple::choice(run, &entered, state, choice, input, flow),
        StateKind::Wait(wait) => simple::wait(run, &entered, state, wait, input, flow).await,
        StateKind::Succeed => simple::succeed(run, &entered, state, input, flow),
        StateKind::Fail(fail) => simple::fail(run, &entered, fail, input, flow),
        StateKind::Task(task) => task::task(run, &entered, state, task, input, flow).await,
        StateKind::Parallel(parallel) => {
            branches::parallel(run, &entered, state, parallel, input, flow).await
        }
        StateKind::Map(map) => branches::map(run, &entered, state, map, input, flow).await,
    };
    result.map_err(|failure| record_failure(run, &entered, failure, flow))
}

/// Words an evaluation error as AWS does for the state it happened in and, for a JSONata
/// evaluation error, records the `EvaluationFailed` event (once).
pub(crate) fn record_failure(
    run: &mut Run<'_>,
    entered: &Entered<'_>,
    failure: Failure,
    flow: &mut Flow,
) -> Failure {
    let mut failure = failure.in_state(entered);
    if failure.error.as_deref() == Some(crate::error::names::QUERY_EVALUATION_ERROR)
        && !failure.evaluation_reported
    {
        failure.evaluation_reported = true;
        let mut details = Map::new();
        if let Some(cause) = &failure.cause {
            details.insert("cause".into(), json!(cause));
        }
        details.insert(
            "error".into(),
            json!(crate::error::names::QUERY_EVALUATION_ERROR),
        );
        if let Some(location) = failure.evaluation_location() {
            details.insert("location".into(), json!(location));
        }
        details.insert("state".into(), json!(entered.name));
        // AWS links a Wait state's EvaluationFailed to its Entered event, the others to the
        // event before it (as recorded).
        let previous = if entered.state_type == "Wait" {
            entered.id
        } else {
            entered.prev
        };
        flow.cursor = run.push(
            "EvaluationFailed",
            previous,
            flow.now,
            Some(("evaluationFailedEventDetails", Value::Object(details))),
        );
    }
    failure
}

/// The state being run: its name, its Entered event and query language.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entered<'n> {
    pub name: &'n str,
    pub id: u64,
    /// previousEventId of the Entered event.
    pub prev: u64,
    pub at: Duration,
    pub language: QueryLanguage,
    pub state_type: &'static str,
    /// The state's definition mentions `$$` or `$states` (see [`State::uses_context`]).
    pub uses_context: bool,
}

/// Records `<Type>StateExited` and checks the output's size, then moves on.
pub(crate) fn exit_state(
    run: &mut Run<'_>,
    entered: &Entered<'_>,
    state: &State,
    output: Value,
    assigned: Option<Map<String, Value>>,
    next: Option<String>,
    flow: &mut Flow,
) -> Result<Step, Failure> {
    if history::json_text(&output).len() > MAX_PAYLOAD_BYTES {
        return Err(Failure::new(
            crate::error::names::DATA_LIMIT_EXCEEDED,
            format!(
                "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                entered.name
            ),
        )
        .terminal());
    }
    if let Some(assigned) = &assigned {
        for (k, v) in assigned {
            flow.variables.insert(k.clone(), v.clone());
        }
    }
    let event = format!("{}StateExited", state.type_name());
    let details = history::state_exited(entered.name, &output, assigned.as_ref());
    flow.cursor = run.push(
        &event,
        flow.cursor,
        flow.now,
        Some(("stateExitedEventDetails", details)),
    );
    let mut step = Step::after(state, output);
    if next.is_some() {
        step.next = next;
    }
    Ok(step)
}

#[cfg(test)]
mod tests;
