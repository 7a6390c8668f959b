//! The purge-trigger Lambda: a DynamoDB stream batch → Express executions.
//!
//! 1. [`plan`]: classify every record ([`crate::records`]), keep the REMOVE records, and pack
//!    them, in stream order, into execution inputs within two budgets: [`PackLimits::max_bytes`]
//!    of state data, each record costed by the most it can become in any state of the purge
//!    state machine ([`DownstreamCost`]), so no state's data can pass Step Functions' 256 KiB;
//!    and [`PackLimits::max_records`] records, capped so an execution's CDN paths fit one wave
//!    of invalidations ([`Config::max_records_per_execution_for_paths`]). Each input's
//!    `batchId`, which is also the execution name, is derived from its records (see
//!    [`batch_name`]), so a redelivered batch gets the same name.
//! 2. [`start_executions`] (feature `sfn`): `StartExecution` for each input, in order, stopping
//!    at the first failure.
//! 3. The answer lists as `batchItemFailures` every record from the first one not handed over
//!    to the end of the batch, so the stream retries exactly from there. Nothing before it is
//!    retried, nothing after it is skipped.
//!
//! A record too large to fit in any execution even alone (a template attribute of ~200 KB) stops the
//! packing there with [`PackError::RecordTooLarge`]: it and every later record are returned as
//! failures, so the event source mapping's bisect, retry limit and on-failure queue isolate and
//! keep it; nothing is dropped.
//!
//! A structurally broken record (see [`crate::records`]) is counted and logged as malformed
//! instead: no retry could ever fix it, and retrying would block the shard.

use std::borrow::Cow;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};
use thiserror::Error;

use serde_json::value::RawValue;

use crate::config::{Config, TtlPolicy};
use crate::contract::{AttributeMap, RemovedRecord};
use crate::key_safety::check_key;
use crate::key_template::{RenderError, scalar_attribute};
use crate::paths::encode_path;
use crate::records::{
    Classified, ClassifiedRecord, HandedOver, Projection, RecordCounts, StreamEvent, classify_event,
};
use crate::validation::{Rules, Verdict, validate_record};

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

/// Execution names: at most 80 characters of `[0-9A-Za-z_-]`.
pub const MAX_NAME_CHARS: usize = 80;

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

/// How [`plan`] packs: the limits, and what a record costs against [`PackLimits::max_bytes`].
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
}

/// An upper bound, in bytes of state data, of what one record can become in any one state of
/// the purge state machine, derived by running ValidateRecords' own rules on it.
///
/// One record ends up as exactly one entry of each list a state carries, so the largest form it
/// takes bounds its share of every state's data:
/// - its projected JSON: ValidateRecords' input, and ReportFailures' `originalInput` after a
///   caught error;
/// - its verdict (a target, a rejection or an ignored record): ValidateRecords' result and its
///   `rejections` variable; a superseded record holds a subset of its target's fields;
/// - its target as a `DeleteFailure` (the target plus a code and a message of bounded size,
///   see [`crate::delete::bounded_error_text`]): DeleteObjects' result, the `deleteFailures`
///   variable and ReportFailures' arguments; a deleted target is smaller;
/// - its CDN paths, percent-encoded (up to 3 bytes per key byte) as BatchPaths writes them:
///   BatchPaths' result, the Map's items and the failed batches in `failedInvalidations`;
///   counted twice, because ReportFailures puts a failed batch whole into one SNS message
///   (256 KiB at most), in its list and again in the `replayInput` (a batch can't be split: its
///   CallerReference names its exact paths).
///
/// The verdict is computed with the trigger's configuration, which must match
/// validate-records' (`PURGE_KEY_TEMPLATE`, `PURGE_KEY_PREFIX`, `PURGE_PATH_TEMPLATES`,
/// `PURGE_BUCKET`); without `PURGE_BUCKET` the bucket name is taken at S3's maximum length, and
/// a TTL delete is costed as a purge (the larger outcome) whatever `PURGE_TTL_DELETES` says.
#[derive(Debug, Clone)]
pub struct DownstreamCost<'a> {
    rules: Rules<'a>,
    /// Each of `rules.path_templates`' shape, in order, when it has the plain one.
    path_shapes: Vec<Option<PlainPath>>,
}

/// A bucket name of S3's maximum length, 63 characters, for a trigger without `PURGE_BUCKET`.
const LONGEST_BUCKET: &str = "bucket-name-of-the-longest-length-s3-allows-sixty-three-chars-x";

/// What a `DeleteFailure` adds to its target: `{"target":`, `,"code":""`, `,"message":""`, `}`
/// and the code and message at their caps (they need no JSON escaping).
const DELETE_FAILURE_EXTRA_BYTES: usize = r#"{"target":,"code":"","message":""}"#.len()
    + crate::delete::MAX_ERROR_CODE_BYTES
    + crate::delete::MAX_ERROR_MESSAGE_BYTES;

impl<'a> DownstreamCost<'a> {
    /// `None` without a key template: nothing can be predicted.
    pub fn from_config(config: &'a Config) -> Option<Self> {
        let rules = Rules {
            bucket: config.bucket.as_deref().unwrap_or(LONGEST_BUCKET),
            key_template: config.key_template.as_ref()?,
            key_prefix: &config.key_prefix,
            path_templates: &config.path_templates,
            ttl_deletes: TtlPolicy::Purge,
        };
        let path_shapes = config.path_templates.iter().map(PlainPath::of).collect();
        Some(DownstreamCost { rules, path_shapes })
    }

