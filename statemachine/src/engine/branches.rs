//! Parallel and Map: states that run whole sub-machines.
//!
//! Branches and iterations run one after another, in order, so the history and the output are
//! deterministic; each starts at its parent's simulated instant and the parent resumes at the
//! latest end, as if they had run side by side (up to MaxConcurrency at a time for Map).

use serde_json::{Map, Value, json};

use super::io::{Eval, raw_text};
use super::retry::{self, RetryCounter};
use super::{
    Entered, Failure, Flow, MAX_NESTING_DEPTH, Run, Step, exit_state, record_failure, run_machine,
    simple,
};
use crate::error::names;
use crate::history::{History, json_text};
use crate::model::{Definition, MapState, ParallelState, QueryLanguage, State};

/// Runs `attempt` under the state's Retry and Catch.
macro_rules! with_retry {
    ($run:ident, $entered:ident, $state:ident, $input:ident, $flow:ident, $n:ident => $attempt:expr) => {{
        let mut counter = RetryCounter::new(&$state.common.retry);
        loop {
            let $n = counter.total();
            match $attempt.await {
                Ok(step) => return Ok(step),
                Err(failure) => {
                    // A States.Runtime error of the state itself (not of a branch) ends the
                    // execution without a <Type>StateFailed event, as recorded.
                    let own_runtime = !failure.located && failure.name() == names::RUNTIME;
                    let failure = record_failure($run, $entered, failure, $flow);
                    if failure.timed_out || failure.stopped {
                        return Err(failure);
                    }
                    if let Some(delay) =
                        counter.next_delay(&$state.common.retry, &failure, &mut $run.rng)
                    {
                        simple::pause($run, $flow, delay).await?;
                        super::check_history_limit($run)?;
                        continue;
                    }
                    if !own_runtime {
                        let failed = format!("{}StateFailed", $state.type_name());
                        $flow.cursor = $run.push(&failed, $flow.cursor, $flow.now, None);
                    }
                    return retry::catch($run, $entered, $state, &$input, failure, $flow);
                }
            }
        }
    }};
}

/// A child flow for a branch or iteration: same instant, a copy of the variables (what it
/// assigns stays inside), its own cursor.
fn child_flow(flow: &Flow, cursor: u64, language: QueryLanguage) -> Result<Flow, Failure> {
    if flow.depth >= MAX_NESTING_DEPTH {
        return Err(Failure::new(
            names::RUNTIME,
            format!(
                "Map and Parallel states are nested more than {MAX_NESTING_DEPTH} levels deep."
            ),
        ));
    }
    Ok(Flow {
        now: flow.now,
        cursor,
        variables: flow.variables.clone(),
        query_language: language,
        depth: flow.depth + 1,
        stop_at: flow.stop_at,
    })
}

pub(super) async fn parallel(
    run: &mut Run<'_>,
    entered: &Entered<'_>,
    state: &State,
    parallel: &ParallelState,
    input: Value,
    flow: &mut Flow,
) -> Result<Step, Failure> {
    with_retry!(run, entered, state, input, flow, n => parallel_attempt(run, entered, state, parallel, &input, flow, n))
}

