//! `purgeflow replay`: start new executions from failure reports' `replayInput`.
//!
//! Express has no redrive, so a replay is a new execution whose input holds only what was left
//! to do. Sources are report files (one report, an array of them, SNS notifications, or a bare
//! execution input) or the failure queue, drained. `--dry-run` lists what would run, with every
//! target and batch and every reason the tasks would refuse it for
//! (`purgeflow_tasks::replay_check`); otherwise
//! each input runs locally on the engine with the real handlers, or on AWS with StartExecution
//! on `--state-machine-arn`. Every step is idempotent (a missing key counts as deleted, an
//! invalidation batch keeps its CallerReference), so replaying the same report twice is
//! harmless; the same input also always gets the same execution name.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use purgeflow_tasks::config::Config;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use purgeflow_tasks::contract::ExecutionInput;
use purgeflow_tasks::replay_check::{Outcome, Refusal, ReplayCheck, check_replay_input};

use crate::files::read_json_or_lines;
use crate::local::aws::{AwsClients, sdk_config};
use crate::local::output::human_line;
use crate::local::pipeline::{Pipeline, TimeMode, purge_machine_for};

/// Above this many inputs a progress bar is shown (on a terminal).
const PROGRESS_FROM: usize = 5;

/// `purgeflow replay`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Failure report files: a report, a JSON array of reports, SNS notifications, or an
    /// execution input (a report's `replayInput` saved alone).
    #[arg(value_name = "FILE", required_unless_present = "queue_url")]
    pub files: Vec<PathBuf>,
    /// Drain failure reports from this SQS queue (subscribed to the failure topic). Messages
    /// are deleted once their replay ran; a dry run leaves them on the queue.
    #[arg(long, value_name = "URL")]
    pub queue_url: Option<String>,
    /// List what would run; start nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Start the executions on AWS, on this state machine, instead of the local engine.
    #[arg(long, value_name = "ARN")]
    pub state_machine_arn: Option<String>,
    /// The endpoint to call (default: `AWS_ENDPOINT_URL`, else AWS itself).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// On the local engine, simulate Retry backoffs and Wait states instead of waiting them
    /// out. By default they are waited out for real against AWS itself (no endpoint set), so
    /// throttling is retried as Step Functions would, and simulated against an endpoint such
    /// as a local stand-in.
    #[arg(long)]
    pub virtual_time: bool,
    /// On the local engine, the distribution and topic `purgeflow local --provision` made and
    /// remembered here (`provisioned.json`) are used when `PURGE_DISTRIBUTION_ID` /
    /// `PURGE_TOPIC_ARN` are unset.
    #[arg(long, value_name = "DIR", default_value = ".local")]
    pub state_dir: PathBuf,
}

/// One execution to run again.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayInput {
    /// Where it came from: `file.json#2`, or the queue's message id.
    pub source: String,
    /// The execution name: the same for the same input, so a second replay is recognisable.
    pub name: String,
    pub input: Value,
}

impl ReplayInput {
    fn new(source: String, input: Value) -> Self {
        let name = replay_name(&input);
        ReplayInput {
            source,
            name,
            input,
        }
    }

    /// `2 target(s), 1 invalidation batch(es), 0 record(s)`.
    pub fn describe(&self) -> String {
        let len = |field: &str| {
            self.input
                .get(field)
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        };
        format!(
            "batch {}: {} record(s), {} target(s), {} invalidation batch(es)",
            self.input
                .get("batchId")
                .and_then(Value::as_str)
                .unwrap_or("?"),
            len("records"),
            len("targets"),
            len("batches")
        )
    }
}

/// A report with nothing to replay (rejections only: a replay would reject them again), or a
/// document that is not a failure report at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReplayable {
    pub source: String,
    pub why: String,
    pub kind: NotReplayableKind,
}

/// Why there is nothing to run, which decides what happens to the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReplayableKind {
    /// A failure report with nothing left to do (rejections only): a queue message is deleted.
    NothingToDo,
    /// A failure report whose execution input cannot be replayed (`unreplayableInput`): a
    /// person must fix it. Listed, never deleted from the queue (it holds the only copy).
    NeedsAPerson,
    /// Not a failure report, or one whose `replayInput` is not an execution input: a file is
    /// refused; a queue message is left on the queue.
    NotAReport,
}

