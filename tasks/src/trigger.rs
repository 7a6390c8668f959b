//! The purge-trigger Lambda: a DynamoDB stream batch → Express executions.
//!
//! 1. [`plan`]: classify every record ([`crate::records`]), keep the REMOVE records, and pack
//!    them, in stream order, into execution inputs of at most [`PackLimits::max_bytes`] serialised
//!    bytes and [`PackLimits::max_records`] records. Each input's `batchId`, which is also the
//!    execution name, is derived from its records (see [`batch_name`]), so a redelivered batch
//!    gets the same name.
//! 2. [`start_executions`] (feature `sfn`): `StartExecution` for each input, in order, stopping
//!    at the first failure.
//! 3. The answer lists as `batchItemFailures` every record from the first one not handed over
//!    to the end of the batch, so the stream retries exactly from there. Nothing before it is
//!    retried, nothing after it is skipped.
//!
//! A record too large to fit in any input even alone (a template attribute of ~200 KB) stops the
//! packing there with [`PackError::RecordTooLarge`]: it and every later record are returned as
//! failures, so the event source mapping's bisect, retry limit and on-failure queue isolate and
//! keep it; nothing is dropped.
//!
//! A record with nothing to identify it (no `eventID` or no key) is counted and logged as
//! malformed instead: no retry could ever fix it, and retrying would block the shard.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::config::Config;
use crate::contract::RemovedRecord;
use crate::records::{Classified, ClassifiedRecord, HandedOver, Projection, RecordCounts, StreamEvent, classify_event};

/// Step Functions accepts 256 KiB of input; the trigger stays under 200 KiB so the state
/// machine's own additions (context, `ResultPath`s) never push a step's data past the limit.
pub const MAX_INPUT_BYTES: usize = 200 * 1024;

/// Execution names: at most 80 characters of `[0-9A-Za-z_-]`.
pub const MAX_NAME_CHARS: usize = 80;

/// Size and count limits of one execution input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackLimits {
    pub max_bytes: usize,
    pub max_records: usize,
}

impl PackLimits {
    pub fn from_config(config: &Config) -> Self {
        PackLimits { max_bytes: MAX_INPUT_BYTES, max_records: config.max_records_per_execution }
    }
}

/// Why packing stopped before the end of the batch.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PackError {
    #[error(
        "record {event_id} is {bytes} bytes after projection, more than the {limit}-byte execution input limit; \
         it is returned as a batch item failure for the on-failure queue"
    )]
    RecordTooLarge { event_id: String, bytes: usize, limit: usize },
}

/// One execution to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedExecution {
    /// The execution name, also the input's `batchId`.
    pub name: String,
    /// The serialised [`crate::contract::ExecutionInput`].
    pub input: String,
    /// Index, in the event, of this execution's first record.
    pub first_record: usize,
    pub record_count: usize,
}

/// Everything the trigger will do with one stream batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Every record's outcome, in event order (for sequence numbers and counts).
    pub records: Vec<ClassifiedRecord>,
    pub executions: Vec<PackedExecution>,
    /// Where and why packing stopped early; records from this index on are not handed over.
    pub stopped: Option<(usize, PackError)>,
    pub counts: RecordCounts,
}

/// Parse + filter + project + pack: everything but the AWS calls.
pub fn plan(event: &StreamEvent, projection: &Projection, limits: PackLimits) -> Plan {
    let records = classify_event(event, projection);
    let counts = RecordCounts::of(&records);
    let (executions, stopped) = pack(&records, limits);
    Plan { records, executions, stopped, counts }
}

/// Serialised size of the input around its records, with the longest possible name:
/// `{"batchId":"<name>","records":[` … `]}`.
const ENVELOPE_BYTES: usize = r#"{"batchId":"","records":[]}"#.len() + MAX_NAME_CHARS;

/// The execution being filled: its records' JSON, comma-separated, and its name so far.
struct Pending {
    first_record: usize,
    count: usize,
    body: Vec<u8>,
    name: BatchNamer,
}

impl Pending {
    fn new(first_record: usize) -> Self {
        Pending { first_record, count: 0, body: Vec::new(), name: BatchNamer::default() }
    }

