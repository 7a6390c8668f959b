//! Packing a batch's REMOVE records, in stream order, into execution inputs within the byte
//! budget (each record costed by [`DownstreamCost`]) and the record limit.

use thiserror::Error;

use super::cost::{DownstreamCost, json_len};
use super::name::{BatchNamer, MAX_NAME_CHARS};
use crate::config::Config;
use crate::contract::{Rejection, RejectionReason};
use crate::records::{Classified, ClassifiedRecord, HandedOver};
use crate::validation::{Verdict, validate_record};

/// The byte budget of one execution's records. Step Functions limits every piece of state
/// data (a state's input and output, a task's arguments and result, the variables one `Assign`
/// sets) to 256 KiB and fails an execution that exceeds it with `States.DataLimitExceeded`,
/// which no Catch sees, so nothing would be reported. The trigger therefore budgets each record
/// by what it can become downstream ([`DownstreamCost`]), not only by its input bytes, and
/// keeps the sum of those costs under 200 KiB. The remaining 56 KiB cover what a state holds
/// besides its records; the largest is ReportFailures' arguments, at most ~17 KiB: the
/// execution's name, ARN, start time and batch id (< 1 KiB), and either one caught error or
/// the error of each of at most two failed invalidation batches (with its distribution id and
/// CallerReference), where the definition cuts every `Error` to 256 and every `Cause` to 1000
/// characters, 6 bytes each at most once JSON-escaped. Because a record's encoded paths are
/// costed twice, the budget also keeps any one failed invalidation batch, which
/// ReportFailures writes twice into a single message, under SNS's 256 KiB.
pub const MAX_INPUT_BYTES: usize = 200 * 1024;

/// Size and count limits of one execution input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackLimits {
    pub max_bytes: usize,
    pub max_records: usize,
}

impl PackLimits {
    /// The limits and the downstream cost model `config` implies: the trigger's packing.
    ///
    /// The record limit is [`Config::max_records_per_execution_for_paths`], so an execution's
    /// CDN paths fit one wave of invalidations. Without a key template (the trigger refuses to
    /// run without one) records are budgeted by their input bytes only.
    pub fn from_config(config: &Config) -> Packing<'_> {
        Packing {
            limits: PackLimits {
                max_bytes: MAX_INPUT_BYTES,
                max_records: config.max_records_per_execution_for_paths(),
            },
            downstream: DownstreamCost::from_config(config),
        }
    }
}

/// How [`plan`](super::plan) packs: the limits, and what a record costs against [`PackLimits::max_bytes`].
#[derive(Debug, Clone)]
pub struct Packing<'a> {
    pub limits: PackLimits,
    /// `None`: a record costs its input bytes (for callers without a configuration, such as
    /// benchmarks of the transform itself).
    pub downstream: Option<DownstreamCost<'a>>,
}

impl From<PackLimits> for Packing<'static> {
    fn from(limits: PackLimits) -> Self {
        Packing {
            limits,
            downstream: None,
        }
    }
}

impl Packing<'_> {
    /// What `record` costs against the byte budget.
    fn cost(&self, record: &HandedOver) -> usize {
        match &self.downstream {
            Some(downstream) => downstream.cost(record),
            None => record.json.len(),
        }
    }

    /// A record too large for any execution, as the rejection it travels as instead. It can
    /// never succeed as it is, so retrying it would only block its shard until the stream drops
    /// it. The name is ValidateRecords' own verdict when that is a rejection (a 200 KB
    /// `image_key` is `UnsafeKey`: longer than S3's 1,024 bytes; a list is
    /// `WrongAttributeType`), else `RecordTooLarge`.
    fn too_large(&self, record: &HandedOver, cost: usize, limit: usize) -> Rejection {
        let parsed = record.record().ok();
        let verdict = match (&self.downstream, &parsed) {
            (Some(downstream), Some(parsed)) => Some(validate_record(parsed, &downstream.rules)),
            _ => None,
        };
        let not_handed_over = format!(
            "the record may become {cost} bytes of state data, more than the {limit}-byte budget of one execution, so the trigger did not hand it over"
        );
        let mut rejection = match verdict {
            Some(Verdict::Rejected(mut rejection)) => {
                rejection.detail = format!("{} ({not_handed_over})", rejection.detail);
                rejection
            }
            other => {
                let kept = match other {
                    Some(Verdict::Target(target)) => {
                        format!("; its object {} is kept: delete it by hand", target.key)
                    }
                    _ => String::new(),
                };
                Rejection {
                    event_id: record.event_id.clone(),
                    keys: parsed.map(|parsed| parsed.keys).unwrap_or_default(),
                    reason: RejectionReason::RecordTooLarge,
                    detail: format!("{not_handed_over}{kept}"),
                }
            }
        };
        rejection.detail = bounded_detail(&rejection.detail);
        rejection
    }
}