    /// The bound for one record, its separating comma included.
    pub fn cost(&self, record: &HandedOver) -> usize {
        let largest = self
            .target_bound(record)
            .unwrap_or_else(|| self.verdict_bound(record));
        record.json.len().max(largest) + 1
    }

    /// The common case, a record that becomes a target, bounded without building the target:
    /// the trigger costs every record of a 10,000-record batch, so this parses only the
    /// projected old image (found through the record's [`crate::records::JsonLayout`]), borrowed
    /// (no attribute map, no owned strings for what it only measures), and skips everything
    /// [`validate_record`] clones. `None` for any other record, which [`Self::verdict_bound`]
    /// then costs exactly.
    ///
    /// The target's `eventId` and `tableKeys` are counted at their length in the record's JSON:
    /// the trigger wrote the event id with serde_json, and copied the keys verbatim from the
    /// stream, which serde_json can only write back as long or shorter (it drops insignificant
    /// whitespace and escapes no more than JSON requires). Paths are counted once per path
    /// template, before ValidateRecords drops duplicates: never less than it keeps.
    fn target_bound(&self, record: &HandedOver) -> Option<usize> {
        let layout = &record.layout;
        let image: RawImage<'_> =
            serde_json::from_str(record.json.get(layout.old_image.clone()?)?).ok()?;
        let (event_id_bytes, keys_bytes) = (layout.event_id.len(), layout.keys.len());
        // validate_record's order: the old image, the key it renders, the key's safety.
        let key = self
            .rules
            .key_template
            .render_with(|name| image.scalar(name))
            .ok()?;
        check_key(&key, self.rules.key_prefix).ok()?;
        let key_json = json_len(&key);
        let key_encoded = encoded_len(&key);
        let mut paths_json = 0;
        let mut encoded_paths = 0;
        for (template, shape) in self.rules.path_templates.iter().zip(&self.path_shapes) {
            let (path_json, path_encoded) = match shape {
                // `"<before>" "<key>" "<after>"` joined: the three strings' quotes become one pair.
                Some(plain) => (
                    plain.before_json + key_json + plain.after_json - 4,
                    plain.encoded + key_encoded,
                ),
                None => {
                    // Path templates are checked at config load to use only `{key}`; this can't fail.
                    let path = template
                        .render_with(|_| Ok(Cow::Borrowed(key.as_str())))
                        .ok()?;
                    (json_len(&path), encode_path(&path).len())
                }
            };
            paths_json += path_json + 1;
            encoded_paths += path_encoded + 3;
        }
        let target = TARGET_FRAME_BYTES
            + json_len(self.rules.bucket)
            + key_json
            + paths_json
            + event_id_bytes
            + keys_bytes;
        // Malformed table keys (checked first, but not parsed here) make a rejection instead,
        // which can echo one key attribute in its detail, escaped once more.
        let malformed_keys = event_id_bytes + 3 * keys_bytes + MALFORMED_KEYS_EXTRA_BYTES;
        Some(Self::largest_target_form(target, encoded_paths).max(malformed_keys))
    }

    /// Any record, exactly: its verdict by ValidateRecords' own rules.
    fn verdict_bound(&self, record: &HandedOver) -> usize {
        // The trigger wrote this JSON itself, so it parses; if it ever did not, ValidateRecords
        // would refuse the whole input before any state grew, and its input bytes are all it
        // could cost.
        let Ok(parsed) = record.record() else {
            return record.json.len();
        };
        match validate_record(&parsed, &self.rules) {
            Verdict::Target(target) => {
                let encoded_paths = target
                    .paths
                    .iter()
                    .map(|path| encode_path(path).len() + 3)
                    .sum();
                Self::largest_target_form(json_len(&target), encoded_paths)
            }
            Verdict::Rejected(rejection) => json_len(&rejection),
            Verdict::Ignored(ignored) => json_len(&ignored),
        }
    }

    /// The larger of a target's forms: as a `DeleteFailure`, and as encoded paths, counted twice
    /// for a failure report's message. `encoded_paths` counts `"<path>",` per path (encoded
    /// paths need no escaping).
    fn largest_target_form(target_bytes: usize, encoded_paths: usize) -> usize {
        (target_bytes + DELETE_FAILURE_EXTRA_BYTES).max(2 * encoded_paths)
    }
}

/// A path template of the plain shape `<before>{key}<after>` (the usual `/{key}`,
/// `/thumbs/{key}`), sized once so that the quick bound adds up a record's path sizes instead of
/// rendering and encoding every path. Both sizes are additive over concatenation: JSON escapes
/// and [`encode_path`] percent-encodes one character or byte at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PlainPath {
    /// `<before>` and `<after>` as JSON strings, quotes included.
    before_json: usize,
    after_json: usize,
    /// `<before><after>` percent-encoded, without the key.
    encoded: usize,
}

impl PlainPath {
    /// `None` for a template of any other shape (a filter such as `{key|lower}`, `{key}` twice,
    /// escaped braces, no leading `/`): those paths are rendered.
    fn of(template: &crate::key_template::Template) -> Option<PlainPath> {
        let source = template.source();
        if source.matches('{').count() != 1 || source.matches('}').count() != 1 {
            return None;
        }
        let (before, after) = source.split_once("{key}")?;
        // encode_path adds a leading `/` to a path without one, which is not additive.
        if !before.starts_with('/') {
            return None;
        }
        // Belt and braces: the template renders a key with every kind of character verbatim.
        const PROBE: &str = "Probe Key/%\"~\u{e9}\u{1F34C}";
        let rendered = template.render_with(|_| Ok(Cow::Borrowed(PROBE))).ok()?;
        if rendered != format!("{before}{PROBE}{after}") {
            return None;
        }
        Some(PlainPath {
            before_json: json_len(before),
            after_json: json_len(after),
            encoded: encoded_len(before) + encoded_len(after),
        })
    }
}