async fn parallel_attempt(
    run: &mut Run<'_>,
    entered: &Entered<'_>,
    state: &State,
    parallel: &ParallelState,
    input: &Value,
    flow: &mut Flow,
    retry_count: u32,
) -> Result<Step, Failure> {
    let context = run.context(entered, Some(retry_count));
    let branch_input = {
        let eval = run.eval(entered.language, &context, &flow.variables);
        match entered.language {
            QueryLanguage::JsonPath => {
                let effective = eval.input_path(&state.common, input)?;
                match &state.common.parameters {
                    Some(parameters) => eval.template(parameters, &effective, "Parameters")?,
                    None => effective,
                }
            }
            QueryLanguage::Jsonata => match &state.common.arguments {
                Some(arguments) => {
                    eval.jsonata(arguments, &eval.states(input, None, None), "Arguments")?
                }
                None => input.clone(),
            },
        }
    };
    flow.cursor = run.push("ParallelStateStarted", flow.cursor, flow.now, None);
    let started_id = flow.cursor;
    let mut results = Vec::with_capacity(parallel.branches.len());
    let mut end = flow.now;
    // AWS starts every branch; when one fails, the Parallel state fails with its error and
    // the branches still running are stopped (developer guide, "Parallel workflow state":
    // "If any branch fails ... the entire Parallel state fails and all its branches are
    // stopped"). Branches run here one after another, so a branch after the failing one
    // still starts, but is stopped at the failure's simulated instant: what it entered until
    // then is recorded, a wait or backoff past it is not. (Branches before the failing one
    // already ran to their end; their events after that instant are a known approximation.)
    let mut first_failure: Option<BranchFailure> = None;
    for branch in &parallel.branches {
        let mut child = child_flow(flow, started_id, entered.language)?;
        if let Some(failed) = &first_failure {
            child.stop_at = Some(child.stop_at.map_or(failed.at, |s| s.min(failed.at)));
        }
        let outcome = run_machine(run, branch, branch_input.clone(), &mut child).await;
        end = end.max(child.now);
        match outcome {
            Ok(output) => results.push(output),
            // Stopped by an ancestor's sibling: the whole Parallel state stops with it.
            Err(failure) if failure.stopped && first_failure.is_none() => {
                flow.now = child.now;
                flow.cursor = run.history.last_id();
                return Err(failure);
            }
            // Stopped because of the sibling that failed first: nothing to report.
            Err(failure) if failure.stopped => {}
            // The whole execution timed out: nothing else runs.
            Err(failure) if failure.timed_out => {
                flow.now = child.now;
                flow.cursor = run.history.last_id();
                return Err(failure);
            }
            Err(failure) => {
                let earlier = first_failure.as_ref().is_some_and(|f| f.at <= child.now);
                if !earlier {
                    first_failure = Some(BranchFailure {
                        at: child.now,
                        cursor: child.cursor,
                        failure,
                    });
                }
            }
        }
    }
    if let Some(failed) = first_failure {
        flow.now = failed.at;
        flow.cursor = failed.cursor;
        return Err(failed.failure);
    }
    flow.now = end;
    flow.cursor = run.history.last_id();
    run.push("ParallelStateSucceeded", flow.cursor, flow.now, None);
    finish(
        run,
        entered,
        state,
        input,
        Value::Array(results),
        &context,
        flow,
    )
}

/// The Parallel branch that failed first (in simulated time), and where.
struct BranchFailure {
    at: std::time::Duration,
    /// The branch's last event: the Parallel state's Failed event follows it.
    cursor: u64,
    failure: Failure,
}

/// Output processing of a Parallel or Map result, then the Exited event.
fn finish(
    run: &mut Run<'_>,
    entered: &Entered<'_>,
    state: &State,
    input: &Value,
    result: Value,
    context: &Value,
    flow: &mut Flow,
) -> Result<Step, Failure> {
    let eval = run.eval(entered.language, context, &flow.variables);
    let (output, assigned) = match entered.language {
        QueryLanguage::JsonPath => {
            let selected = match &state.common.result_selector {
                Some(selector) => eval.template(selector, &result, "ResultSelector")?,
                None => result,
            };
            let assigned = eval.assign(state.common.assign.as_ref(), &selected, &Value::Null)?;
            let placed = eval.result_path(state.common.result_path.as_ref(), input, selected)?;
            (eval.output_path(&state.common, placed)?, assigned)
        }
        QueryLanguage::Jsonata => simple::jsonata_output(&eval, state, input, Some(&result))?,
    };
    exit_state(run, entered, state, output, assigned, None, flow)
}

pub(super) async fn map(
    run: &mut Run<'_>,
    entered: &Entered<'_>,
    state: &State,
    map: &MapState,
    input: Value,
    flow: &mut Flow,
) -> Result<Step, Failure> {
    with_retry!(run, entered, state, input, flow, n => map_attempt(run, entered, state, map, &input, flow, n))
}

/// The Map settings resolved for one attempt.
struct MapPlan {
    items: Vec<Value>,
    /// The input ItemSelector / Parameters see (after InputPath).
    effective: Value,
    max_concurrency: usize,
}

/// ToleratedFailureCount / ToleratedFailurePercentage (both unset: no failure tolerated).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Tolerance {
    pub count: Option<u64>,
    pub percentage: Option<f64>,
}