/// Everything found in the sources.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    pub inputs: Vec<ReplayInput>,
    pub not_replayable: Vec<NotReplayable>,
    /// The same input found more than once (e.g. a report delivered twice): run once.
    pub duplicates: usize,
    /// Queue messages to delete once what they hold ran: (receipt handle, execution names).
    receipts: Vec<(String, Vec<String>)>,
    /// Receipt handles of queue messages not understood in full (not JSON, not failure
    /// reports): never deleted, made visible again at once.
    not_understood_receipts: Vec<String>,
}

impl Collected {
    fn add(&mut self, source: String, document: &Value) {
        for (source, found) in replay_inputs(source, document) {
            match found {
                Ok(input) => {
                    let input = ReplayInput::new(source, input);
                    if self.inputs.iter().any(|i| i.name == input.name) {
                        self.duplicates += 1;
                    } else {
                        self.inputs.push(input);
                    }
                }
                Err(NotReplay { why, kind }) => {
                    self.not_replayable
                        .push(NotReplayable { source, why, kind })
                }
            }
        }
    }

    /// The sources that are not failure reports (or whose replayInput is unusable).
    pub fn not_understood(&self) -> impl Iterator<Item = &NotReplayable> {
        self.of_kind(NotReplayableKind::NotAReport)
    }

    fn of_kind(&self, kind: NotReplayableKind) -> impl Iterator<Item = &NotReplayable> {
        self.not_replayable.iter().filter(move |n| n.kind == kind)
    }
}

/// Why a document yields no replay input.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NotReplay {
    why: String,
    kind: NotReplayableKind,
}

impl NotReplay {
    /// A report understood, with nothing left to do.
    fn nothing_to_do(why: String) -> Self {
        NotReplay {
            why,
            kind: NotReplayableKind::NothingToDo,
        }
    }

    /// A report whose input a person must fix.
    fn needs_a_person(why: String) -> Self {
        NotReplay {
            why,
            kind: NotReplayableKind::NeedsAPerson,
        }
    }

    /// Not a failure report, or one whose replayInput cannot run.
    fn not_understood(why: impl Into<String>) -> Self {
        NotReplay {
            why: why.into(),
            kind: NotReplayableKind::NotAReport,
        }
    }
}

/// The execution name of a replay: `replay-<batch id, shortened>-<16 hex of the input>`, at
/// most 80 characters of `[0-9A-Za-z_-]`.
pub fn replay_name(input: &Value) -> String {
    let digest = Sha256::digest(input.to_string().as_bytes());
    let batch: String = input
        .get("batchId")
        .and_then(Value::as_str)
        .unwrap_or("batch")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(48)
        .collect();
    format!("replay-{batch}-{}", hex::encode(&digest[..8]))
}

/// The replay inputs in one parsed document, each with where it was found.
fn replay_inputs(source: String, document: &Value) -> Vec<(String, Result<Value, NotReplay>)> {
    match document {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .flat_map(|(i, item)| replay_inputs(format!("{source}#{}", i + 1), item))
            .collect(),
        // An SNS notification (a queue without raw delivery, or an email/HTTP copy).
        Value::Object(fields)
            if fields.get("Type").and_then(Value::as_str) == Some("Notification") =>
        {
            match fields
                .get("Message")
                .and_then(Value::as_str)
                .map(serde_json::from_str::<Value>)
            {
                Some(Ok(message)) => replay_inputs(source, &message),
                _ => vec![(
                    source,
                    Err(NotReplay::not_understood(
                        "an SNS notification whose Message is not a JSON failure report",
                    )),
                )],
            }
        }
        Value::Object(fields)
            if fields.contains_key("reportVersion") || fields.contains_key("replayInput") =>
        {
            match fields.get("replayInput") {
                Some(input @ Value::Object(_)) => {
                    vec![(source, execution_input(input, "replayInput"))]
                }
                // A task failed on an execution input that is not one: the report carries it
                // as given, for a person to fix and start by hand. Not deleted from the queue:
                // it holds the only copy of that input.
                _ if fields.contains_key("unreplayableInput") => vec![(
                    source,
                    Err(NotReplay::needs_a_person(format!(
                        "no replayInput: the execution's input can't be replayed ({}); the report carries it as unreplayableInput, to fix and start by hand",
                        fields["unreplayableInput"]
                            .get("detail")
                            .and_then(Value::as_str)
                            .unwrap_or("not a valid execution input")
                    ))),
                )],
                None | Some(Value::Null) => {
                    let rejected = fields
                        .get("rejections")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len);
                    vec![(
                        source,
                        Err(NotReplay::nothing_to_do(format!(
                            "no replayInput: {rejected} rejected record(s) only, which a replay would reject again"
                        ))),
                    )]
                }
                Some(other) => vec![(
                    source,
                    Err(NotReplay::not_understood(format!(
                        "its replayInput is {}, not an execution input (a JSON object with a batchId)",
                        json_type(other)
                    ))),
                )],
            }
        }
        Value::Object(fields) if fields.contains_key("batchId") => {
            vec![(source, execution_input(document, "$"))]
        }
        _ => vec![(
            source,
            Err(NotReplay::not_understood(format!(
                "{} that is neither a failure report, an SNS notification of one, nor an execution input",
                json_type(document)
            ))),
        )],
    }
}