    /// The input's size if `record_bytes` more bytes of record were added.
    fn size_with(&self, record_bytes: usize) -> usize {
        ENVELOPE_BYTES + self.body.len() + usize::from(self.count > 0) + record_bytes
    }

    fn push(&mut self, record: &HandedOver) {
        if self.count > 0 {
            self.body.push(b',');
        }
        self.body.extend_from_slice(record.json.as_bytes());
        self.name.add(&record.event_id, &record.sequence_number);
        self.count += 1;
    }

    fn finish(self) -> PackedExecution {
        let name = self.name.finish();
        let mut input = Vec::with_capacity(ENVELOPE_BYTES + self.body.len());
        // The name is [0-9A-Za-z_-] only, so it needs no escaping; writing the envelope by hand
        // keeps the records' already-serialised bytes from being parsed again.
        input.extend_from_slice(br#"{"batchId":""#);
        input.extend_from_slice(name.as_bytes());
        input.extend_from_slice(br#"","records":["#);
        input.extend_from_slice(&self.body);
        input.extend_from_slice(b"]}");
        // serde_json only writes UTF-8, so the lossy branch is never taken.
        let input = String::from_utf8(input).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        PackedExecution { name, input, first_record: self.first_record, record_count: self.count }
    }
}

fn pack(records: &[ClassifiedRecord], limits: PackLimits) -> (Vec<PackedExecution>, Option<(usize, PackError)>) {
    let max_records = limits.max_records.max(1);
    let mut executions = Vec::new();
    let mut pending: Option<Pending> = None;
    for (index, classified) in records.iter().enumerate() {
        let Classified::Removed(record) = &classified.outcome else { continue };
        let bytes = record.json.len();
        if ENVELOPE_BYTES + bytes > limits.max_bytes {
            let error = PackError::RecordTooLarge { event_id: record.event_id.clone(), bytes, limit: limits.max_bytes };
            executions.extend(pending.take().map(Pending::finish));
            return (executions, Some((index, error)));
        }
        if let Some(current) = &pending
            && (current.size_with(bytes) > limits.max_bytes || current.count >= max_records)
        {
            executions.extend(pending.take().map(Pending::finish));
        }
        pending.get_or_insert_with(|| Pending::new(index)).push(record);
    }
    executions.extend(pending.map(Pending::finish));
    (executions, None)
}

/// The batch id and execution name of a group of records:
/// `<tail of the first sequence number>-<record count>-<16 hex of SHA-256 over every event id
/// and sequence number>`. Deterministic, so a redelivered batch gets the same name; readable in
/// the console (the sequence number says where in the stream it came from); at most 80
/// characters of `[0-9A-Za-z_-]`.
pub fn batch_name<'a>(records: impl IntoIterator<Item = &'a RemovedRecord>) -> String {
    let mut namer = BatchNamer::default();
    for record in records {
        namer.add(&record.event_id, &record.sequence_number);
    }
    namer.finish()
}

/// [`batch_name`], one record at a time.
#[derive(Default)]
struct BatchNamer {
    hasher: Sha256,
    count: usize,
    first_sequence: Option<String>,
}

impl BatchNamer {
    fn add(&mut self, event_id: &str, sequence_number: &str) {
        self.count += 1;
        self.first_sequence.get_or_insert_with(|| sequence_number.to_owned());
        self.hasher.update(event_id.as_bytes());
        self.hasher.update([0]);
        self.hasher.update(sequence_number.as_bytes());
        self.hasher.update([0]);
    }

