//! One stream batch through the pipeline, on one machine: the trigger's own code plans the
//! executions, and `statemachine/purge.asl.json` runs each on purgeflow's engine with the real
//! task handlers (`in_process::register_handlers`) calling the configured endpoint.
//!
//! The engine's clock is virtual by default (Retry backoffs and Waits cost no real time), which
//! suits a local endpoint; against a real account [`TimeMode::Real`] makes each delay pass for
//! real too, so throttled calls are not retried at once. The durations printed here are
//! wall-clock times measured around each task call, so they show what the endpoint cost.

use purgeflow_tasks::signing::MacKey;
use purgeflow_tasks::trigger::signed_input;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::in_process::{Clients, register_handlers};
use anyhow::{Context, anyhow};
use futures::StreamExt;
use futures::future::BoxFuture;
use purgeflow_asl::clock::Sleeper;
use purgeflow_asl::validate::substitute;
use purgeflow_asl::{
    ExecutionOptions, ExecutionResult, ExecutionStatus, MachineType, StateMachine, StatesError,
    TaskInvoker, TaskRegistry,
};
use purgeflow_tasks::config::Config;
use purgeflow_tasks::records::{Projection, StreamEvent};
use purgeflow_tasks::trigger::{PackLimits, Plan, plan};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The purge state machine as checked in, built into the binary so the command runs anywhere.
pub const PURGE_DEFINITION: &str = include_str!("../../../statemachine/purge.asl.json");
/// Task resources for a local run: each Lambda ARN resolves to its in-process handler by name.
pub const LOCAL_SUBSTITUTIONS: &str =
    include_str!("../../../statemachine/local-substitutions.json");
/// The error of the definition's Fail state after ReportFailures: the report was published.
pub const PURGE_INCOMPLETE: &str = "PurgeIncomplete";
/// `$$.StateMachine.Name` of local executions.
pub const STATE_MACHINE_NAME: &str = "purgeflow-purge";
/// Executions of one batch run side by side, as Express runs them; small, for two cores.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// The purge definition with the local substitutions applied, parsed and validated.
pub fn purge_machine() -> anyhow::Result<StateMachine> {
    let definition: Value = serde_json::from_str(PURGE_DEFINITION)
        .context("statemachine/purge.asl.json is not valid JSON")?;
    let substitutions: Map<String, Value> = serde_json::from_str(LOCAL_SUBSTITUTIONS)
        .context("statemachine/local-substitutions.json is not a JSON object")?;
    machine_from(&definition, &substitutions)
}

/// The purge definition with the local substitutions applied, its `DeferralQueueUrl` replaced by
/// `config`'s deferral queue (`PURGE_DEFERRAL_QUEUE_URL`, or the queue `--provision` made) when
/// it names one, so DeferBatch sends to the queue this run really uses.
pub fn purge_machine_for(config: &Config) -> anyhow::Result<StateMachine> {
    let definition: Value = serde_json::from_str(PURGE_DEFINITION)
        .context("statemachine/purge.asl.json is not valid JSON")?;
    let mut substitutions: Map<String, Value> = serde_json::from_str(LOCAL_SUBSTITUTIONS)
        .context("statemachine/local-substitutions.json is not a JSON object")?;
    if let Some(url) = &config.deferral_queue_url {
        substitutions.insert(
            DEFERRAL_QUEUE_URL_SUBSTITUTION.to_owned(),
            Value::from(url.as_str()),
        );
    }
    machine_from(&definition, &substitutions)
}

/// The DefinitionSubstitution naming the deferral queue DeferBatch sends refused batches to.
pub const DEFERRAL_QUEUE_URL_SUBSTITUTION: &str = "DeferralQueueUrl";

/// A definition with `substitutions` applied, parsed and validated.
pub fn machine_from(
    definition: &Value,
    substitutions: &Map<String, Value>,
) -> anyhow::Result<StateMachine> {
    let substituted = substitute(definition, substitutions).map_err(|diagnostics| {
        anyhow!(
            "the definition's substitutions failed: {}",
            join(&diagnostics)
        )
    })?;
    StateMachine::from_value(&substituted)
        .map_err(|diagnostics| anyhow!("the definition is invalid: {}", join(&diagnostics)))
}

