//! The data passed between the steps of the purge state machine.
//!
//! Every type here has a JSON Schema twin in `statemachine/schemas/` (the single source of truth
//! for the wire format); tests check handler outputs against those schemas. Field names are
//! camelCase on the wire. Attribute maps use DynamoDB's JSON form (`{"S": "x"}`), exactly as a
//! stream record carries them, so a report's `replayInput` can be pasted back into the console.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Map;

pub use serde_json::Value;

use crate::TaskError;

/// Reads a task's input (or a report's original execution input) from JSON. Every task binary
/// and the in-process handlers read their input through here, so a wrong type is named by its
/// JSON path in words a person can act on (`targets[3].key: expected a string, found integer
/// 5`), not as serde's bare `invalid type: integer 5`, and fails as `PurgeFlow.InvalidInput`.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, TaskError> {
    parse(value).map_err(TaskError::InvalidInput)
}

/// [`from_value`]'s reading, with the error as the bare description (path and what was wrong).
pub fn parse<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| describe_type_error(&e))
}

/// How much of a wrong value an error message shows.
const MAX_FOUND_CHARS: usize = 80;

/// `targets[3].key: expected a string, found integer 5`; `targets[0].bucket: required field is
/// missing`; at the top level the field or `the input` stands first.
fn describe_type_error(error: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = error.path().to_string();
    let inner = error.inner().to_string();
    let at = |field: Option<&str>| -> String {
        match (path.as_str(), field) {
            (".", None) => "the input".to_owned(),
            (".", Some(field)) => field.to_owned(),
            (path, None) => path.to_owned(),
            (path, Some(field)) => format!("{path}.{field}"),
        }
    };
    if let Some(rest) = inner.strip_prefix("missing field `")
        && let Some(field) = rest.strip_suffix('`')
    {
        return format!("{}: required field is missing", at(Some(field)));
    }
    for kind in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = inner.strip_prefix(kind)
            && let Some((found, expected)) = rest.rsplit_once(", expected ")
        {
            // serde quotes the value it found in backticks (`integer `5``), and shows a string
            // whole: a long one is cut, so the message stays within a Lambda error's cause.
            let mut found = found.replace('`', "");
            if let Some((cut, _)) = found.char_indices().nth(MAX_FOUND_CHARS) {
                found.truncate(cut);
                found.push_str("...");
            }
            return format!(
                "{}: expected {}, found {}",
                at(None),
                json_words(expected),
                json_words(&found)
            );
        }
    }
    format!("{}: {inner}", at(None))
}

/// serde's names for what it expected or found, in JSON's words: `a sequence` is a list, a
/// `map` or a `struct ExecutionInput` an object, and a unit enum (`string or map`) a string.
fn json_words(serde_words: &str) -> &str {
    match serde_words {
        "a sequence" | "sequence" => "a list",
        "a map" | "map" => "an object",
        "string or map" => "a string",
        words if words.starts_with("struct ") => "an object",
        words => words,
    }
}

/// A `batchId` as ReportFailures receives it: the execution input's, whatever it held. ReportFailures
/// must report any execution, including one whose input had no usable `batchId` (the report
/// then says why its input can't be replayed); such a batch id reads as empty.
fn lenient_batch_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(id) => id,
        _ => String::new(),
    })
}

/// A DynamoDB item or key in DynamoDB JSON (`{"photo_id": {"S": "p1"}}`).
pub type AttributeMap = Map<String, Value>;

/// The input of one execution of the purge state machine.
///
/// The trigger fills `records`. A replay (from a failure report) may instead carry `targets`
/// whose delete failed, and/or `batches` whose invalidation failed: only what is left to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionInput {
    /// Identifies the work: derived from the stream sequence numbers (or the replayed content),
    /// so two deliveries of the same batch, or a replay of it, share one id.
    pub batch_id: String,
    #[serde(default)]
    pub records: Vec<RemovedRecord>,
    /// Replay only: targets whose delete failed. ValidateRecords checks them again (prefix,
    /// unsafe key, superseded) before anything is deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<PurgeTarget>,
    /// Replay only: invalidation batches that were not created. Passed through BatchPaths
    /// unchanged, so they keep their CallerReference.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batches: Vec<InvalidationBatch>,
    /// Records the trigger could not hand over as they are, already rejected by name: a record
    /// too large for any execution input can never succeed, so instead of a batch item failure
    /// that the stream would retry until the record expires, it travels as its rejection.
    /// ValidateRecords reports them with its own; they delete nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejections: Vec<Rejection>,
    /// The MAC over everything above (`crate::signing`): the trigger and every report sign
    /// what they make, and ValidateRecords verifies it before anything is touched. Absent on a
    /// hand-written input, which only `PURGE_ALLOW_UNSIGNED_INPUTS=true` admits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<crate::signing::Mac>,
}