    fn finish(self) -> String {
        let digest = self.hasher.finalize();
        let sequence: String = self
            .first_sequence
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        let tail = &sequence[sequence.len().saturating_sub(24)..];
        let tail = if tail.is_empty() { "batch" } else { tail };
        let mut name = format!("{tail}-{}-", self.count);
        for byte in &digest[..8] {
            // Writing to a String can't fail.
            let _ = write!(name, "{byte:02x}");
        }
        name
    }
}

/// The `batchItemFailures` for a batch whose records from `from` on were not handed over.
///
/// Every later record is listed, so the stream retries exactly from `from` whatever Lambda does
/// with the list. A record without a sequence number can't be named: an entry with no
/// identifier makes Lambda retry the whole batch, which is safe (every step is idempotent).
/// Malformed records that were dropped on purpose (see the module docs) are left out.
pub fn failures_from(records: &[ClassifiedRecord], from: usize) -> Vec<aws_lambda_events::event::streams::DynamoDbBatchItemFailure> {
    records
        .iter()
        .skip(from)
        .filter(|record| !(matches!(record.outcome, Classified::Malformed { .. }) && record.sequence_number.is_none()))
        .map(|record| {
            let mut failure = aws_lambda_events::event::streams::DynamoDbBatchItemFailure::default();
            failure.item_identifier = record.sequence_number.clone();
            failure
        })
        .collect()
}

#[cfg(feature = "sfn")]
pub use with_sfn::{handle_stream_event, start_executions};

#[cfg(feature = "sfn")]
mod with_sfn {
    use super::*;
    use crate::error::TaskError;
    use aws_lambda_events::event::streams::DynamoDbEventResponse;

    /// Starts each planned execution in order, stopping at the first failure, and answers with
    /// the batch item failures from the first record not handed over.
    pub async fn start_executions(
        plan: &Plan,
        sfn: &aws_sdk_sfn::Client,
        state_machine_arn: &str,
    ) -> DynamoDbEventResponse {
        let mut not_handed_over = plan.stopped.as_ref().map(|(index, _)| *index);
        if let Some((index, error)) = &plan.stopped {
            tracing::error!(record_index = index, %error, "packing stopped");
        }
        for execution in &plan.executions {
            let result = sfn
                .start_execution()
                .state_machine_arn(state_machine_arn)
                .name(&execution.name)
                .input(&execution.input)
                .send()
                .await;
            match result {
                Ok(output) => tracing::info!(
                    execution = %execution.name,
                    execution_arn = output.execution_arn(),
                    records = execution.record_count,
                    "execution started"
                ),
                // The same batch was handed over before (a redelivery): it is already running.
                Err(err) if err.as_service_error().is_some_and(|e| e.is_execution_already_exists()) => {
                    tracing::info!(execution = %execution.name, "execution already exists; batch was handed over before");
                }
                Err(err) => {
                    let error = crate::aws_errors::classify("sfn", &err);
                    tracing::error!(
                        execution = %execution.name,
                        error_type = error.error_type(),
                        %error,
                        "StartExecution failed; the stream will retry from this execution's first record"
                    );
                    not_handed_over = Some(execution.first_record);
                    break;
                }
            }
        }
        let mut response = DynamoDbEventResponse::default();
        if let Some(from) = not_handed_over {
            response.batch_item_failures = failures_from(&plan.records, from);
        }
        response
    }