async fn map_attempt(
    run: &mut Run<'_>,
    entered: &Entered<'_>,
    state: &State,
    map: &MapState,
    input: &Value,
    flow: &mut Flow,
    retry_count: u32,
) -> Result<Step, Failure> {
    let context = run.context(entered, Some(retry_count));
    let plan = plan(run, entered, state, map, input, &context, flow)?;
    let length = plan.items.len();
    flow.cursor = run.push(
        "MapStateStarted",
        flow.cursor,
        flow.now,
        Some(("mapStateStartedEventDetails", json!({"length": length}))),
    );
    // AWS reads the failure tolerance after MapStateStarted (its errors follow that event).
    let tolerance = tolerance(run, entered, map, input, &plan.effective, &context, flow)?;

    let distributed = map.is_distributed();
    let mut parked_history = None;
    let mut map_run_started = 0;
    if distributed {
        let label = map.label.as_deref().unwrap_or(entered.name);
        let arn = format!(
            "arn:aws:states:us-east-1:123456789012:mapRun:{}/{label}:{}",
            run.options.state_machine_name, run.options.name
        );
        flow.cursor = run.push(
            "MapRunStarted",
            flow.cursor,
            flow.now,
            Some(("mapRunStartedEventDetails", json!({"mapRunArn": arn}))),
        );
        map_run_started = flow.cursor;
        // A distributed Map's iterations are child executions with their own histories.
        parked_history = Some(std::mem::replace(&mut run.history, History::new(run.clock)));
    }

    let outcome = iterate(
        run,
        entered,
        state,
        map,
        &plan,
        tolerance,
        &context,
        flow,
        distributed,
    )
    .await;

    if let Some(history) = parked_history {
        run.history = history;
        flow.cursor = map_run_started;
    }
    let results = match outcome {
        Ok(results) => results,
        Err(failure) => {
            // A Map stopped because a sibling Parallel branch failed did not fail itself.
            if distributed && !failure.stopped {
                run.push(
                    "MapRunFailed",
                    map_run_started,
                    flow.now,
                    Some(("mapRunFailedEventDetails", failure.details())),
                );
                flow.cursor = run.history.last_id();
            }
            return Err(failure);
        }
    };
    if distributed {
        let map_run_succeeded = run.push("MapRunSucceeded", map_run_started, flow.now, None);
        // Observed in every recorded history, mechanism unknown: MapStateExited follows
        // MapRunSucceeded when the Map is the first state of its flow, else MapRunStarted.
        if entered.prev == 0 {
            flow.cursor = map_run_succeeded;
        }
    } else {
        flow.cursor = run.history.last_id();
    }
    run.push("MapStateSucceeded", run.history.last_id(), flow.now, None);
    finish(
        run,
        entered,
        state,
        input,
        Value::Array(results),
        &context,
        flow,
    )
}

/// Evaluates Items/ItemsPath, MaxConcurrency and the failure tolerance.
fn plan(
    run: &Run<'_>,
    entered: &Entered<'_>,
    state: &State,
    map: &MapState,
    input: &Value,
    context: &Value,
    flow: &Flow,
) -> Result<MapPlan, Failure> {
    let eval = run.eval(entered.language, context, &flow.variables);
    if map.item_reader.is_some() {
        return Err(Failure::new(
            names::RUNTIME,
            "ItemReader is not supported by the local engine.",
        ));
    }
    let (effective, items) = match entered.language {
        QueryLanguage::JsonPath => {
            let effective = eval.input_path(&state.common, input)?;
            let items = match &map.items_path {
                Some(path) => eval.query(path, &effective, "ItemsPath")?,
                None => effective.clone(),
            };
            (effective, items)
        }
        QueryLanguage::Jsonata => {
            let states = eval.states(input, None, None);
            let items = match &map.items {
                Some(template) => eval.jsonata_typed(
                    template,
                    &states,
                    "Items",
                    crate::jsonata::ExpectedType::Array,
                )?,
                None => input.clone(),
            };
            (input.clone(), items)
        }
    };
    let Value::Array(items) = items else {
        let error = match entered.language {
            QueryLanguage::JsonPath => names::RUNTIME,
            QueryLanguage::Jsonata => names::QUERY_EVALUATION_ERROR,
        };
        return Err(Failure::new(
            error,
            format!(
                "Map state input must be an array but was: {}",
                json_text(&items)
            ),
        ));
    };

    let max_concurrency = number_field(
        &eval,
        input,
        &effective,
        map.max_concurrency.as_ref(),
        map.max_concurrency_path.as_deref(),
        "MaxConcurrency",
        "integer",
        integer,
    )?
    .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
    Ok(MapPlan {
        items,
        effective,
        max_concurrency,
    })
}