/// Who removed the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeleteKind {
    /// Deleted through the API by a user or application.
    User,
    /// Expired by DynamoDB's TTL (`userIdentity.principalId == "dynamodb.amazonaws.com"`).
    Ttl,
}

/// One REMOVE record from the table's stream, with its old image projected down to the
/// attributes the key rules need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovedRecord {
    pub event_id: String,
    pub sequence_number: String,
    pub delete_kind: DeleteKind,
    /// The item's primary key.
    pub keys: AttributeMap,
    /// The projected old image; `None` when the stream is KEYS_ONLY.
    #[serde(default)]
    pub old_image: Option<AttributeMap>,
}

/// What one valid record purges: one object and the CDN paths that served it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PurgeTarget {
    pub bucket: String,
    pub key: String,
    pub paths: Vec<String>,
    /// The record it came from, for reports and the supersede check.
    pub event_id: String,
    pub table_keys: AttributeMap,
}

/// Why a record was rejected. The names are stable: reports and alarms match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RejectionReason {
    /// No old image: the stream is KEYS_ONLY (or NEW_IMAGE), so the key can't be computed.
    MissingOldImage,
    /// The key template names an attribute the item does not have.
    MissingAttribute,
    /// The attribute is not of type S or N.
    WrongAttributeType,
    /// The computed key is not under `PURGE_KEY_PREFIX`.
    KeyOutsidePrefix,
    /// `..` segment, leading `/`, control character, `*` or `?`, empty, or over 1024 bytes.
    UnsafeKey,
    /// The stream record itself is malformed (not a REMOVE, unparseable attributes, ...).
    MalformedRecord,
    /// The supersede check could not read the item (DynamoDB left its key unprocessed past the
    /// retry budget), so it is not known whether the item was re-created: the object is kept.
    SupersedeUnchecked,
    /// The record is too large for any execution input (its projected attributes, or what they
    /// become downstream, pass the trigger's 200 KiB budget) although no other rule rejects it:
    /// it was not handed over, so its object is kept.
    RecordTooLarge,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejection {
    pub event_id: String,
    pub keys: AttributeMap,
    pub reason: RejectionReason,
    /// Human-readable detail, e.g. "attribute `type` is of type BOOL, expected S or N".
    pub detail: String,
}

/// A record whose item exists again and still references the same object: nothing is deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SupersededRecord {
    pub event_id: String,
    pub keys: AttributeMap,
    pub bucket: String,
    pub key: String,
}

/// Why a record was skipped on purpose (not an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IgnoreReason {
    /// A TTL delete while `PURGE_TTL_DELETES=ignore`.
    TtlDelete,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IgnoredRecord {
    pub event_id: String,
    pub keys: AttributeMap,
    pub reason: IgnoreReason,
}

/// ValidateRecords' output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationOutput {
    pub batch_id: String,
    pub targets: Vec<PurgeTarget>,
    pub rejections: Vec<Rejection>,
    pub superseded: Vec<SupersededRecord>,
    pub ignored: Vec<IgnoredRecord>,
    /// Replayed invalidation batches, passed through untouched.
    pub batches: Vec<InvalidationBatch>,
    /// Whether the input's MAC verified (`verified`) or the input was admitted without one
    /// (`unverified`, only with `PURGE_ALLOW_UNSIGNED_INPUTS=true`). The state machine hands it
    /// to ReportFailures, which signs a replay input only of verified content.
    pub signature: crate::signing::InputSignature,
}