/// The input, when it has the shape of the purge state machine's input; otherwise why not,
/// naming the field's path (`replayInput.targets[0].key: expected a string, ...`) as the
/// tasks themselves do.
fn execution_input(input: &Value, at: &str) -> Result<Value, NotReplay> {
    match purgeflow_tasks::contract::parse::<ExecutionInput>(input.clone()) {
        Ok(_) => Ok(input.clone()),
        Err(why) if at == "$" => Err(NotReplay::not_understood(format!(
            "not an execution input: {why}"
        ))),
        Err(why) => Err(NotReplay::not_understood(format!(
            "not an execution input: {at}.{why}"
        ))),
    }
}

/// `a string`, `an array`, ... for messages.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads report files: one JSON document or JSON lines (one report per line) each. A file, or
/// a part of one, that is not a failure report is an error before anything runs: it is most
/// likely the wrong file, and replaying the rest would hide that.
pub fn collect_files(files: &[PathBuf]) -> anyhow::Result<Collected> {
    let mut collected = Collected::default();
    for file in files {
        let document = read_json_or_lines(file, "report file")?;
        if document.as_array().is_some_and(Vec::is_empty) {
            bail!(
                "report file {} holds an empty array: no failure report",
                file.display()
            );
        }
        collected.add(file.display().to_string(), &document);
    }
    let bad: Vec<String> = collected
        .not_understood()
        .map(|n| format!("{}: {}", n.source, n.why))
        .collect();
    if !bad.is_empty() {
        bail!(
            "{} part(s) of the given files cannot be replayed; nothing was started:\n  {}",
            bad.len(),
            bad.join("\n  ")
        );
    }
    Ok(collected)
}

/// Receives every message on the queue (they stay invisible while the replay runs).
pub async fn collect_queue(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> anyhow::Result<Collected> {
    let mut collected = Collected::default();
    let mut seen = BTreeSet::new();
    loop {
        let page = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(300)
            .send()
            .await
            .with_context(|| format!("cannot receive from {queue_url}"))?;
        let messages = page.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let id = message.message_id.clone().unwrap_or_default();
            if !seen.insert(id.clone()) {
                continue;
            }
            let source = format!("{queue_url} message {id}");
            let body = message.body.as_deref().unwrap_or_default();
            let body = body.strip_prefix('\u{feff}').unwrap_or(body);
            // Only a message understood in full may ever be deleted: its replay names, once
            // they ran, or a report with nothing left to do.
            let names = match serde_json::from_str::<Value>(body) {
                Ok(document) => {
                    let found = replay_inputs(source.clone(), &document);
                    let understood = found.iter().all(|(_, f)| {
                        f.as_ref()
                            .map_or_else(|n| n.kind == NotReplayableKind::NothingToDo, |_| true)
                    });
                    let names: Vec<String> = found
                        .into_iter()
                        .filter_map(|(_, found)| found.ok())
                        .map(|input| replay_name(&input))
                        .collect();
                    collected.add(source, &document);
                    understood.then_some(names)
                }
                Err(error) => {
                    collected.not_replayable.push(NotReplayable {
                        source,
                        why: format!("body is not JSON: {error}"),
                        kind: NotReplayableKind::NotAReport,
                    });
                    None
                }
            };
            match (message.receipt_handle, names) {
                (Some(receipt), Some(names)) => collected.receipts.push((receipt, names)),
                (Some(receipt), None) => collected.not_understood_receipts.push(receipt),
                (None, _) => {}
            }
        }
    }
    Ok(collected)
}

/// Where replays run.
#[derive(Debug)]
pub enum Target<'a> {
    Local(&'a Pipeline),
    Aws {
        sfn: &'a aws_sdk_sfn::Client,
        state_machine_arn: &'a str,
    },
}