/// A whole non-negative number, or a string holding one (AWS accepts `"1"`).
pub(super) fn integer(value: &Value) -> Option<u64> {
    match value {
        Value::String(s) => s.trim().parse().ok(),
        other => other.as_u64(),
    }
}

/// A number, or a string holding one.
pub(super) fn float(value: &Value) -> Option<f64> {
    match value {
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        other => other.as_f64(),
    }
}

/// Evaluates ToleratedFailureCount(+Path) and ToleratedFailurePercentage(+Path).
fn tolerance(
    run: &Run<'_>,
    entered: &Entered<'_>,
    map: &MapState,
    input: &Value,
    effective: &Value,
    context: &Value,
    flow: &Flow,
) -> Result<Tolerance, Failure> {
    let eval = run.eval(entered.language, context, &flow.variables);
    let count = number_field(
        &eval,
        input,
        effective,
        map.tolerated_failure_count.as_ref(),
        map.tolerated_failure_count_path.as_deref(),
        "ToleratedFailureCount",
        "integer",
        integer,
    )?;
    let percentage = number_field(
        &eval,
        input,
        effective,
        map.tolerated_failure_percentage.as_ref(),
        map.tolerated_failure_percentage_path.as_deref(),
        "ToleratedFailurePercentage",
        "float",
        float,
    )?;
    if let Some(p) = percentage
        && !(0.0..=100.0).contains(&p)
    {
        return Err(Failure::new(
            names::RUNTIME,
            "ToleratedFailurePercentage must be between 0 and 100.",
        ));
    }
    Ok(Tolerance { count, percentage })
}

/// A numeric Map setting given as a literal, a JSONata template or a `...Path`.
#[allow(clippy::too_many_arguments)]
pub(super) fn number_field<T>(
    eval: &Eval<'_>,
    input: &Value,
    effective: &Value,
    literal: Option<&Value>,
    path: Option<&str>,
    field: &str,
    kind: &str,
    convert: impl Fn(&Value) -> Option<T>,
) -> Result<Option<T>, Failure> {
    if let Some(path) = path {
        let value = eval.query(path, effective, &format!("{field}Path"))?;
        return convert(&value).map(Some).ok_or_else(|| {
            Failure::new(
                names::RUNTIME,
                format!("The {field}Path field refers to value \"{}\" which is not a valid {kind}: {path}", raw_text(&value)),
            )
        });
    }
    let Some(literal) = literal else {
        return Ok(None);
    };
    let value = match (eval.language, literal) {
        (QueryLanguage::Jsonata, Value::String(_)) => {
            eval.jsonata(literal, &eval.states(input, None, None), field)?
        }
        _ => literal.clone(),
    };
    convert(&value).map(Some).ok_or_else(|| {
        let error = if eval.language == QueryLanguage::Jsonata {
            names::QUERY_EVALUATION_ERROR
        } else {
            names::RUNTIME
        };
        Failure::new(
            error,
            format!(
                "The {field} field must be a valid {kind}, but was: {}",
                raw_text(&value)
            ),
        )
    })
}