/// DeleteObjects' input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteInput {
    pub batch_id: String,
    pub targets: Vec<PurgeTarget>,
}

/// DeleteObjects' output. Per-key errors are reported here, never thrown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOutput {
    /// Deleted, or already absent (a missing key counts as deleted: the step is idempotent).
    pub deleted: Vec<PurgeTarget>,
    pub failed: Vec<DeleteFailure>,
    /// DeleteObjects requests made (for figures and tests).
    pub requests: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteFailure {
    pub target: PurgeTarget,
    /// S3's error code, e.g. "AccessDenied".
    pub code: String,
    pub message: String,
}

/// BatchPaths' input: the paths of what was deleted, plus replayed batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchPathsInput {
    pub batch_id: String,
    pub deleted: Vec<PurgeTarget>,
    #[serde(default)]
    pub batches: Vec<InvalidationBatch>,
}

/// One CreateInvalidation request's worth of paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvalidationBatch {
    pub distribution_id: String,
    /// Derived from the batch's content and the execution's batch id (not from time), so a
    /// retry or replay of the same batch gets the same invalidation back instead of a new charge,
    /// while a later delete of the same path still invalidates again.
    pub caller_reference: String,
    /// CloudFront-encoded paths, sorted.
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchPathsOutput {
    pub batches: Vec<InvalidationBatch>,
    /// Distinct input paths before folding (for figures and reports).
    pub path_count: u32,
    /// Replayed batches that were not sent because they break the replay rules (another
    /// distribution, a path outside the purge area, too many wildcards, ...). Absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped_batches: Vec<DroppedBatch>,
}

/// A replayed invalidation batch BatchPaths refused to send, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DroppedBatch {
    pub distribution_id: String,
    pub caller_reference: String,
    /// How many paths the batch held (the paths themselves are not carried: up to 3000).
    pub path_count: u32,
    pub reason: String,
}

/// InvalidateCache's input: one batch, and how many times the state machine has retried it
/// (`$states.context.State.RetryCount`), which is its pressure level (see `pressure.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvalidateInput {
    #[serde(flatten)]
    pub batch: InvalidationBatch,
    /// 0 (or absent, as in a batch replayed by hand): the batch as planned.
    #[serde(default)]
    pub pressure: u32,
}

impl From<InvalidationBatch> for InvalidateInput {
    fn from(batch: InvalidationBatch) -> Self {
        InvalidateInput { batch, pressure: 0 }
    }
}

/// InvalidateCache's output for one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvalidationResult {
    pub distribution_id: String,
    /// The CallerReference sent: the batch's own, or the folded batch's under pressure.
    pub caller_reference: String,
    pub invalidation_id: String,
    pub status: String,
    pub path_count: u32,
    /// Set when the batch was sent folded under pressure: the level it was folded at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pressure_level: Option<u32>,
}

/// A batch whose invalidation could not be created (after retries), as the state machine's Map
/// iteration hands it to ReportFailures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedInvalidation {
    pub batch: InvalidationBatch,
    pub error: String,
    pub cause: String,
}

/// An error caught by a Catch (`States.ALL`), as Step Functions hands it over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaughtError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

/// ReportFailures' input: everything that went wrong in one execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportInput {
    pub execution_name: String,
    /// The execution ARN (`$$.Execution.Id`), used for the console link.
    #[serde(default)]
    pub execution_arn: Option<String>,
    /// When the execution started (`$$.Execution.StartTime`, RFC 3339): the Express console
    /// link needs it to find the execution's log events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_start_time: Option<String>,
    /// The execution input's `batchId`: empty when it had none, or not a string (see
    /// `originalInput`).
    #[serde(default, deserialize_with = "lenient_batch_id")]
    pub batch_id: String,
    #[serde(default)]
    pub rejections: Vec<Rejection>,
    #[serde(default)]
    pub delete_failures: Vec<DeleteFailure>,
    #[serde(default)]
    pub failed_invalidations: Vec<FailedInvalidation>,
    /// Replayed batches BatchPaths refused (see [`DroppedBatch`]). Reported, never replayed:
    /// a replay would refuse them again.
    #[serde(default)]
    pub dropped_batches: Vec<DroppedBatch>,
    /// Set when a task failed outright and was caught; the original input is then replayed whole.
    #[serde(default)]
    pub caught: Option<CaughtError>,
    /// The execution's input as it was given (`$states.context.Execution.Input`), of any shape:
    /// a task may have failed precisely because it is not an [`ExecutionInput`]. The report
    /// replays it when it is one, and otherwise carries it as [`UnreplayableInput`].
    #[serde(default)]
    pub original_input: Option<Value>,
    /// What ValidateRecords found about the input's MAC (absent after a caught error, when
    /// ReportFailures checks `originalInput` itself). The report signs its `replayInput` only
    /// when this says `verified`: content never verified is never signed (see `crate::signing`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_signature: Option<crate::signing::InputSignature>,
}