/// One replay's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayOutcome {
    pub name: String,
    pub source: String,
    /// SUCCEEDED / FAILED for a local run; STARTED (with the ARN) on AWS.
    pub status: String,
    pub detail: String,
}

/// What a replay run did.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplaySummary {
    pub outcomes: Vec<ReplayOutcome>,
    pub not_replayable: usize,
    pub duplicates: usize,
    /// Of `not_replayable`, the failure reports with nothing left to do.
    pub nothing_to_do: usize,
    /// Reports whose input a person must fix (`unreplayableInput`).
    pub needs_a_person: usize,
    /// Queue messages not understood in full, left on the queue.
    pub not_understood: usize,
    /// A dry run: targets and batches the replay would refuse.
    pub would_refuse: usize,
}

impl ReplaySummary {
    pub fn succeeded(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.status == "SUCCEEDED" || o.status == "STARTED")
            .count()
    }

    /// Whether everything given was replayed, or had nothing left to do.
    pub fn all_done(&self) -> bool {
        self.succeeded() == self.outcomes.len()
            && self.not_understood == 0
            && self.needs_a_person == 0
            && self.would_refuse == 0
    }

    pub fn line(&self) -> String {
        let mut line = format!(
            "{} replay(s): {} succeeded or started, {} failed; {} report(s) with nothing to replay; {} duplicate(s) skipped",
            self.outcomes.len(),
            self.succeeded(),
            self.outcomes.len() - self.succeeded(),
            self.nothing_to_do,
            self.duplicates
        );
        if self.needs_a_person > 0 {
            line.push_str(&format!(
                "; {} report(s) whose input a person must fix (unreplayableInput)",
                self.needs_a_person
            ));
        }
        if self.not_understood > 0 {
            line.push_str(&format!(
                "; {} message(s) left on the queue",
                self.not_understood
            ));
        }
        line
    }
}

/// Runs every collected input on `target`, with a progress bar when there are many.
pub async fn replay(collected: &Collected, target: &Target<'_>) -> anyhow::Result<ReplaySummary> {
    let progress = if collected.inputs.len() >= PROGRESS_FROM {
        let bar = ProgressBar::new(collected.inputs.len() as u64);
        if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} replays {msg}") {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut summary = ReplaySummary {
        not_replayable: collected.not_replayable.len(),
        duplicates: collected.duplicates,
        nothing_to_do: collected.of_kind(NotReplayableKind::NothingToDo).count(),
        needs_a_person: collected.of_kind(NotReplayableKind::NeedsAPerson).count(),
        not_understood: collected.not_understood_receipts.len(),
        ..ReplaySummary::default()
    };
    for item in &collected.inputs {
        progress.set_message(item.name.clone());
        let outcome = match target {
            Target::Local(pipeline) => {
                // What the replay carries: records to validate again (the execution report
                // counts the targets to delete again itself).
                let records = item
                    .input
                    .get("records")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                let report = pipeline
                    .execute(&item.name, item.input.clone(), records)
                    .await;
                progress.suspend(|| println!("{}", human_line(&report)));
                ReplayOutcome {
                    name: item.name.clone(),
                    source: item.source.clone(),
                    status: report.status.clone(),
                    detail: report
                        .cause
                        .clone()
                        .or_else(|| report.output.as_ref().map(Value::to_string))
                        .unwrap_or_default(),
                }
            }
            Target::Aws {
                sfn,
                state_machine_arn,
            } => start_on_aws(sfn, state_machine_arn, item).await?,
        };
        summary.outcomes.push(outcome);
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(summary)
}

async fn start_on_aws(
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    item: &ReplayInput,
) -> anyhow::Result<ReplayOutcome> {
    let started = sfn
        .start_execution()
        .state_machine_arn(state_machine_arn)
        .name(&item.name)
        .input(item.input.to_string())
        .send()
        .await;
    let (status, detail) = match started {
        Ok(output) => ("STARTED".to_owned(), output.execution_arn),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_execution_already_exists()) =>
        {
            (
                "STARTED".to_owned(),
                "already started with this input before".to_owned(),
            )
        }
        Err(error) => {
            return Err(anyhow::Error::new(error)
                .context(format!("StartExecution failed for {}", item.name)));
        }
    };
    Ok(ReplayOutcome {
        name: item.name.clone(),
        source: item.source.clone(),
        status,
        detail,
    })
}