    /// The whole trigger: plan, log the counts, start the executions.
    ///
    /// Fails only on configuration (`PURGE_KEY_TEMPLATE`, `PURGE_STATE_MACHINE_ARN`); any AWS
    /// failure is answered with batch item failures instead.
    pub async fn handle_stream_event(
        event: StreamEvent,
        config: &Config,
        sfn: &aws_sdk_sfn::Client,
    ) -> Result<DynamoDbEventResponse, TaskError> {
        let projection = Projection::for_template(config.key_template()?);
        let state_machine_arn = config.state_machine_arn()?;
        let plan = plan(&event, &projection, PackLimits::from_config(config));
        let counts = plan.counts;
        tracing::info!(
            records = plan.records.len(),
            removed = counts.removed,
            ttl = counts.ttl,
            other = counts.other,
            malformed = counts.malformed,
            executions = plan.executions.len(),
            "stream batch"
        );
        for (index, record) in plan.records.iter().enumerate() {
            match &record.outcome {
                Classified::Other { event_name } => {
                    tracing::debug!(record_index = index, event_name = %event_name, "not a REMOVE record; skipped");
                }
                Classified::Malformed { event_id, reason } => tracing::error!(
                    record_index = index,
                    event_id = event_id.as_deref().unwrap_or("<none>"),
                    sequence_number = record.sequence_number.as_deref().unwrap_or("<none>"),
                    %reason,
                    "malformed stream record dropped: nothing identifies it"
                ),
                Classified::Removed(_) => {}
            }
        }
        Ok(start_executions(&plan, sfn, state_machine_arn).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{DeleteKind, ExecutionInput};
    use crate::key_template::Template;
    use crate::records::tests::stream_record;
    use crate::schema_check::assert_valid;
    use serde_json::{Value, json};

    fn projection() -> Projection {
        Projection::for_template(&Template::parse("{image_key}").expect("template"))
    }

    fn remove(seq: usize) -> Value {
        stream_record(
            "REMOVE",
            &format!("{seq:021}"),
            json!({"id": {"S": format!("id-{seq}")}}),
            Some(json!({"id": {"S": format!("id-{seq}")}, "image_key": {"S": format!("images/{seq}.jpg")}, "blob": {"S": "x".repeat(2000)}})),
        )
    }

    fn event(records: Vec<Value>) -> StreamEvent {
        serde_json::from_value(json!({ "Records": records })).expect("event")
    }

    fn inputs(plan: &Plan) -> Vec<ExecutionInput> {
        plan.executions
            .iter()
            .map(|e| {
                let value: Value = serde_json::from_str(&e.input).expect("input is JSON");
                assert_valid("execution-input.schema.json", &value);
                serde_json::from_value(value).expect("input is an ExecutionInput")
            })
            .collect()
    }

    #[test]
    fn keeps_only_remove_records_in_order() {
        let records = vec![
            stream_record("INSERT", "1", json!({"id": {"S": "a"}}), None),
            remove(2),
            stream_record("MODIFY", "3", json!({"id": {"S": "c"}}), None),
            remove(4),
        ];
        let plan = plan(&event(records), &projection(), PackLimits { max_bytes: MAX_INPUT_BYTES, max_records: 500 });
        assert_eq!(plan.stopped, None);
        let inputs = inputs(&plan);
        assert_eq!(inputs.len(), 1);
        let ids: Vec<&str> = inputs[0].records.iter().map(|r| r.event_id.as_str()).collect();
        assert_eq!(ids, [format!("evt-{:021}", 2), format!("evt-{:021}", 4)]);
        assert_eq!(inputs[0].batch_id, plan.executions[0].name);
        assert_eq!(plan.executions[0].first_record, 1);
        // The 2000-byte `blob` attribute was projected away.
        assert!(plan.executions[0].input.len() < 1000, "{}", plan.executions[0].input.len());
        assert_eq!(inputs[0].records[0].delete_kind, DeleteKind::User);
    }

    #[test]
    fn packs_within_the_record_limit() {
        let records: Vec<Value> = (0..25).map(remove).collect();
        let plan = plan(&event(records), &projection(), PackLimits { max_bytes: MAX_INPUT_BYTES, max_records: 10 });
        let sizes: Vec<usize> = plan.executions.iter().map(|e| e.record_count).collect();
        assert_eq!(sizes, [10, 10, 5]);
        let firsts: Vec<usize> = plan.executions.iter().map(|e| e.first_record).collect();
        assert_eq!(firsts, [0, 10, 20]);
        let all: Vec<String> = inputs(&plan).into_iter().flat_map(|i| i.records).map(|r| r.event_id).collect();
        let expected: Vec<String> = (0..25).map(|i| format!("evt-{i:021}")).collect();
        assert_eq!(all, expected, "every record once, in order");
    }

    #[test]
    fn packs_within_the_byte_limit() {
        let records: Vec<Value> = (0..40).map(remove).collect();
        let limit = 2_000;
        let plan = plan(&event(records), &projection(), PackLimits { max_bytes: limit, max_records: 500 });
        assert_eq!(plan.stopped, None);
        assert!(plan.executions.len() > 1);
        for execution in &plan.executions {
            assert!(execution.input.len() <= limit, "{} > {limit}", execution.input.len());
        }
        assert_eq!(plan.executions.iter().map(|e| e.record_count).sum::<usize>(), 40);
        inputs(&plan);
    }

    #[test]
    fn a_record_too_large_alone_stops_packing_by_name() {
        let mut huge = remove(3);
        huge["dynamodb"]["OldImage"]["image_key"] = json!({"S": "k".repeat(5_000)});
        let records = vec![remove(1), remove(2), huge, remove(4)];
        let plan = plan(&event(records), &projection(), PackLimits { max_bytes: 4_000, max_records: 500 });
        let Some((index, PackError::RecordTooLarge { event_id, bytes, limit })) = &plan.stopped else {
            panic!("expected RecordTooLarge, got {:?}", plan.stopped)
        };
        assert_eq!((*index, event_id.as_str(), *limit), (2, "evt-000000000000000000003", 4_000));
        assert!(*bytes > 5_000);
        assert_eq!(plan.executions.iter().map(|e| e.record_count).sum::<usize>(), 2);
        let failures: Vec<Option<String>> =
            failures_from(&plan.records, *index).into_iter().map(|f| f.item_identifier).collect();
        assert_eq!(failures, [Some(format!("{:021}", 3)), Some(format!("{:021}", 4))]);
    }

    #[test]
    fn batch_names_are_deterministic_and_valid() {
        let rec = |id: &str, seq: &str| RemovedRecord {
            event_id: id.into(),
            sequence_number: seq.into(),
            delete_kind: DeleteKind::User,
            keys: Default::default(),
            old_image: None,
        };
        let a = [rec("e1", "4000000000012345678901"), rec("e2", "4000000000012345678902")];
        let name = batch_name(&a);
        assert_eq!(name, batch_name(&a));
        assert!(name.starts_with("4000000000012345678901-2-"), "{name}");
        assert_ne!(name, batch_name(&a[..1]));
        let odd = [rec("e/1", "seq:with spaces/and\u{e9}")];
        for name in [name, batch_name(&odd), batch_name(&[]), batch_name(&[rec("x", &"9".repeat(200))])] {
            assert!(name.len() <= MAX_NAME_CHARS, "{name}");
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'), "{name}");
        }
    }

    #[test]
    fn failures_list_every_later_record_but_not_dropped_malformed_ones() {
        let records = vec![remove(1), stream_record("INSERT", "2", json!({"id": {"S": "b"}}), None), json!({"junk": 1}), remove(4)];
        let plan = plan(&event(records), &projection(), PackLimits { max_bytes: MAX_INPUT_BYTES, max_records: 500 });
        let ids: Vec<Option<String>> = failures_from(&plan.records, 0).into_iter().map(|f| f.item_identifier).collect();
        assert_eq!(ids, [Some(format!("{:021}", 1)), Some("2".to_owned()), Some(format!("{:021}", 4))]);
    }

    #[cfg(feature = "sfn")]
    mod with_sfn {
        use super::*;
        use aws_sdk_sfn::Client;
        use aws_sdk_sfn::config::retry::RetryConfig;
        use aws_sdk_sfn::operation::start_execution::{StartExecutionError, StartExecutionOutput};
        use aws_sdk_sfn::types::error::ExecutionAlreadyExists;
        use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
        use aws_smithy_types::error::ErrorMetadata;
        use std::collections::HashMap;
        use std::sync::{Arc, Mutex};

        const ARN: &str = "arn:aws:states:eu-west-1:123456789012:stateMachine:purge";

        fn client(rules: &[&Rule]) -> Client {
            mock_client!(aws_sdk_sfn, RuleMode::Sequential, rules, |conf| conf.retry_config(RetryConfig::disabled()))
        }

        fn started() -> Rule {
            mock!(Client::start_execution).then_output(|| {
                StartExecutionOutput::builder()
                    .execution_arn(format!("{ARN}:x"))
                    .start_date(aws_smithy_types::DateTime::from_secs(0))
                    .build()
                    .expect("complete output")
            })
        }

        fn config(max_records: &str) -> Config {
            let vars = HashMap::from([
                ("PURGE_KEY_TEMPLATE", "{image_key}"),
                ("PURGE_STATE_MACHINE_ARN", ARN),
                ("PURGE_MAX_RECORDS_PER_EXECUTION", max_records),
            ]);
            Config::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned())).expect("valid config")
        }

        #[tokio::test]
        async fn all_started_means_no_failures_and_names_match_batch_ids() {
            let names = Arc::new(Mutex::new(Vec::new()));
            let seen = names.clone();
            let rule = mock!(Client::start_execution)
                .match_requests(|req| req.state_machine_arn() == Some(ARN))
                .then_compute_output(move |req| {
                    let input: ExecutionInput = serde_json::from_str(req.input().unwrap_or_default()).expect("input");
                    assert_eq!(Some(input.batch_id.as_str()), req.name());
                    seen.lock().expect("lock").push(input.records.len());
                    StartExecutionOutput::builder()
                        .execution_arn("arn:x")
                        .start_date(aws_smithy_types::DateTime::from_secs(0))
                        .build()
                        .expect("complete output")
                });
            let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &[&rule], |conf| conf.retry_config(RetryConfig::disabled()));
            let records: Vec<Value> = (0..7).map(remove).collect();
            let response = handle_stream_event(event(records), &config("3"), &sfn).await.expect("handled");
            assert!(response.batch_item_failures.is_empty());
            assert_eq!(*names.lock().expect("lock"), [3, 3, 1]);
        }