/// Why a report carries its execution's input instead of replaying it. The names are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnreplayableReason {
    /// The execution input is not an [`ExecutionInput`] (a field missing or of the wrong type):
    /// replaying it would fail the same way. It needs a person to fix it.
    InvalidExecutionInput,
    /// The execution input has no MAC (`PurgeFlow.UnsignedInput`): purgeflow did not make it,
    /// so it deleted nothing, and the report does not sign it. A person checks it and starts
    /// it with `PURGE_ALLOW_UNSIGNED_INPUTS=true`, or drops it.
    UnsignedInput,
    /// The execution input's MAC does not verify (`PurgeFlow.BadSignature`): it was edited
    /// after purgeflow signed it, or signed with another key. It deleted nothing.
    BadSignature,
}

/// Why a report's `replayInput` carries no MAC, so a replay of it needs
/// `PURGE_ALLOW_UNSIGNED_INPUTS=true`. The names are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnsignedReplayReason {
    /// The execution's input was admitted without a verified MAC (the opt-out): what is left
    /// of it is not signed either, so turning the opt-out off again refuses it.
    InputNotVerified,
    /// KMS could not verify the execution's input or sign the replay input (throttled, down,
    /// access denied): the report goes out anyway, unsigned.
    KmsUnavailable,
}

/// Set on a report whose `replayInput` is not signed, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnsignedReplay {
    pub reason: UnsignedReplayReason,
    pub detail: String,
}

/// An execution input a report could not turn into a `replayInput`, carried as it was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnreplayableInput {
    pub reason: UnreplayableReason,
    /// What is wrong with it, by JSON path: `targets[3].key: expected a string, found integer 5`.
    pub detail: String,
    /// The input as given; when it would not fit in one SNS message next to the rest of the
    /// report, the start of its JSON text instead, and `truncated` is set (the whole input is in
    /// the execution's log, behind the console link).
    pub input: Value,
    /// The size of the input's JSON text in bytes.
    pub input_bytes: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// The SNS message body: one failure report. Several are sent when one would pass 256 KiB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureReport {
    pub report_version: u32,
    pub execution_name: String,
    #[serde(default)]
    pub execution_arn: Option<String>,
    #[serde(default)]
    pub console_url: Option<String>,
    pub batch_id: String,
    /// 1-based part number and total, when the report is split.
    pub part: u32,
    pub parts: u32,
    pub rejections: Vec<Rejection>,
    pub delete_failures: Vec<DeleteFailure>,
    pub failed_invalidations: Vec<FailedInvalidation>,
    /// Replayed batches BatchPaths refused, and why. Absent from reports written before they
    /// were reported, hence the default.
    #[serde(default)]
    pub dropped_batches: Vec<DroppedBatch>,
    #[serde(default)]
    pub caught: Option<CaughtError>,
    /// A valid execution input holding only what is left to do, or `None` when nothing can be
    /// retried (e.g. only rejections, which a replay would reject again, or an execution input
    /// that is not one: see `unreplayable_input`).
    pub replay_input: Option<ExecutionInput>,
    /// Set when a task failed on an execution input that can't be replayed: why, and the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreplayable_input: Option<UnreplayableInput>,
    /// Set when `replay_input` carries no MAC: why. Absent when it is signed or absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsigned_replay: Option<UnsignedReplay>,
}

/// ReportFailures' output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportOutput {
    pub message_ids: Vec<String>,
    pub rejected: u32,
    pub delete_failed: u32,
    pub invalidations_failed: u32,
    /// A one-line summary the state machine uses as the Fail state's cause.
    pub summary: String,
}