/// The bytes `raw` takes percent-encoded within a path, without the `/` that [`encode_path`]
/// puts in front of a path that lacks one.
fn encoded_len(raw: &str) -> usize {
    encode_path(raw).len() - usize::from(!raw.starts_with('/'))
}

/// A projected old image with its values still raw JSON: a handful of attributes, so a list
/// searched by name beats building a map. Names holding JSON escapes can't be borrowed and fail
/// the parse, which sends the record to the exact path.
struct RawImage<'a>(Vec<(&'a str, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for RawImage<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawImage<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a DynamoDB attribute map")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut attributes = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some(entry) = map.next_entry::<&'de str, &'de RawValue>()? {
                    attributes.push(entry);
                }
                Ok(RawImage(attributes))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

impl<'a> RawImage<'a> {
    /// The S or N value of attribute `name`, exactly as
    /// [`crate::key_template::scalar_attribute`] reads it from an attribute map (where a
    /// repeated name keeps its last value). The usual `{"S": "..."}` is borrowed; anything else
    /// goes through `scalar_attribute` itself.
    fn scalar(&self, name: &str) -> Result<Cow<'a, str>, RenderError> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct PlainString<'a> {
            #[serde(rename = "S")]
            s: &'a str,
        }
        let Some(&(_, raw)) = self
            .0
            .iter()
            .rev()
            .find(|(attribute, _)| *attribute == name)
        else {
            return Err(RenderError::MissingAttribute {
                name: name.to_owned(),
            });
        };
        if let Ok(plain) = serde_json::from_str::<PlainString<'a>>(raw.get()) {
            return Ok(Cow::Borrowed(plain.s));
        }
        let value: serde_json::Value =
            serde_json::from_str(raw.get()).map_err(|err| RenderError::MalformedAttribute {
                name: name.to_owned(),
                detail: err.to_string(),
            })?;
        let item: AttributeMap = std::iter::once((name.to_owned(), value)).collect();
        scalar_attribute(&item, name).map(|value| Cow::Owned(value.to_owned()))
    }
}

/// A serialised [`crate::contract::PurgeTarget`] around its values (a path's separating comma
/// is counted with the path, one too many, to keep the sum simple).
const TARGET_FRAME_BYTES: usize = r#"{"bucket":,"key":,"paths":[],"eventId":,"tableKeys":}"#.len();

/// A MalformedRecord rejection around its event id, keys and echoed attribute: the field
/// names, the reason and the detail's words (`key attribute `…` is not a DynamoDB S, N or B
/// value: …`, whose attribute name is counted within the keys).
const MALFORMED_KEYS_EXTRA_BYTES: usize = 160;

/// Serialised size of `value`, without building the string.
fn json_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Contract types always serialise; a failure would leave a smaller count, so count it as
    // unbounded instead.
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX / 4,
    }
}

/// Why packing stopped before the end of the batch.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PackError {
    #[error(
        "record {event_id} may become {bytes} bytes of state data, more than the {limit}-byte budget of one execution; \
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
///
/// Pass [`PackLimits::from_config`] to pack as the trigger does; bare [`PackLimits`] budget
/// records by their input bytes only.
pub fn plan<'a>(
    event: &StreamEvent,
    projection: &Projection,
    packing: impl Into<Packing<'a>>,
) -> Plan {
    let records = classify_event(event, projection);
    let counts = RecordCounts::of(&records);
    let (executions, stopped) = pack(&records, &packing.into());
    Plan {
        records,
        executions,
        stopped,
        counts,
    }
}

/// Serialised size of the input around its records, with the longest possible name:
/// `{"batchId":"<name>","records":[` … `]}`.
const ENVELOPE_BYTES: usize = r#"{"batchId":"","records":[]}"#.len() + MAX_NAME_CHARS;

/// The execution being filled: its records' JSON, comma-separated, the sum of their costs, and
/// its name so far.
struct Pending {
    first_record: usize,
    count: usize,
    body: String,
    cost: usize,
    name: BatchNamer,
}

impl Pending {
    fn new(first_record: usize) -> Self {
        Pending {
            first_record,
            count: 0,
            body: String::new(),
            cost: 0,
            name: BatchNamer::default(),
        }
    }

    /// The execution's cost if a record costing `record_cost` were added.
    fn cost_with(&self, record_cost: usize) -> usize {
        ENVELOPE_BYTES + self.cost + record_cost
    }

    fn push(&mut self, record: &HandedOver, cost: usize) {
        if self.count > 0 {
            self.body.push(',');
        }
        self.cost += cost;
        self.body.push_str(&record.json);
        self.name.add(&record.event_id, &record.sequence_number);
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
        input.push_str("]}");
        PackedExecution {
            name,
            input,
            first_record: self.first_record,
            record_count: self.count,
        }
    }
}