/// A structurally broken stream record (see [`crate::records`]) as the `MalformedRecord`
/// rejection it is reported as. Nothing identifies its item, so its keys are empty and the
/// detail says why it could not be read; a record without an `eventID` is named as such.
fn malformed_rejection(event_id: Option<&str>, reason: &str) -> Rejection {
    Rejection {
        event_id: event_id.unwrap_or(NO_EVENT_ID).to_owned(),
        keys: Default::default(),
        reason: RejectionReason::MalformedRecord,
        detail: bounded_detail(&format!(
            "the stream record could not be read, so nothing was deleted for it: {reason}"
        )),
    }
}

/// The `eventId` of a malformed record's rejection when the record has none.
pub const NO_EVENT_ID: &str = "<no eventID>";

/// The most a rejection's detail made by the trigger holds, in bytes: every rule's message
/// fits (key_safety already shortens a long key), and the rejection stays small whatever the
/// record held.
pub const MAX_REJECTION_DETAIL_BYTES: usize = 1000;

/// `detail` cut to [`MAX_REJECTION_DETAIL_BYTES`] at a character boundary.
fn bounded_detail(detail: &str) -> String {
    if detail.len() <= MAX_REJECTION_DETAIL_BYTES {
        return detail.to_owned();
    }
    const CUT: &str = "...";
    let mut end = MAX_REJECTION_DETAIL_BYTES - CUT.len();
    while !detail.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{CUT}", &detail[..end])
}

/// Why packing stopped before the end of the batch.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PackError {
    /// Too large for any execution even as its rejection: only a record whose table keys alone
    /// pass the budget, which DynamoDB's key limits (2,048 + 1,024 bytes) never allow.
    #[error(
        "record {event_id} may become {bytes} bytes of state data, more than the {limit}-byte budget of one execution, even as its rejection; \
         it is returned as a batch item failure for the on-failure queue"
    )]
    RecordTooLarge {
        event_id: String,
        bytes: usize,
        limit: usize,
    },
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

/// Serialised size of the input around its records and rejections, with the longest possible
/// name and the MAC the trigger adds:
/// `{"batchId":"<name>","records":[` … `],"rejections":[` … `],"mac":{...}}`.
const ENVELOPE_BYTES: usize = r#"{"batchId":"","records":[],"rejections":[]}"#.len()
    + MAX_NAME_CHARS
    + crate::signing::MAX_MAC_FIELD_BYTES;

/// The execution being filled: its records' JSON and its rejections' JSON, comma-separated, the
/// sum of their costs, and its name so far.
struct Pending {
    first_record: usize,
    count: usize,
    body: String,
    rejections: String,
    cost: usize,
    name: BatchNamer,
}

impl Pending {
    fn new(first_record: usize) -> Self {
        Pending {
            first_record,
            count: 0,
            body: String::new(),
            rejections: String::new(),
            cost: 0,
            name: BatchNamer::default(),
        }
    }

    /// The execution's cost if a record costing `record_cost` were added.
    fn cost_with(&self, record_cost: usize) -> usize {
        ENVELOPE_BYTES + self.cost + record_cost
    }

    fn push(&mut self, record: &HandedOver, cost: usize) {
        if !self.body.is_empty() {
            self.body.push(',');
        }
        self.cost += cost;
        self.body.push_str(&record.json);
        self.name.add(&record.event_id, &record.sequence_number);
        self.count += 1;
    }

    /// A record handed over as its rejection; `json` is the serialised [`Rejection`].
    fn push_rejection(&mut self, record: &HandedOver, json: &str, cost: usize) {
        self.push_named_rejection(&record.event_id, &record.sequence_number, json, cost);
    }

    /// A rejection for the record with this event id and sequence number.
    fn push_named_rejection(
        &mut self,
        event_id: &str,
        sequence_number: &str,
        json: &str,
        cost: usize,
    ) {
        if !self.rejections.is_empty() {
            self.rejections.push(',');
        }
        self.cost += cost;
        self.rejections.push_str(json);
        // Named with the records, in stream order: a redelivered batch gets the same name.
        self.name.add(event_id, sequence_number);
        self.count += 1;
    }