/// Why the state machine deferred a batch: CloudFront's refusal, or the backlog gate's, by the
/// `errorType` the invalidate-cache task reported (the names in [`crate::error::names`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeferralCause {
    /// The distribution already holds 3,000 paths or 15 wildcards in progress.
    #[serde(rename = "PurgeFlow.TooManyInvalidationsInProgress")]
    TooManyInvalidationsInProgress,
    /// CreateInvalidation's call rate was throttled.
    #[serde(rename = "PurgeFlow.Throttled")]
    Throttled,
    /// Batches were already waiting on the deferral queue, so the execution did not ask
    /// CloudFront itself (`backlog_gate.rs`, `PURGE_SKIP_DIRECT_BACKLOG`).
    #[serde(rename = "PurgeFlow.BacklogWaiting")]
    BacklogWaiting,
}

/// One message on the deferral queue: a batch CloudFront refused (or the backlog gate held back
/// from it), sent by the state machine's
/// `DeferBatch` state (Step Functions' SQS integration) for the dispatcher to invalidate later.
///
/// `batch` is the batch exactly as BatchPaths made it (never the pressure-folded one), so its
/// paths are what must be covered. Unknown fields are ignored, so a later field (a MAC) does not
/// break a dispatcher that does not know it yet. Schema:
/// `statemachine/schemas/deferred-batch.schema.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeferredBatch {
    pub batch: InvalidationBatch,
    /// The execution input's `batchId`.
    pub batch_id: String,
    pub execution_name: String,
    pub execution_arn: String,
    /// When the state machine deferred it (`$states.context.State.EnteredTime`: ISO-8601 UTC).
    pub deferred_at: String,
    pub error: DeferralCause,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::names;
    use crate::schema_check::assert_valid;
    use serde_json::json;

    fn deferred(error: DeferralCause) -> DeferredBatch {
        DeferredBatch {
            batch: InvalidationBatch {
                distribution_id: "E2QWRUHEXAMPLE".into(),
                caller_reference: "purgeflow-f300d877".into(),
                paths: vec!["/a.jpg".into(), "/thumbs/a.jpg".into()],
            },
            batch_id: "400000000031572090137-1-4a90afbe50e0ef5c".into(),
            execution_name: "400000000031572090137-1-4a90afbe50e0ef5c".into(),
            execution_arn: "arn:aws:states:us-east-1:123456789012:express:purge:400000000031572090137-1-4a90afbe50e0ef5c:4e2d".into(),
            deferred_at: "2026-12-07T00:13:55.123Z".into(),
            error,
        }
    }

    #[test]
    fn a_deferred_batch_matches_its_schema_under_every_cause() {
        for (cause, name) in [
            (
                DeferralCause::TooManyInvalidationsInProgress,
                names::TOO_MANY_INVALIDATIONS,
            ),
            (DeferralCause::Throttled, names::THROTTLED),
            (DeferralCause::BacklogWaiting, names::BACKLOG_WAITING),
        ] {
            let value = serde_json::to_value(deferred(cause)).expect("serialises");
            assert_eq!(value["error"], json!(name));
            assert_valid("deferred-batch.schema.json", &value);
        }
    }

    #[test]
    fn a_deferred_batch_ignores_fields_it_does_not_know() {
        let mut value = serde_json::to_value(deferred(DeferralCause::Throttled)).expect("json");
        value["mac"] = json!("added by a later version");
        assert_valid("deferred-batch.schema.json", &value);
        let read: DeferredBatch = serde_json::from_value(value).expect("unknown fields ignored");
        assert_eq!(read, deferred(DeferralCause::Throttled));
    }

    #[test]
    fn a_deferral_for_another_error_is_refused_by_type_and_schema() {
        let mut value = serde_json::to_value(deferred(DeferralCause::Throttled)).expect("json");
        value["error"] = json!(names::TRANSIENT);
        assert!(serde_json::from_value::<DeferredBatch>(value.clone()).is_err());
        crate::schema_check::assert_invalid("deferred-batch.schema.json", &value);
    }
}