/// Runs every item through the ItemProcessor, honouring the failure tolerance.
#[allow(clippy::too_many_arguments)]
async fn iterate(
    run: &mut Run<'_>,
    entered: &Entered<'_>,
    state: &State,
    map: &MapState,
    plan: &MapPlan,
    tolerance: Tolerance,
    context: &Value,
    flow: &mut Flow,
    distributed: bool,
) -> Result<Vec<Value>, Failure> {
    let processor: &Definition = &map.item_processor;
    let slots = if plan.max_concurrency == 0 {
        plan.items.len().max(1)
    } else {
        plan.max_concurrency
    };
    // When each slot is free again, in simulated time.
    let mut free_at = vec![flow.now; slots.min(plan.items.len().max(1))];
    let mut results = Vec::with_capacity(plan.items.len());
    let mut failures: u64 = 0;
    let total = plan.items.len();
    let mut end = flow.now;
    for (index, item) in plan.items.iter().enumerate() {
        let item_input = item_input(run, entered, state, map, plan, context, flow, index, item)?;
        let slot = free_at
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| **t)
            .map_or(0, |(i, _)| i);
        let start = free_at.get(slot).copied().unwrap_or(flow.now);
        let iteration_details = json!({"index": index, "name": entered.name});
        if !distributed {
            flow.cursor = run.push(
                "MapIterationStarted",
                flow.cursor,
                start,
                Some(("mapIterationStartedEventDetails", iteration_details.clone())),
            );
        }
        let mut child = child_flow(flow, flow.cursor, entered.language)?;
        child.now = start;
        let outcome = run_machine(run, processor, item_input, &mut child).await;
        if let Some(t) = free_at.get_mut(slot) {
            *t = child.now;
        }
        end = end.max(child.now);
        flow.cursor = child.cursor;
        match outcome {
            Ok(output) => {
                if !distributed {
                    run.push(
                        "MapIterationSucceeded",
                        child.cursor,
                        child.now,
                        Some(("mapIterationSucceededEventDetails", iteration_details)),
                    );
                }
                results.push(output);
            }
            Err(failure) => {
                if failure.timed_out || failure.stopped {
                    flow.now = child.now;
                    return Err(failure);
                }
                if !distributed {
                    run.push(
                        "MapIterationFailed",
                        child.cursor,
                        child.now,
                        Some(("mapIterationFailedEventDetails", iteration_details)),
                    );
                }
                failures += 1;
                if exceeds_tolerance(failures, total, tolerance) {
                    flow.now = child.now;
                    if tolerance.count.is_some() || tolerance.percentage.is_some() {
                        return Err(Failure::new(
                            names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                            "The specified tolerated failure threshold was exceeded",
                        ));
                    }
                    return Err(failure);
                }
                results.push(failure.error_output());
            }
        }
    }
    flow.now = end;
    Ok(results)
}

/// More failures than ToleratedFailureCount or ToleratedFailurePercentage allow (none allowed
/// when neither is set).
///
/// With both set, exceeding either one fails the Map. AWS developer guide, "Setting failure
/// thresholds for Distributed Map states in Step Functions" (maprun-fail-threshold): "If you
/// specify both values, the workflow fails when it exceeds either value". The percentage is
/// the failed items over all items, so it can only grow as items fail: checking after each
/// failure gives the same verdict as checking at the end.
pub(super) fn exceeds_tolerance(failures: u64, total: usize, tolerance: Tolerance) -> bool {
    if tolerance.count.is_none() && tolerance.percentage.is_none() {
        return failures > 0;
    }
    let over_count = tolerance.count.is_some_and(|c| failures > c);
    #[allow(clippy::cast_precision_loss)]
    let over_percentage = tolerance
        .percentage
        .is_some_and(|p| total > 0 && (failures as f64) * 100.0 / (total as f64) > p);
    over_count || over_percentage
}

/// One item's input: ItemSelector (or legacy Parameters) with `$$.Map.Item`, else the item.
#[allow(clippy::too_many_arguments)]
fn item_input(
    run: &Run<'_>,
    entered: &Entered<'_>,
    state: &State,
    map: &MapState,
    plan: &MapPlan,
    context: &Value,
    flow: &Flow,
    index: usize,
    item: &Value,
) -> Result<Value, Failure> {
    let selector = map.item_selector.as_ref().or(match entered.language {
        QueryLanguage::JsonPath => state.common.parameters.as_ref(),
        QueryLanguage::Jsonata => None,
    });
    let Some(selector) = selector else {
        return Ok(item.clone());
    };
    let mut item_context = context.clone();
    if let Value::Object(ctx) = &mut item_context {
        let mut map_ctx = Map::new();
        map_ctx.insert("Item".into(), json!({"Index": index, "Value": item}));
        ctx.insert("Map".into(), Value::Object(map_ctx));
    }
    let eval = run.eval(entered.language, &item_context, &flow.variables);
    match entered.language {
        QueryLanguage::JsonPath => eval.template(selector, &plan.effective, "ItemSelector"),
        QueryLanguage::Jsonata => eval.jsonata(
            selector,
            &eval.states(&plan.effective, None, None),
            "ItemSelector",
        ),
    }
}
