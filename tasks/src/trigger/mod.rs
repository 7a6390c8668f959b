//! The purge-trigger Lambda: a DynamoDB stream batch → Express executions.
//!
//! 1. [`plan`]: classify every record ([`crate::records`]), keep the REMOVE records, and pack
//!    them, in stream order, into execution inputs within two budgets: [`PackLimits::max_bytes`]
//!    of state data, each record costed by the most it can become in any state of the purge
//!    state machine ([`DownstreamCost`]), so no state's data can pass Step Functions' 256 KiB;
//!    and [`PackLimits::max_records`] records, capped so an execution's CDN paths fit one wave
//!    of invalidations ([`crate::config::Config::max_records_per_execution_for_paths`]). Each input's
//!    `batchId`, which is also the execution name, is derived from its records (see
//!    [`batch_name`]), so a redelivered batch gets the same name.
//! 2. [`start_executions`] (features `sfn`, `kms`): sign each input ([`signed_input`], one KMS
//!    GenerateMac; see `crate::signing`), then `StartExecution` for it, in order, stopping at the
//!    first failure of either.
//! 3. The answer lists as `batchItemFailures` every record from the first one not handed over
//!    to the end of the batch, so the stream retries exactly from there. Nothing before it is
//!    retried, nothing after it is skipped.
//!
//! A record too large to fit in any execution even alone (a template attribute of ~200 KB) can
//! never succeed as it is: retried, it would block its shard until the stream drops it. It is
//! handed over as its rejection instead (the input's `rejections`, named by ValidateRecords'
//! own rules: such a key is `UnsafeKey`, longer than S3's 1,024 bytes; else `RecordTooLarge`),
//! and reported with the execution's other rejections. Only a record whose rejection itself
//! could not fit (table keys over the budget, which DynamoDB never writes) stops the packing
//! there with [`PackError::RecordTooLarge`]: it and every later record are returned as
//! failures, so the event source mapping's bisect, retry limit and on-failure queue isolate and
//! keep it; nothing is dropped. StartExecution's failures (throttling, a service error) are
//! transient and stay batch item failures.
//!
//! A structurally broken record (see [`crate::records`]) is handed over as a `MalformedRecord`
//! rejection in the same way, naming its event id (or `<no eventID>`) and why it could not be
//! read: no retry could ever fix it and retrying would block the shard, but dropping it would
//! lose it silently. Its execution's ValidateRecords reports it on the failure topic.

mod cost;
mod failures;
mod name;
mod pack;
#[cfg(feature = "kms")]
mod sign;
#[cfg(all(feature = "sfn", feature = "kms"))]
mod start;

pub use cost::DownstreamCost;
pub use failures::failures_from;
pub use name::{MAX_NAME_CHARS, batch_name};
pub use pack::{MAX_INPUT_BYTES, PackError, PackLimits, PackedExecution, Packing};
#[cfg(feature = "kms")]
pub use sign::signed_input;
#[cfg(all(feature = "sfn", feature = "kms"))]
pub use start::{handle_stream_event, start_executions};

use crate::contract::Rejection;
use crate::records::{ClassifiedRecord, Projection, RecordCounts, StreamEvent, classify_event};

/// Everything the trigger will do with one stream batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Every record's outcome, in event order (for sequence numbers and counts).
    pub records: Vec<ClassifiedRecord>,
    pub executions: Vec<PackedExecution>,
    /// Records too large for any execution, handed over as their rejection instead (in the
    /// input's `rejections`), by index: they are reported by name, not retried.
    pub rejected: Vec<(usize, Rejection)>,
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
    let packed = pack::pack(&records, &packing.into());
    Plan {
        records,
        executions: packed.executions,
        rejected: packed.rejected,
        stopped: packed.stopped,
        counts,
    }
}

#[cfg(test)]
mod tests;