    fn finish(self) -> PackedExecution {
        let name = self.name.finish();
        let mut input = String::with_capacity(ENVELOPE_BYTES + self.body.len());
        // The name is [0-9A-Za-z_-] only, so it needs no escaping; writing the envelope by hand
        // keeps the records' already-serialised JSON from being parsed again.
        input.push_str(r#"{"batchId":""#);
        input.push_str(&name);
        input.push_str(r#"","records":["#);
        input.push_str(&self.body);
        if !self.rejections.is_empty() {
            input.push_str(r#"],"rejections":["#);
            input.push_str(&self.rejections);
        }
        input.push_str("]}");
        PackedExecution {
            name,
            input,
            first_record: self.first_record,
            record_count: self.count,
        }
    }
}

pub(super) fn pack(records: &[ClassifiedRecord], packing: &Packing<'_>) -> Packed {
    let limits = packing.limits;
    let max_records = limits.max_records.max(1);
    let mut packed = Packed::default();
    let mut pending: Option<Pending> = None;
    for (index, classified) in records.iter().enumerate() {
        let record = match &classified.outcome {
            Classified::Removed(record) => record,
            Classified::Malformed { event_id, reason } => {
                // Reported, not dropped: the execution's ValidateRecords publishes it with its
                // other rejections, so a broken record is named on the failure topic.
                let rejection = malformed_rejection(event_id.as_deref(), reason);
                let cost = json_len(&rejection) + 1;
                let current = room_for(
                    &mut pending,
                    &mut packed,
                    index,
                    cost,
                    max_records,
                    limits.max_bytes,
                );
                // Contract types always serialise.
                let json = serde_json::to_string(&rejection).unwrap_or_default();
                current.push_named_rejection(
                    &rejection.event_id,
                    classified.sequence_number.as_deref().unwrap_or_default(),
                    &json,
                    cost,
                );
                continue;
            }
            Classified::Other { .. } => continue,
        };
        // A record's cost counts its separating comma and is never below its input bytes, so
        // the budget bounds the input's size too.
        let cost = packing.cost(record).max(record.json.len() + 1);
        let mut rejected = None;
        let cost = if ENVELOPE_BYTES + cost > limits.max_bytes {
            let rejection = packing.too_large(record, cost, limits.max_bytes);
            // A rejection is in each state's data at most once, as the record would have been.
            let rejection_cost = json_len(&rejection) + 1;
            if ENVELOPE_BYTES + rejection_cost > limits.max_bytes {
                let error = PackError::RecordTooLarge {
                    event_id: record.event_id.clone(),
                    bytes: cost,
                    limit: limits.max_bytes,
                };
                packed
                    .executions
                    .extend(pending.take().map(Pending::finish));
                packed.stopped = Some((index, error));
                return packed;
            }
            rejected = Some(rejection);
            rejection_cost
        } else {
            cost
        };
        let current = room_for(
            &mut pending,
            &mut packed,
            index,
            cost,
            max_records,
            limits.max_bytes,
        );
        match rejected {
            None => current.push(record, cost),
            Some(rejection) => {
                // Contract types always serialise.
                let json = serde_json::to_string(&rejection).unwrap_or_default();
                current.push_rejection(record, &json, cost);
                packed.rejected.push((index, rejection));
            }
        }
    }
    packed.executions.extend(pending.map(Pending::finish));
    packed
}

/// The execution the record at `index`, costing `cost`, goes into: the one being filled, or a
/// new one when the record would pass the byte budget or the record limit (the full one is
/// finished into `packed`).
fn room_for<'p>(
    pending: &'p mut Option<Pending>,
    packed: &mut Packed,
    index: usize,
    cost: usize,
    max_records: usize,
    max_bytes: usize,
) -> &'p mut Pending {
    if let Some(current) = pending.as_ref()
        && (current.cost_with(cost) > max_bytes || current.count >= max_records)
    {
        packed
            .executions
            .extend(pending.take().map(Pending::finish));
    }
    pending.get_or_insert_with(|| Pending::new(index))
}

/// What [`pack`] made of a batch.
#[derive(Debug, Default)]
pub(super) struct Packed {
    pub(super) executions: Vec<PackedExecution>,
    /// Records handed over as their rejection (too large for any execution), by index.
    pub(super) rejected: Vec<(usize, Rejection)>,
    pub(super) stopped: Option<(usize, PackError)>,
}