fn join(items: &[impl ToString]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// How the engine's delays (Retry backoffs, Wait states) pass during a local run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeMode {
    /// Simulated only: nothing sleeps. Right for a local endpoint, which never throttles, and
    /// for tests.
    #[default]
    Virtual,
    /// Every delay is also waited out for real, as Step Functions would: against a real account
    /// a throttled call or CloudFront's TooManyInvalidationsInProgress must not be retried at
    /// once, or the retries are spent in milliseconds. Histories and durations stay the same.
    Real,
}

impl TimeMode {
    /// Real time against AWS itself (no endpoint override); virtual time when `force_virtual`
    /// (`--virtual-time`) or when an endpoint is set (`--endpoint-url` or `AWS_ENDPOINT_URL`),
    /// which means a local stand-in such as moto.
    pub fn decide(force_virtual: bool, endpoint_url: Option<&str>) -> TimeMode {
        let local_endpoint = endpoint_url.is_some_and(|url| !url.trim().is_empty());
        if force_virtual || local_endpoint {
            TimeMode::Virtual
        } else {
            TimeMode::Real
        }
    }

    /// A line for the run's notes, so the user knows whether backoffs really wait.
    pub fn describe(self) -> &'static str {
        match self {
            TimeMode::Virtual => {
                "virtual time: Retry backoffs and Waits are simulated, nothing sleeps"
            }
            TimeMode::Real => "real time: Retry backoffs and Waits are waited out",
        }
    }

    fn sleeper(self) -> Option<Arc<dyn Sleeper>> {
        match self {
            TimeMode::Virtual => None,
            TimeMode::Real => Some(Arc::new(TokioSleeper)),
        }
    }
}

/// Waits on tokio's timer (the CLI always runs on a tokio runtime with time enabled). Huge
/// delays do not panic: tokio saturates them far in the future, and an Express execution's
/// five-minute limit ends the run before any delay that long would be slept.
#[derive(Debug)]
struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// The engine, the handlers and the trigger's packing rules.
#[derive(Debug)]
pub struct Pipeline {
    machine: StateMachine,
    tasks: Arc<TaskRegistry>,
    projection: Projection,
    /// Kept for the trigger's packing, which reads it on every batch.
    config: Config,
    concurrency: usize,
    /// Whether executions wait out their delays for real; virtual unless set.
    sleeper: Option<Arc<dyn Sleeper>>,
    /// Signs each execution input as the trigger does (`None`: unsigned, only with
    /// `PURGE_ALLOW_UNSIGNED_INPUTS=true` and no key).
    mac_key: Option<MacKey>,
}

impl Pipeline {
    /// Registers the real handlers with `clients` and `config`; fails, naming the variable, when
    /// the configuration lacks what a handler needs.
    pub fn new(
        machine: StateMachine,
        clients: Clients,
        config: Config,
    ) -> anyhow::Result<Pipeline> {
        let projection = Projection::for_template(config.key_template()?);
        let mac_key = match (&config.mac_key_id, &clients.kms) {
            (Some(key_id), Some(kms)) => Some(MacKey::new(kms.clone(), key_id.clone())),
            _ => None,
        };
        let mut registry = TaskRegistry::new();
        register_handlers(&mut registry, clients, config.clone())?;
        Ok(Pipeline {
            machine,
            tasks: Arc::new(registry),
            projection,
            config,
            concurrency: DEFAULT_CONCURRENCY,
            sleeper: TimeMode::default().sleeper(),
            mac_key,
        })
    }

    /// Whether executions wait out Retry backoffs and Waits for real ([`TimeMode::decide`]).
    pub fn with_time_mode(mut self, mode: TimeMode) -> Self {
        self.sleeper = mode.sleeper();
        self
    }

    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// What the trigger would do with these stream records (Lambda event shape).
    pub fn plan(&self, records: &[Value]) -> anyhow::Result<Plan> {
        let event = serde_json::json!({ "Records": records });
        let event: StreamEvent = serde_json::from_value(event)
            .context("stream records could not be read as a stream event")?;
        Ok(plan(
            &event,
            &self.projection,
            PackLimits::from_config(&self.config),
        ))
    }