        #[tokio::test]
        async fn start_execution_failure_midway_returns_failures_from_that_batch_on() {
            let throttled = mock!(Client::start_execution).then_error(|| {
                StartExecutionError::generic(ErrorMetadata::builder().code("ThrottlingException").message("Rate exceeded").build())
            });
            let first = started();
            let never = started();
            let sfn = client(&[&first, &throttled, &never]);
            // 3 records per execution: [0,1,2] started, [3,4,5] throttled, [6] never attempted.
            let mut records: Vec<Value> = (0..6).map(remove).collect();
            records.insert(4, stream_record("MODIFY", "000000000000000000000099", json!({"id": {"S": "m"}}), None));
            records.push(remove(6));
            let response = handle_stream_event(event(records), &config("3"), &sfn).await.expect("handled");
            let ids: Vec<String> =
                response.batch_item_failures.into_iter().map(|f| f.item_identifier.expect("identifier")).collect();
            let mut expected: Vec<String> = vec![format!("{:021}", 3), "000000000000000000000099".into()];
            expected.extend([4, 5, 6].map(|i| format!("{i:021}")));
            assert_eq!(ids, expected);
            assert_eq!(first.num_calls(), 1);
            assert_eq!(throttled.num_calls(), 1);
            assert_eq!(never.num_calls(), 0, "nothing after a failure is started");
        }