fn pack(
    records: &[ClassifiedRecord],
    packing: &Packing<'_>,
) -> (Vec<PackedExecution>, Option<(usize, PackError)>) {
    let limits = packing.limits;
    let max_records = limits.max_records.max(1);
    let mut executions = Vec::new();
    let mut pending: Option<Pending> = None;
    for (index, classified) in records.iter().enumerate() {
        let Classified::Removed(record) = &classified.outcome else {
            continue;
        };
        // A record's cost counts its separating comma and is never below its input bytes, so
        // the budget bounds the input's size too.
        let cost = packing.cost(record).max(record.json.len() + 1);
        if ENVELOPE_BYTES + cost > limits.max_bytes {
            let error = PackError::RecordTooLarge {
                event_id: record.event_id.clone(),
                bytes: cost,
                limit: limits.max_bytes,
            };
            executions.extend(pending.take().map(Pending::finish));
            return (executions, Some((index, error)));
        }
        if let Some(current) = &pending
            && (current.cost_with(cost) > limits.max_bytes || current.count >= max_records)
        {
            executions.extend(pending.take().map(Pending::finish));
        }
        pending
            .get_or_insert_with(|| Pending::new(index))
            .push(record, cost);
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
        self.first_sequence
            .get_or_insert_with(|| sequence_number.to_owned());
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
pub fn failures_from(
    records: &[ClassifiedRecord],
    from: usize,
) -> Vec<aws_lambda_events::event::streams::DynamoDbBatchItemFailure> {
    records
        .iter()
        .skip(from)
        .filter(|record| {
            !(matches!(record.outcome, Classified::Malformed { .. })
                && record.sequence_number.is_none())
        })
        .map(|record| {
            let mut failure =
                aws_lambda_events::event::streams::DynamoDbBatchItemFailure::default();
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
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_execution_already_exists()) =>
                {
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
                    "malformed stream record dropped; no retry can fix it"
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
            Some(
                json!({"id": {"S": format!("id-{seq}")}, "image_key": {"S": format!("images/{seq}.jpg")}, "blob": {"S": "x".repeat(2000)}}),
            ),
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
        let plan = plan(
            &event(records),
            &projection(),
            PackLimits {
                max_bytes: MAX_INPUT_BYTES,
                max_records: 500,
            },
        );
        assert_eq!(plan.stopped, None);
        let inputs = inputs(&plan);
        assert_eq!(inputs.len(), 1);
        let ids: Vec<&str> = inputs[0]
            .records
            .iter()
            .map(|r| r.event_id.as_str())
            .collect();
        assert_eq!(ids, [format!("evt-{:021}", 2), format!("evt-{:021}", 4)]);
        assert_eq!(inputs[0].batch_id, plan.executions[0].name);
        assert_eq!(plan.executions[0].first_record, 1);
        // The 2000-byte `blob` attribute was projected away.
        assert!(
            plan.executions[0].input.len() < 1000,
            "{}",
            plan.executions[0].input.len()
        );
        assert_eq!(inputs[0].records[0].delete_kind, DeleteKind::User);
    }

    #[test]
    fn packs_within_the_record_limit() {
        let records: Vec<Value> = (0..25).map(remove).collect();
        let plan = plan(
            &event(records),
            &projection(),
            PackLimits {
                max_bytes: MAX_INPUT_BYTES,
                max_records: 10,
            },
        );
        let sizes: Vec<usize> = plan.executions.iter().map(|e| e.record_count).collect();
        assert_eq!(sizes, [10, 10, 5]);
        let firsts: Vec<usize> = plan.executions.iter().map(|e| e.first_record).collect();
        assert_eq!(firsts, [0, 10, 20]);
        let all: Vec<String> = inputs(&plan)
            .into_iter()
            .flat_map(|i| i.records)
            .map(|r| r.event_id)
            .collect();
        let expected: Vec<String> = (0..25).map(|i| format!("evt-{i:021}")).collect();
        assert_eq!(all, expected, "every record once, in order");
    }

    #[test]
    fn packs_within_the_byte_limit() {
        let records: Vec<Value> = (0..40).map(remove).collect();
        let limit = 2_000;
        let plan = plan(
            &event(records),
            &projection(),
            PackLimits {
                max_bytes: limit,
                max_records: 500,
            },
        );
        assert_eq!(plan.stopped, None);
        assert!(plan.executions.len() > 1);
        for execution in &plan.executions {
            assert!(
                execution.input.len() <= limit,
                "{} > {limit}",
                execution.input.len()
            );
        }
        assert_eq!(
            plan.executions
                .iter()
                .map(|e| e.record_count)
                .sum::<usize>(),
            40
        );
        inputs(&plan);
    }

    #[test]
    fn a_record_too_large_alone_stops_packing_by_name() {
        let mut huge = remove(3);
        huge["dynamodb"]["OldImage"]["image_key"] = json!({"S": "k".repeat(5_000)});
        let records = vec![remove(1), remove(2), huge, remove(4)];
        let plan = plan(
            &event(records),
            &projection(),
            PackLimits {
                max_bytes: 4_000,
                max_records: 500,
            },
        );
        let Some((
            index,
            PackError::RecordTooLarge {
                event_id,
                bytes,
                limit,
            },
        )) = &plan.stopped
        else {
            panic!("expected RecordTooLarge, got {:?}", plan.stopped)
        };
        assert_eq!(
            (*index, event_id.as_str(), *limit),
            (2, "evt-000000000000000000003", 4_000)
        );
        assert!(*bytes > 5_000);
        assert_eq!(
            plan.executions
                .iter()
                .map(|e| e.record_count)
                .sum::<usize>(),
            2
        );
        let failures: Vec<Option<String>> = failures_from(&plan.records, *index)
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        assert_eq!(
            failures,
            [Some(format!("{:021}", 3)), Some(format!("{:021}", 4))]
        );
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
        let a = [
            rec("e1", "4000000000012345678901"),
            rec("e2", "4000000000012345678902"),
        ];
        let name = batch_name(&a);
        assert_eq!(name, batch_name(&a));
        assert!(name.starts_with("4000000000012345678901-2-"), "{name}");
        assert_ne!(name, batch_name(&a[..1]));
        let odd = [rec("e/1", "seq:with spaces/and\u{e9}")];
        for name in [
            name,
            batch_name(&odd),
            batch_name(&[]),
            batch_name(&[rec("x", &"9".repeat(200))]),
        ] {
            assert!(name.len() <= MAX_NAME_CHARS, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                "{name}"
            );
        }
    }

    #[test]
    fn failures_list_every_later_record_but_not_dropped_malformed_ones() {
        let records = vec![
            remove(1),
            stream_record("INSERT", "2", json!({"id": {"S": "b"}}), None),
            json!({"junk": 1}),
            remove(4),
        ];
        let plan = plan(
            &event(records),
            &projection(),
            PackLimits {
                max_bytes: MAX_INPUT_BYTES,
                max_records: 500,
            },
        );
        let ids: Vec<Option<String>> = failures_from(&plan.records, 0)
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        assert_eq!(
            ids,
            [
                Some(format!("{:021}", 1)),
                Some("2".to_owned()),
                Some(format!("{:021}", 4))
            ]
        );
    }

    fn config_with(vars: &[(&str, &str)]) -> Config {
        let vars: std::collections::HashMap<&str, &str> = vars.iter().copied().collect();
        Config::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned())).expect("valid config")
    }

    /// A REMOVE record whose `image_key` is `key`.
    fn remove_with_key(seq: usize, key: &str) -> Value {
        stream_record(
            "REMOVE",
            &format!("{seq:021}"),
            json!({"upload_id": {"S": format!("u-{seq:06}")}}),
            Some(json!({"upload_id": {"S": format!("u-{seq:06}")}, "image_key": {"S": key}})),
        )
    }

    #[test]
    fn the_record_limit_follows_the_path_templates() {
        let config = config_with(&[
            ("PURGE_KEY_TEMPLATE", "{image_key}"),
            ("PURGE_PATH_TEMPLATES", "/{key},/thumbs/{key},/small/{key}"),
            ("PURGE_MAX_RECORDS_PER_EXECUTION", "10000"),
        ]);
        let packing = PackLimits::from_config(&config);
        assert_eq!(packing.limits.max_records, 995, "2985 paths / 3 templates");
        // A byte budget that can't bind, so the record limit decides.
        let records: Vec<Value> = (0..2_000)
            .map(|i| remove_with_key(i, &format!("i/{i}")))
            .collect();
        let plan = plan(
            &event(records),
            &projection(),
            PackLimits {
                max_bytes: 10 << 20,
                ..packing.limits
            },
        );
        assert_eq!(plan.stopped, None);
        let counts: Vec<usize> = plan.executions.iter().map(|e| e.record_count).collect();
        assert_eq!(counts, [995, 995, 10]);
    }

    /// The worst record for the byte budget: a 1024-byte key (the longest a target may have)
    /// of characters CloudFront needs percent-encoded, under three path templates.
    #[cfg(feature = "dynamodb")]
    #[tokio::test]
    async fn the_downstream_cost_bounds_every_form_a_record_takes() {
        use crate::contract::{
            BatchPathsInput, DeleteFailure, DeleteOutput, FailedInvalidation, ReportInput,
        };
        use crate::delete::{MAX_ERROR_CODE_BYTES, MAX_ERROR_MESSAGE_BYTES};
        use crate::paths::FoldPolicy;

        let config = config_with(&[
            ("PURGE_BUCKET", "photo-bucket"),
            ("PURGE_KEY_TEMPLATE", "{image_key}"),
            ("PURGE_KEY_PREFIX", "images/"),
            ("PURGE_PATH_TEMPLATES", "/{key},/thumbs/{key},/small/{key}"),
            ("PURGE_CHECK_SUPERSEDED", "false"),
            ("PURGE_MAX_RECORDS_PER_EXECUTION", "10000"),
        ]);
        let key = |i: usize| format!("images/{i:06} {}", "~".repeat(1024 - 14));
        assert_eq!(key(0).len(), 1024);
        // Every third record is rejected (outside the prefix), so every list is exercised.
        let records: Vec<Value> = (0..400)
            .map(|i| {
                if i % 3 == 0 {
                    remove_with_key(i, &format!("private/{}", key(i)))
                } else {
                    remove_with_key(i, &key(i))
                }
            })
            .collect();
        let packing = PackLimits::from_config(&config);
        let plan = plan(&event(records), &projection(), packing);
        assert_eq!(plan.stopped, None);
        assert!(
            plan.executions.len() > 1,
            "the byte budget must split this batch"
        );
        let full = plan.executions.len() - 1;
        for (index, (execution, input)) in plan.executions.iter().zip(inputs(&plan)).enumerate() {
            let budget = MAX_INPUT_BYTES;
            assert!(execution.input.len() <= budget);
            let validated = crate::validate_records::validate_records(input, &config, None)
                .await
                .expect("validates");
            let validated_bytes = json_len(&validated);
            // Every target's delete failing, with a code and a message at their caps.
            let failed: Vec<DeleteFailure> = validated
                .targets
                .iter()
                .map(|target| DeleteFailure {
                    target: target.clone(),
                    code: "C".repeat(MAX_ERROR_CODE_BYTES),
                    message: "m".repeat(MAX_ERROR_MESSAGE_BYTES),
                })
                .collect();
            let failure_bytes = json_len(&failed) + json_len(&validated.rejections);
            let deleted = DeleteOutput {
                deleted: Vec::new(),
                failed,
                requests: 1,
            };
            let batches = crate::batch_paths::batch_paths(
                BatchPathsInput {
                    batch_id: validated.batch_id.clone(),
                    deleted: validated.targets.clone(),
                    batches: Vec::new(),
                },
                "E2QWRUHEXAMPLE",
                &FoldPolicy::NEVER,
            )
            .expect("batches");
            let batches_bytes = json_len(&batches) + json_len(&validated.rejections);
            for (what, bytes) in [
                ("ValidateRecords' result", validated_bytes),
                ("DeleteObjects' result", json_len(&deleted)),
                ("the failures", failure_bytes),
                ("BatchPaths' result", batches_bytes),
            ] {
                assert!(
                    bytes <= budget,
                    "{what}: {bytes} bytes for {} records",
                    execution.record_count
                );
            }
            // A failed batch goes whole into one SNS message, twice (listed and in replayInput):
            // every batch failing, with an error and a cause as long as the definition lets
            // them be, still makes messages SNS takes.
            let report = ReportInput {
                execution_name: execution.name.clone(),
                execution_arn: Some(format!(
                    "arn:aws:states:us-east-1:123456789012:express:purge:{}:x",
                    execution.name
                )),
                execution_start_time: Some("2026-11-21T05:00:00.000Z".into()),
                batch_id: execution.name.clone(),
                rejections: validated.rejections.clone(),
                delete_failures: Vec::new(),
                failed_invalidations: batches
                    .batches
                    .iter()
                    .map(|batch| FailedInvalidation {
                        batch: batch.clone(),
                        error: "E".repeat(256),
                        cause: "\u{1}".repeat(1000),
                    })
                    .collect(),
                dropped_batches: Vec::new(),
                caught: None,
                original_input: None,
            };
            crate::report::build_messages(&report, crate::report::SNS_MAX_MESSAGE_BYTES)
                .expect("every batch fits a message");
            // The budget is used, not wasted: in every full execution the encoded paths, counted
            // twice, fill most of it.
            if index < full {
                assert!(
                    2 * batches_bytes > budget * 3 / 4,
                    "{batches_bytes} bytes of paths in execution {index}"
                );
            }
        }
    }

    /// Every REMOVE record of `raw` (a stream event's JSON), as the trigger hands them over.
    fn handed_over(raw: &str, projection: &Projection) -> Vec<HandedOver> {
        let event: StreamEvent = serde_json::from_str(raw).expect("a stream event");
        crate::records::classify_event(&event, projection)
            .into_iter()
            .filter_map(|r| match r.outcome {
                Classified::Removed(record) => Some(record),
                _ => None,
            })
            .collect()
    }

    fn photo_config() -> Config {
        photo_config_with_paths("/{key},/t/{key}")
    }

    fn photo_config_with_paths(path_templates: &str) -> Config {
        config_with(&[
            ("PURGE_KEY_TEMPLATE", "{photo_id}.{type|subtype}"),
            ("PURGE_KEY_PREFIX", "p"),
            ("PURGE_PATH_TEMPLATES", path_templates),
        ])
    }

    #[test]
    fn only_plain_path_templates_are_sized_without_rendering() {
        let config =
            photo_config_with_paths("/{key},/t/{key}.jpg,/{key|lower},/{key}/{key},/{{x}}/{key}");
        let cost = DownstreamCost::from_config(&config).expect("a key template");
        let plain: Vec<bool> = cost.path_shapes.iter().map(Option::is_some).collect();
        assert_eq!(plain, [true, true, false, false, false]);
        assert_eq!(
            cost.path_shapes[1],
            Some(PlainPath {
                before_json: r#""/t/""#.len(),
                after_json: r#"".jpg""#.len(),
                encoded: "/t/.jpg".len()
            })
        );
    }

    #[test]
    fn the_quick_bound_covers_keys_copied_verbatim_with_whitespace_and_escapes() {
        let config = photo_config();
        let cost = DownstreamCost::from_config(&config).expect("a key template");
        let projection = Projection::for_template(config.key_template().expect("set"));
        // Keys and attributes as a stream may write them: spaces, escapes serde_json writes
        // shorter (`\u0070` is `p`, `\/` is `/`), and a malformed key attribute.
        let raw = r#"{"Records": [
            {"eventID": "e1", "eventName": "REMOVE", "dynamodb": {"SequenceNumber": "1",
              "Keys": { "photo_id" : { "S" : "\u0070-1\/a" } },
              "OldImage": { "photo_id" : { "S" : "p-1\/a" }, "type": {"S": "image/jpeg"} }}},
            {"eventID": "e2", "eventName": "REMOVE", "dynamodb": {"SequenceNumber": "2",
              "Keys": {"photo_id": {"S": 7}},
              "OldImage": {"photo_id": {"S": "p-2"}, "type": {"S": "image/jpeg"}}}},
            {"eventID": "e3", "eventName": "REMOVE", "dynamodb": {"SequenceNumber": "3",
              "Keys": {"photo_id": {"S": "q-3"}},
              "OldImage": {"photo_id": {"S": "q-3"}, "type": {"S": "image/jpeg"}}}},
            {"eventID": "e4", "eventName": "REMOVE", "dynamodb": {"SequenceNumber": "4",
              "Keys": {"photo_id": {"S": "p-4"}},
              "OldImage": {"photo_id": {"S": "p-4"}, "type": {"S": "not a media type \"quoted\""}}}}
        ]}"#;
        let records = handed_over(raw, &projection);
        assert_eq!(records.len(), 4);
        for record in &records {
            let exact = cost.verdict_bound(record);
            if let Some(quick) = cost.target_bound(record) {
                assert!(
                    quick >= exact,
                    "{}: quick {quick} < exact {exact}",
                    record.event_id
                );
            }
            assert!(cost.cost(record) > exact, "{}", record.event_id);
        }
        // Only the safe key inside the prefix takes the quick path; the others are costed
        // by their real verdict.
        let quick: Vec<bool> = records
            .iter()
            .map(|r| cost.target_bound(r).is_some())
            .collect();
        assert_eq!(quick, [true, true, false, false]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// The quick bound never undercounts what ValidateRecords really makes of a record,
        /// and stays close to it (it only skips work, it does not guess).
        #[test]
        fn the_quick_bound_is_never_below_the_exact_one(
            id in "p[a-z0-9 ~%\"\\\\é/._\u{2028}\u{1F34C}-]{0,40}",
            subtype in "[a-z+\"é]{1,10}",
            extra_key in proptest::option::of("[a-z\"]{1,8}"),
            type_shape in 0usize..6,
            path_templates in proptest::sample::select(vec![
                "/{key},/t/{key}",
                "/{key}",
                "/a b/{key}.jpg?,/{key}",
                "/{key},/{key}",
                "/{key|lower},/t/{key}",
                "/{key}/{key}",
                "/{{x}}/{key}",
            ]),
        ) {
            let config = photo_config_with_paths(path_templates);
            let cost = DownstreamCost::from_config(&config).expect("a key template");
            let projection = Projection::for_template(config.key_template().expect("set"));
            let mut keys = json!({"photo_id": {"S": id}});
            if let Some(extra) = &extra_key {
                keys["sort"] = json!({"S": extra});
            }
            // The usual `{"S": ...}`, and the shapes the quick path hands to scalar_attribute.
            let media_type = format!("image/{subtype}");
            let type_value = match type_shape {
                0 | 1 => json!({"S": media_type}),
                2 => json!({"N": "42"}),
                3 => json!({"S": 5}),
                4 => json!({"SS": [media_type]}),
                _ => json!({"S": media_type, "N": "1"}),
            };
            let image = json!({"photo_id": {"S": id}, "type": type_value});
            let raw = json!({"Records": [stream_record("REMOVE", "1", keys, Some(image))]}).to_string();
            let records = handed_over(&raw, &projection);
            proptest::prop_assert_eq!(records.len(), 1);
            let record = &records[0];
            let exact = cost.verdict_bound(record);
            let is_target = record.record().ok().is_some_and(|r| matches!(validate_record(&r, &cost.rules), Verdict::Target(_)));
            match cost.target_bound(record) {
                Some(quick) => {
                    proptest::prop_assert!(is_target);
                    proptest::prop_assert!(quick >= exact, "quick {} < exact {}", quick, exact);
                    proptest::prop_assert!(quick <= exact + 3 * record.json.len() + 200, "quick {} far above exact {}", quick, exact);
                }
                None => proptest::prop_assert!(!is_target),
            }
        }
    }

    /// Records whose paths BatchPaths turns into at most two batches and 3000 paths: the bound
    /// the InvalidateCache Map's single wave relies on.
    fn keys_for(count: usize, directories: usize) -> Vec<String> {
        (0..count)
            .map(|i| format!("images/d{}/{i}.jpg", i % directories.max(1)))
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        #[test]
        fn an_executions_paths_make_at_most_two_batches_and_3000_paths(
            templates in 1usize..=8,
            max_records in 1usize..=10_000,
            fill in 0.0f64..=1.0,
            directories in 1usize..=60,
            min_paths in 2usize..=200,
        ) {
            use crate::paths::{BatchPlan, CLOUDFRONT_MAX_PATHS_PER_BATCH, CLOUDFRONT_MAX_WILDCARD_PATHS, FoldPolicy, is_wildcard, plan_batches};
            let path_templates: Vec<String> = (0..templates).map(|t| format!("/v{t}/{{key}}")).collect();
            let max = max_records.to_string();
            let joined = path_templates.join(",");
            let config = config_with(&[("PURGE_PATH_TEMPLATES", &joined), ("PURGE_MAX_RECORDS_PER_EXECUTION", &max)]);
            let limit = config.max_records_per_execution_for_paths();
            proptest::prop_assert!(limit <= max_records && limit * templates <= crate::config::MAX_PATHS_PER_EXECUTION);
            // Any execution the trigger packs holds at most `limit` records; the full one is the worst.
            let records = ((limit as f64 * fill).ceil() as usize).clamp(1, limit);
            let keys = keys_for(records, directories);
            let paths: Vec<String> =
                keys.iter().flat_map(|key| crate::validation::paths_for(key, &config.path_templates)).collect();
            let policy = FoldPolicy { min_paths, min_depth: 1, max_wildcards: CLOUDFRONT_MAX_WILDCARD_PATHS, within: None };
            let plan = BatchPlan { batch_id: "b", distribution_id: "E1", policy: &policy, wildcards_in_use: 0, max_paths_per_batch: CLOUDFRONT_MAX_PATHS_PER_BATCH };
            let (batches, _) = plan_batches(paths.iter().map(String::as_str), &plan);
            let total: usize = batches.iter().map(|b| b.paths.len()).sum();
            let wildcards = batches.iter().flat_map(|b| &b.paths).filter(|p| is_wildcard(p)).count();
            proptest::prop_assert!(batches.len() <= 2, "{} batches", batches.len());
            proptest::prop_assert!(total <= CLOUDFRONT_MAX_PATHS_PER_BATCH, "{total} paths");
            proptest::prop_assert!(wildcards <= CLOUDFRONT_MAX_WILDCARD_PATHS);
        }
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
            mock_client!(aws_sdk_sfn, RuleMode::Sequential, rules, |conf| conf
                .retry_config(RetryConfig::disabled()))
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
            Config::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned()))
                .expect("valid config")
        }

        #[tokio::test]
        async fn all_started_means_no_failures_and_names_match_batch_ids() {
            let names = Arc::new(Mutex::new(Vec::new()));
            let seen = names.clone();
            let rule = mock!(Client::start_execution)
                .match_requests(|req| req.state_machine_arn() == Some(ARN))
                .then_compute_output(move |req| {
                    let input: ExecutionInput =
                        serde_json::from_str(req.input().unwrap_or_default()).expect("input");
                    assert_eq!(Some(input.batch_id.as_str()), req.name());
                    seen.lock().expect("lock").push(input.records.len());
                    StartExecutionOutput::builder()
                        .execution_arn("arn:x")
                        .start_date(aws_smithy_types::DateTime::from_secs(0))
                        .build()
                        .expect("complete output")
                });
            let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &[&rule], |conf| conf
                .retry_config(RetryConfig::disabled()));
            let records: Vec<Value> = (0..7).map(remove).collect();
            let response = handle_stream_event(event(records), &config("3"), &sfn)
                .await
                .expect("handled");
            assert!(response.batch_item_failures.is_empty());
            assert_eq!(*names.lock().expect("lock"), [3, 3, 1]);
        }

        #[tokio::test]
        async fn the_handler_packs_by_what_records_become_downstream() {
            let rule = mock!(Client::start_execution).then_output(|| {
                StartExecutionOutput::builder()
                    .execution_arn("arn:x")
                    .start_date(aws_smithy_types::DateTime::from_secs(0))
                    .build()
                    .expect("complete output")
            });
            let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &[&rule], |conf| conf
                .retry_config(RetryConfig::disabled()));
            // 60 records of ~1.1 KB: 66 KB of input, one execution by input bytes alone; but each
            // key's path is 3 KB percent-encoded, counted twice for a failure report.
            let records: Vec<Value> = (0..60)
                .map(|i| remove_with_key(i, &format!("images/{i:04}/{}", "~".repeat(1000))))
                .collect();
            let response = handle_stream_event(event(records), &config("10000"), &sfn)
                .await
                .expect("handled");
            assert!(response.batch_item_failures.is_empty());
            assert_eq!(
                rule.num_calls(),
                2,
                "the byte budget splits the batch in two"
            );
        }

        #[tokio::test]
        async fn start_execution_failure_midway_returns_failures_from_that_batch_on() {
            let throttled = mock!(Client::start_execution).then_error(|| {
                StartExecutionError::generic(
                    ErrorMetadata::builder()
                        .code("ThrottlingException")
                        .message("Rate exceeded")
                        .build(),
                )
            });
            let first = started();
            let never = started();
            let sfn = client(&[&first, &throttled, &never]);
            // 3 records per execution: [0,1,2] started, [3,4,5] throttled, [6] never attempted.
            let mut records: Vec<Value> = (0..6).map(remove).collect();
            records.insert(
                4,
                stream_record(
                    "MODIFY",
                    "000000000000000000000099",
                    json!({"id": {"S": "m"}}),
                    None,
                ),
            );
            records.push(remove(6));
            let response = handle_stream_event(event(records), &config("3"), &sfn)
                .await
                .expect("handled");
            let ids: Vec<String> = response
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier.expect("identifier"))
                .collect();
            let mut expected: Vec<String> =
                vec![format!("{:021}", 3), "000000000000000000000099".into()];
            expected.extend([4, 5, 6].map(|i| format!("{i:021}")));
            assert_eq!(ids, expected);
            assert_eq!(first.num_calls(), 1);
            assert_eq!(throttled.num_calls(), 1);
            assert_eq!(never.num_calls(), 0, "nothing after a failure is started");
        }

        #[tokio::test]
        async fn first_start_failure_fails_every_record() {
            let denied = mock!(Client::start_execution).then_error(|| {
                StartExecutionError::generic(
                    ErrorMetadata::builder()
                        .code("AccessDeniedException")
                        .build(),
                )
            });
            let sfn = client(&[&denied]);
            let records: Vec<Value> = (0..4).map(remove).collect();
            let response = handle_stream_event(event(records), &config("500"), &sfn)
                .await
                .expect("handled");
            assert_eq!(response.batch_item_failures.len(), 4);
            assert_eq!(
                response.batch_item_failures[0].item_identifier.as_deref(),
                Some(format!("{:021}", 0).as_str())
            );
        }

        #[tokio::test]
        async fn an_existing_execution_counts_as_handed_over() {
            let exists = mock!(Client::start_execution).then_error(|| {
                StartExecutionError::ExecutionAlreadyExists(
                    ExecutionAlreadyExists::builder().message("exists").build(),
                )
            });
            let sfn = client(&[&exists]);
            let response = handle_stream_event(event(vec![remove(1)]), &config("500"), &sfn)
                .await
                .expect("handled");
            assert!(response.batch_item_failures.is_empty());
        }

        #[tokio::test]
        async fn missing_configuration_fails_at_the_handler() {
            let sfn = client(&[]);
            let config = Config::from_lookup(|_| None).expect("defaults");
            let err = handle_stream_event(event(vec![remove(1)]), &config, &sfn)
                .await
                .expect_err("no template");
            assert_eq!(err.error_type(), crate::error::names::INVALID_CONFIG);
        }

        #[tokio::test]
        async fn an_empty_batch_starts_nothing() {
            let sfn = client(&[]);
            let response = handle_stream_event(StreamEvent::default(), &config("500"), &sfn)
                .await
                .expect("handled");
            assert!(response.batch_item_failures.is_empty());
        }
    }
}