    /// Runs every execution of `plan`, side by side, calling `on_finished` as each one ends.
    pub async fn run_plan(
        &self,
        plan: &Plan,
        on_finished: &(dyn Fn(&ExecutionReport) + Sync),
    ) -> anyhow::Result<Vec<ExecutionReport>> {
        let mut runs = futures::stream::iter(plan.executions.iter().map(|execution| async move {
            // As the trigger does before StartExecution: one GenerateMac per execution.
            let text = match &self.mac_key {
                Some(key) => signed_input(&execution.input, key)
                    .await
                    .with_context(|| format!("cannot sign execution {}'s input", execution.name))?,
                None => execution.input.clone(),
            };
            let input: Value = serde_json::from_str(&text)
                .with_context(|| format!("execution {}'s input is not JSON", execution.name))?;
            anyhow::Ok(
                self.execute(&execution.name, input, execution.record_count)
                    .await,
            )
        }))
        .buffer_unordered(self.concurrency);
        let mut reports = Vec::with_capacity(plan.executions.len());
        while let Some(report) = runs.next().await {
            let report = report?;
            on_finished(&report);
            reports.push(report);
        }
        Ok(reports)
    }

    /// One execution of the purge machine with `input`.
    pub async fn execute(&self, name: &str, input: Value, records: usize) -> ExecutionReport {
        // A replay input carries targets to delete again besides (or instead of) records.
        let targets = input
            .get("targets")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let timed = Arc::new(Timed {
            inner: self.tasks.clone(),
            calls: Mutex::new(Vec::new()),
        });
        let options = ExecutionOptions {
            name: name.to_owned(),
            state_machine_name: STATE_MACHINE_NAME.to_owned(),
            machine_type: MachineType::Express,
            tasks: timed.clone(),
            seed: seed_of(name),
            start_time: chrono::Utc::now(),
            sleeper: self.sleeper.clone(),
            ..ExecutionOptions::default()
        };
        let started = Instant::now();
        let result = self.machine.execute(input, &options).await;
        let wall = started.elapsed();
        let calls = timed.calls.lock().map(|c| c.clone()).unwrap_or_default();
        let mut report = ExecutionReport::new(name, records, &result, &calls, wall);
        report.targets = targets;
        report
    }
}

/// Retry jitter differs between executions but is the same for a rerun of the same name.
fn seed_of(name: &str) -> u64 {
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(bytes)
}

/// One task call, timed on the wall clock.
#[derive(Debug, Clone)]
struct TaskCall {
    state: String,
    wall: Duration,
    failed: bool,
}

/// Times every task call of one execution.
#[derive(Debug)]
struct Timed {
    inner: Arc<TaskRegistry>,
    calls: Mutex<Vec<TaskCall>>,
}

impl TaskInvoker for Timed {
    fn invoke<'a>(
        &'a self,
        state_name: &'a str,
        resource: &'a str,
        payload: Value,
    ) -> BoxFuture<'a, Result<Value, StatesError>> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.inner.invoke(state_name, resource, payload).await;
            if let Ok(mut calls) = self.calls.lock() {
                calls.push(TaskCall {
                    state: state_name.to_owned(),
                    wall: started.elapsed(),
                    failed: result.is_err(),
                });
            }
            result
        })
    }
}

/// One state of an execution, with every visit of it folded together (a Map's iterations).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StateReport {
    pub name: String,
    #[serde(rename = "type")]
    pub state_type: String,
    pub visits: u32,
    /// Task states: the calls made (retries included) and their wall time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_calls: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_calls: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wall_ms: Option<f64>,
}

/// How one execution went.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionReport {
    pub execution: String,
    pub records: usize,
    /// Replayed targets in the input (a replay), counted apart from the records.
    #[serde(skip_serializing_if = "is_zero")]
    pub targets: usize,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    pub states: Vec<StateReport>,
    pub wall_ms: f64,
    /// The execution's output (PurgeComplete's counts), when it succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
}