        #[tokio::test]
        async fn first_start_failure_fails_every_record() {
            let denied = mock!(Client::start_execution).then_error(|| {
                StartExecutionError::generic(ErrorMetadata::builder().code("AccessDeniedException").build())
            });
            let sfn = client(&[&denied]);
            let records: Vec<Value> = (0..4).map(remove).collect();
            let response = handle_stream_event(event(records), &config("500"), &sfn).await.expect("handled");
            assert_eq!(response.batch_item_failures.len(), 4);
            assert_eq!(response.batch_item_failures[0].item_identifier.as_deref(), Some(format!("{:021}", 0).as_str()));
        }

        #[tokio::test]
        async fn an_existing_execution_counts_as_handed_over() {
            let exists = mock!(Client::start_execution).then_error(|| {
                StartExecutionError::ExecutionAlreadyExists(ExecutionAlreadyExists::builder().message("exists").build())
            });
            let sfn = client(&[&exists]);
            let response = handle_stream_event(event(vec![remove(1)]), &config("500"), &sfn).await.expect("handled");
            assert!(response.batch_item_failures.is_empty());
        }

        #[tokio::test]
        async fn missing_configuration_fails_at_the_handler() {
            let sfn = client(&[]);
            let config = Config::from_lookup(|_| None).expect("defaults");
            let err = handle_stream_event(event(vec![remove(1)]), &config, &sfn).await.expect_err("no template");
            assert_eq!(err.error_type(), crate::error::names::INVALID_CONFIG);
        }

        #[tokio::test]
        async fn an_empty_batch_starts_nothing() {
            let sfn = client(&[]);
            let response = handle_stream_event(StreamEvent::default(), &config("500"), &sfn).await.expect("handled");
            assert!(response.batch_item_failures.is_empty());
        }
    }
}