/// Makes these received messages visible again at once.
async fn release(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    receipts: impl Iterator<Item = &String>,
) -> anyhow::Result<()> {
    for receipt in receipts {
        sqs.change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(0)
            .send()
            .await
            .with_context(|| format!("cannot release a message back to {queue_url}"))?;
    }
    Ok(())
}

/// Deletes the queue messages whose replays succeeded (or that held nothing to replay).
async fn delete_replayed(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    collected: &Collected,
    summary: &ReplaySummary,
) -> anyhow::Result<usize> {
    let mut deleted = 0;
    for (receipt, names) in &collected.receipts {
        // A message with nothing to replay (rejections only) is done too.
        let done = names.iter().all(|name| {
            summary
                .outcomes
                .iter()
                .any(|o| &o.name == name && (o.status == "SUCCEEDED" || o.status == "STARTED"))
        });
        if done {
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(receipt)
                .send()
                .await
                .with_context(|| format!("cannot delete a replayed message from {queue_url}"))?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// The `PURGE_*` configuration a local replay runs with: the variables, and the distribution
/// and topic `--provision` remembered in the state dir when their variables are unset.
fn load_config(args: &Args) -> anyhow::Result<Config> {
    let mut config = Config::from_env().context("the PURGE_* configuration is invalid")?;
    if let Some(remembered) = crate::local::provisioned_file::load(&args.state_dir)?
        && let Some(note) = crate::local::provisioned_file::fill_in(&mut config, &remembered)
    {
        println!(
            "using {note}, provisioned earlier ({})",
            crate::local::provisioned_file::provisioned_path(&args.state_dir).display()
        );
    }
    Ok(config)
}

/// What the tasks would do with one replay input: the refusal check lives in
/// `purgeflow_tasks::replay_check`, the same checks ValidateRecords and BatchPaths apply.
fn check_item(item: &ReplayInput, config: &Config) -> anyhow::Result<ReplayCheck> {
    // Collected inputs were already parsed as execution inputs (`execution_input`).
    let input = purgeflow_tasks::contract::parse::<ExecutionInput>(item.input.clone())
        .map_err(|why| anyhow::anyhow!("{}: not an execution input: {why}", item.source))?;
    Ok(check_replay_input(&input, config))
}

/// The dry run's lines for one input: every record, target and batch, what would happen to it
/// and, when refused, every reason on a line of its own.
pub fn dry_run_lines(check: &ReplayCheck) -> Vec<String> {
    let mut lines = Vec::new();
    let mut push = |what: String, outcome: &Outcome, done: &str| match outcome {
        Outcome::WouldRun => lines.push(format!("  {what}: {done}")),
        Outcome::Duplicate => {
            lines.push(format!("  {what}: the same as an earlier batch, sent once"))
        }
        Outcome::Ignored(reason) => lines.push(format!("  {what}: ignored ({reason:?})")),
        Outcome::Unchecked(why) => lines.push(format!("  {what}: not judged ({why})")),
        Outcome::Refused(refusals) => {
            lines.push(format!("  {what}: REFUSED"));
            lines.extend(refusals.iter().map(|refusal| format!("      {refusal}")));
        }
    };
    for (i, record) in check.records.iter().enumerate() {
        let what = match &record.target {
            Some(target) => format!(
                "record {} (event {}): bucket {}, key {:?}, paths {:?}",
                i + 1,
                record.event_id,
                target.bucket,
                target.key,
                target.paths
            ),
            None => format!("record {} (event {})", i + 1, record.event_id),
        };
        push(what, &record.outcome, "would be deleted");
    }
    for (i, target) in check.targets.iter().enumerate() {
        let what = format!(
            "target {}: bucket {}, key {:?}, paths {:?}",
            i + 1,
            target.target.bucket,
            target.target.key,
            target.target.paths
        );
        push(what, &target.outcome, "would be deleted");
    }
    for (i, batch) in check.batches.iter().enumerate() {
        let what = format!(
            "batch {}: distribution {}, {} path(s) {}",
            i + 1,
            batch.batch.distribution_id,
            batch.batch.paths.len(),
            shown(&batch.batch.paths)
        );
        push(what, &batch.outcome, "would be invalidated");
    }
    for rejection in &check.rejections {
        lines.push(format!(
            "  rejection (event {}): {:?}: {}: reported again, deletes nothing",
            rejection.event_id, rejection.reason, rejection.detail
        ));
    }
    lines
}

/// A batch's paths, the first few of up to 3,000.
fn shown(paths: &[String]) -> String {
    const SHOWN: usize = 5;
    let first: Vec<String> = paths.iter().take(SHOWN).map(|p| format!("{p:?}")).collect();
    match paths.len().saturating_sub(SHOWN) {
        0 => format!("[{}]", first.join(", ")),
        more => format!("[{}, … {more} more]", first.join(", ")),
    }
}

/// The dry run's totals over every input.
#[derive(Debug, Clone, Copy, Default)]
struct DryRunTotals {
    targets: usize,
    /// Distinct objects (bucket and key) per input, summed.
    objects: usize,
    refused_targets: usize,
    batches: usize,
    refused_batches: usize,
}

impl DryRunTotals {
    fn add(&mut self, check: &ReplayCheck) {
        let refused = |o: &Outcome| matches!(o, Outcome::Refused(_));
        self.targets += check.records.len() + check.targets.len();
        self.refused_targets += check.records.iter().filter(|r| refused(&r.outcome)).count()
            + check.targets.iter().filter(|t| refused(&t.outcome)).count();
        self.objects += check.objects_to_delete();
        self.batches += check.batches.len();
        self.refused_batches += check.batches.iter().filter(|b| refused(&b.outcome)).count();
    }

    fn line(&self) -> String {
        format!(
            "{} target(s), {} refused; {} distinct object(s) would be deleted; {} replayed batch(es), {} refused",
            self.targets, self.refused_targets, self.objects, self.batches, self.refused_batches
        )
    }
}

/// `purgeflow replay`.
/// Checks every replay input's MAC before anything starts, with `PURGE_MAC_KEY_ID` (or the key
/// `--provision` remembered): one that fails verification (unsigned, edited, another key) is
/// moved to the reports for a person, named with why, and never started or deleted from the
/// queue. An unsigned one stays only under `PURGE_ALLOW_UNSIGNED_INPUTS=true`. Without a key
/// nothing is checked here (ValidateRecords still checks every input), and that is said.
///
/// Returns the inputs refused for their MAC, with the refusal, for the dry run's lines.
pub async fn verify_signatures(
    collected: &mut Collected,
    config: &Config,
    kms: &aws_sdk_kms::Client,
) -> Vec<(ReplayInput, Refusal)> {
    use purgeflow_tasks::error::names;
    use purgeflow_tasks::signing::{MacKey, MacProblem, SigningError};
    let mut refused = Vec::new();
    let Some(key_id) = &config.mac_key_id else {
        if !collected.inputs.is_empty() {
            println!(
                "signatures not checked here: PURGE_MAC_KEY_ID is unset (ValidateRecords checks each input's MAC before it deletes anything)"
            );
        }
        return refused;
    };
    let key = MacKey::new(kms.clone(), key_id.clone());
    let mut kept = Vec::with_capacity(collected.inputs.len());
    for item in std::mem::take(&mut collected.inputs) {
        let parsed: Result<ExecutionInput, _> = serde_json::from_value(item.input.clone());
        let verdict = match &parsed {
            Err(e) => Err((format!("not an execution input: {e}"), None)),
            Ok(input) => match key.verify(input).await {
                Ok(()) => Ok(()),
                Err(SigningError::Refused(MacProblem::Unsigned))
                    if config.allow_unsigned_inputs =>
                {
                    println!(
                        "- {}: unsigned; admitted because PURGE_ALLOW_UNSIGNED_INPUTS=true",
                        item.source
                    );
                    Ok(())
                }
                Err(SigningError::Refused(MacProblem::Unsigned)) => Err((
                    "fails verification (PurgeFlow.UnsignedInput): its replayInput has no mac; check it, then replay it with PURGE_ALLOW_UNSIGNED_INPUTS=true"
                        .to_owned(),
                    Some(Refusal::Signature {
                        error: names::UNSIGNED_INPUT,
                        detail: "the input has no mac".to_owned(),
                    }),
                )),
                Err(SigningError::Refused(MacProblem::BadSignature(detail))) => Err((
                    format!("fails verification (PurgeFlow.BadSignature): {detail}"),
                    Some(Refusal::Signature {
                        error: names::BAD_SIGNATURE,
                        detail,
                    }),
                )),
                Err(SigningError::Kms(err)) => {
                    Err((format!("its MAC could not be verified: {err}"), None))
                }
            },
        };
        match verdict {
            Ok(()) => kept.push(item),
            Err((why, refusal)) => {
                collected.not_replayable.push(NotReplayable {
                    source: item.source.clone(),
                    why: format!("{} ({})", why, item.describe()),
                    kind: NotReplayableKind::NeedsAPerson,
                });
                if let Some(refusal) = refusal {
                    refused.push((item, refusal));
                }
            }
        }
    }
    collected.inputs = kept;
    refused
}

pub async fn run(args: Args) -> anyhow::Result<ReplaySummary> {
    let sdk = sdk_config(args.endpoint_url.as_deref()).await;
    let aws = AwsClients::new(&sdk);
    let mut collected = collect_files(&args.files)?;
    if let Some(queue_url) = &args.queue_url {
        let from_queue = collect_queue(&aws.sqs, queue_url).await?;
        for input in from_queue.inputs {
            if collected.inputs.iter().any(|i| i.name == input.name) {
                collected.duplicates += 1;
            } else {
                collected.inputs.push(input);
            }
        }
        collected.not_replayable.extend(from_queue.not_replayable);
        collected.duplicates += from_queue.duplicates;
        collected.receipts = from_queue.receipts;
        collected.not_understood_receipts = from_queue.not_understood_receipts;
        // Never deleted, whatever happens next: visible again for whoever can read them (a
        // redrive policy moves them aside after its maxReceiveCount).
        release(
            &aws.sqs,
            queue_url,
            collected.not_understood_receipts.iter(),
        )
        .await?;
    }
    // The configuration a local replay runs with; the signature check and the dry run judge
    // against it when there is one (a dry run needs none: then its lines say what was not
    // judged), and a local run fails on its error below.
    let loaded = load_config(&args);
    let judged_with = match &loaded {
        Ok(config) => config.clone(),
        Err(error) => {
            if args.dry_run {
                println!("configuration: not judged ({error:#})");
            }
            Config::from_lookup(|_| None).context("an empty configuration")?
        }
    };
    let refused_by_mac = verify_signatures(&mut collected, &judged_with, &aws.kms).await;
    for skipped in &collected.not_replayable {
        match skipped.kind {
            NotReplayableKind::NothingToDo => {
                println!("- {}: nothing to replay ({})", skipped.source, skipped.why);
            }
            NotReplayableKind::NeedsAPerson => {
                println!(
                    "- {}: not replayed, for a person: {}",
                    skipped.source, skipped.why
                );
            }
            NotReplayableKind::NotAReport => {
                println!("- {}: not replayed: {}", skipped.source, skipped.why);
            }
        }
    }
    if args.dry_run {
        let config = &judged_with;
        let mut dry = DryRunTotals::default();
        for item in &collected.inputs {
            println!(
                "would start {}  ({})  from {}",
                item.name,
                item.describe(),
                item.source
            );
            let check = check_item(item, config)?;
            for line in dry_run_lines(&check) {
                println!("{line}");
            }
            dry.add(&check);
        }
        // Inputs whose MAC fails: every target and batch of them is refused for it.
        for (item, refusal) in &refused_by_mac {
            println!(
                "would not start {}  ({})  from {}: {refusal}",
                item.name,
                item.describe(),
                item.source
            );
            let mut check = check_item(item, config)?;
            check.refuse_all(refusal);
            for line in dry_run_lines(&check) {
                println!("{line}");
            }
            dry.add(&check);
        }
        let summary = ReplaySummary {
            not_replayable: collected.not_replayable.len(),
            duplicates: collected.duplicates,
            nothing_to_do: collected.of_kind(NotReplayableKind::NothingToDo).count(),
            needs_a_person: collected.of_kind(NotReplayableKind::NeedsAPerson).count(),
            not_understood: collected.not_understood_receipts.len(),
            would_refuse: dry.refused_targets + dry.refused_batches,
            ..ReplaySummary::default()
        };
        if let Some(queue_url) = &args.queue_url {
            release(
                &aws.sqs,
                queue_url,
                collected.receipts.iter().map(|(receipt, _)| receipt),
            )
            .await?;
        }
        println!(
            "dry run: {} execution(s) would start; {}; nothing was started",
            collected.inputs.len(),
            dry.line()
        );
        return Ok(summary);
    }
    let summary = match &args.state_machine_arn {
        Some(arn) => {
            replay(
                &collected,
                &Target::Aws {
                    sfn: &aws.sfn,
                    state_machine_arn: arn,
                },
            )
            .await?
        }
        None => {
            let mut config = loaded?;
            if config.deferral_queue_url.is_none() {
                config.deferral_queue_url = Some(crate::local::find_deferral_queue(&aws).await?);
            }
            // Against a real account the engine's Retry backoffs must pass for real, or a
            // throttled replay spends its retries in milliseconds.
            let time_mode = TimeMode::decide(args.virtual_time, sdk.endpoint_url());
            println!("replaying on the local engine, {}", time_mode.describe());
            let pipeline = Pipeline::new(
                purge_machine_for(&config)?,
                aws.task_clients(config.check_superseded),
                config,
            )?
            .with_time_mode(time_mode);
            replay(&collected, &Target::Local(&pipeline)).await?
        }
    };
    if let Some(queue_url) = &args.queue_url {
        let deleted = delete_replayed(&aws.sqs, queue_url, &collected, &summary).await?;
        println!("{deleted} message(s) deleted from the queue");
    }
    println!("{}", summary.line());
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(replay: Option<Value>) -> Value {
        json!({
            "reportVersion": 1,
            "executionName": "e",
            "batchId": "b-1",
            "part": 1,
            "parts": 1,
            "rejections": [{"eventId": "x"}],
            "deleteFailures": [],
            "failedInvalidations": [],
            "replayInput": replay
        })
    }

    fn input() -> Value {
        json!({"batchId": "b-1", "records": [], "targets": [{"bucket": "b", "key": "k", "paths": ["/k"], "eventId": "e", "tableKeys": {}}]})
    }

    #[test]
    fn reports_arrays_notifications_and_bare_inputs_are_read() {
        let mut collected = Collected::default();
        collected.add(
            "a.json".into(),
            &json!([report(Some(input())), report(None)]),
        );
        let notification =
            json!({"Type": "Notification", "Message": report(Some(input())).to_string()});
        collected.add("b.json".into(), &notification);
        collected.add("c.json".into(), &input());
        collected.add("d.json".into(), &json!({"hello": 1}));
        assert_eq!(
            collected.inputs.len(),
            1,
            "one distinct input: {:?}",
            collected.inputs
        );
        assert_eq!(collected.inputs[0].source, "a.json#1");
        assert_eq!(collected.duplicates, 2);
        let sources: Vec<&str> = collected
            .not_replayable
            .iter()
            .map(|n| n.source.as_str())
            .collect();
        assert_eq!(sources, ["a.json#2", "d.json"]);
        assert!(
            collected.not_replayable[0].why.contains("1 rejected"),
            "{:?}",
            collected.not_replayable[0]
        );
    }

    #[test]
    fn replay_names_are_stable_and_valid() {
        let name = replay_name(&input());
        assert_eq!(name, replay_name(&input()));
        assert!(name.len() <= 80);
        assert!(name.starts_with("replay-b-1-"));
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        let mut other = input();
        other["targets"] = json!([]);
        assert_ne!(replay_name(&other), name);
    }

    #[test]
    fn json_lines_files_are_read() {
        let dir = std::env::temp_dir().join(format!("purgeflow-replay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("reports.jsonl");
        std::fs::write(
            &file,
            format!("{}\n{}\n", report(Some(input())), report(None)),
        )
        .expect("write");
        let collected = collect_files(&[file]).expect("read");
        assert_eq!(collected.inputs.len(), 1);
        assert_eq!(collected.not_replayable.len(), 1);
    }

    /// A report of a task that failed on an input of the wrong shape has no replayInput: it is
    /// listed as not replayable, with what is wrong, never run.
    #[test]
    fn a_report_with_an_unreplayable_input_is_listed_with_why() {
        let mut unreplayable = report(None);
        unreplayable["rejections"] = json!([]);
        unreplayable["unreplayableInput"] = json!({
            "reason": "InvalidExecutionInput",
            "detail": "targets[3].key: expected a string, found integer 5",
            "input": {"batchId": "b-1", "targets": "x"},
            "inputBytes": 33
        });
        let mut collected = Collected::default();
        collected.add("r.json".into(), &unreplayable);
        assert!(collected.inputs.is_empty());
        assert_eq!(collected.not_replayable.len(), 1);
        let why = &collected.not_replayable[0].why;
        assert!(
            why.contains("can't be replayed") && why.contains("targets[3].key"),
            "{why}"
        );
        // Kept for a person: never deleted from the queue, and a file holding it is still read.
        assert_eq!(
            collected.not_replayable[0].kind,
            NotReplayableKind::NeedsAPerson
        );
        assert_eq!(collected.not_understood().count(), 0);
    }
}