impl ExecutionReport {
    fn new(
        name: &str,
        records: usize,
        result: &ExecutionResult,
        calls: &[TaskCall],
        wall: Duration,
    ) -> Self {
        let mut states: Vec<StateReport> = Vec::new();
        for visit in &result.states {
            match states.iter_mut().find(|s| s.name == visit.name) {
                Some(state) => state.visits += 1,
                None => states.push(StateReport {
                    name: visit.name.clone(),
                    state_type: visit.state_type.clone(),
                    visits: 1,
                    task_calls: None,
                    failed_calls: None,
                    wall_ms: None,
                }),
            }
        }
        for state in &mut states {
            let mine: Vec<&TaskCall> = calls.iter().filter(|c| c.state == state.name).collect();
            if !mine.is_empty() {
                state.task_calls = Some(count(mine.len()));
                state.failed_calls = Some(count(mine.iter().filter(|c| c.failed).count()));
                state.wall_ms = Some(millis(mine.iter().map(|c| c.wall).sum()));
            }
        }
        ExecutionReport {
            execution: name.to_owned(),
            records,
            targets: 0,
            status: status_name(result.status).to_owned(),
            error: result.error.clone(),
            cause: result.cause.clone(),
            states,
            wall_ms: millis(wall),
            output: result.output.clone(),
        }
    }

    pub fn succeeded(&self) -> bool {
        self.status == status_name(ExecutionStatus::Succeeded)
    }

    /// Whether every record of the execution is accounted for: it succeeded, or it failed as
    /// `PurgeIncomplete`, which the definition reaches only after ReportFailures published the
    /// report. Any other end (ReportFailures itself failed, a timeout) told no one.
    pub fn accounted_for(&self) -> bool {
        self.succeeded()
            || (self.status == status_name(ExecutionStatus::Failed)
                && self.error.as_deref() == Some(PURGE_INCOMPLETE))
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Milliseconds, to the microsecond.
pub fn millis(duration: Duration) -> f64 {
    (duration.as_micros() as f64) / 1000.0
}

fn status_name(status: ExecutionStatus) -> &'static str {
    match status {
        ExecutionStatus::Succeeded => "SUCCEEDED",
        ExecutionStatus::Failed => "FAILED",
        ExecutionStatus::TimedOut => "TIMED_OUT",
        ExecutionStatus::Aborted => "ABORTED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_definition_is_valid() {
        let machine = purge_machine().expect("purge.asl.json with local substitutions");
        assert!(machine.definition().get("States").is_some());
    }

    #[test]
    fn real_time_only_against_aws_itself() {
        assert_eq!(TimeMode::decide(false, None), TimeMode::Real);
        assert_eq!(
            TimeMode::decide(false, Some("http://127.0.0.1:5000")),
            TimeMode::Virtual
        );
        // `--virtual-time` wins even against AWS itself.
        assert_eq!(TimeMode::decide(true, None), TimeMode::Virtual);
        assert_eq!(
            TimeMode::decide(true, Some("http://127.0.0.1:5000")),
            TimeMode::Virtual
        );
        // An empty AWS_ENDPOINT_URL is no endpoint (sdk_config ignores it too).
        assert_eq!(TimeMode::decide(false, Some("  ")), TimeMode::Real);
    }

    #[test]
    fn only_real_time_installs_a_sleeper() {
        assert!(TimeMode::Virtual.sleeper().is_none());
        assert!(TimeMode::Real.sleeper().is_some());
    }

    #[tokio::test]
    async fn the_tokio_sleeper_waits_the_whole_delay() {
        let delay = Duration::from_millis(40);
        let started = Instant::now();
        TokioSleeper.sleep(delay).await;
        assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_real_time_execution_waits_out_its_wait_state() {
        // The engine with the sleeper the pipeline installs for real time (ASL waits are whole
        // seconds, so this one costs a second).
        let machine = StateMachine::from_value(&serde_json::json!({"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 1, "End": true}
        }}))
        .expect("valid definition");
        let options = ExecutionOptions {
            machine_type: MachineType::Express,
            sleeper: TimeMode::Real.sleeper(),
            ..ExecutionOptions::default()
        };
        let started = Instant::now();
        let result = machine.execute(serde_json::json!({}), &options).await;
        assert_eq!(
            result.status,
            ExecutionStatus::Succeeded,
            "{:?}",
            result.cause
        );
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn seeds_are_stable_per_name() {
        assert_eq!(seed_of("a"), seed_of("a"));
        assert_ne!(seed_of("a"), seed_of("b"));
    }
}
