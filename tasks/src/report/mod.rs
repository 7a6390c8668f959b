//! The ReportFailures task: turn what went wrong in one execution into SNS failure reports.
//!
//! Each report says what failed and why, names the execution (with a console link), and carries
//! a `replayInput`: a valid execution input holding only what is left to do.
//!
//! - failed deletes → their targets (`replayInput.targets`);
//! - failed invalidations → their batches, CallerReference included (`replayInput.batches`);
//! - a task that failed outright and was caught → the original input, whole (it covers any
//!   failures listed next to it);
//! - a caught error whose original input is not an execution input (a field missing or of the
//!   wrong type: often the very reason the task failed) → no replay input; the report carries
//!   the input as given and says why by name (`unreplayableInput`), so every failed execution
//!   has a report, whatever its input;
//! - rejections alone → no replay input: a replay would reject them again;
//! - replayed batches BatchPaths refused (`droppedBatches`) → listed with the reason, never
//!   replayed: a replay would refuse them again, so they are for a person to look at.
//!
//! A replay input holds one kind of work only: records, targets or batches, never two. The
//! state machine's InvalidateCache Map runs one wave of at most two batches (MaxConcurrency 2),
//! and its retry budget is sized for that wave. An execution's failed deletes make at most two
//! new batches when replayed, and its failed batches are at most two, but a replay input with
//! both would make up to four and overrun the budget. So when both are left, they go into
//! separate parts (`part` of `parts`), each replaying its own kind; rejections ride along with
//! either. A caught error's original input is replayed as it was given, split the same way in
//! the (never written by purgeflow) case that it mixes kinds.
//!
//! Each `replayInput` is signed (see `sign.rs` for when it may be, and when it must not be).
//!
//! SNS takes at most 256 KiB per message, counting the body and the message attributes. When
//! one report would be larger, its lists are split over several messages, each with the replay
//! input for its own share, so replaying every part replays everything once.

mod build;
#[cfg(all(feature = "sns", feature = "kms"))]
mod publish;
#[cfg(feature = "kms")]
mod sign;
mod text;

pub use build::{build_messages, build_messages_refusing};
#[cfg(all(feature = "sns", feature = "kms"))]
pub use publish::report_failures;
#[cfg(feature = "kms")]
pub use sign::{ReplayTrust, replay_trust, sign_messages};
pub use text::{console_url, summary};

use serde::Serialize;

use crate::TaskError;
use crate::contract::{FailureReport, ReportInput, ReportOutput};

/// SNS's limit on one message: body plus attributes.
pub const SNS_MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// What a message's size budget keeps free for its replay input's MAC, or the note that says
/// why it has none (`unsignedReplay`), both added after the parts are cut.
pub const SIGNATURE_RESERVE_BYTES: usize = 1024;

/// The failure report format; bump on an incompatible change.
pub const REPORT_VERSION: u32 = 1;

/// SNS subjects are at most 100 characters.
const MAX_SUBJECT_CHARS: usize = 100;

/// Message attribute names, for SNS subscription filter policies.
pub mod attributes {
    /// `String.Array` of [`super::Kind`] names present in the message.
    pub const KIND: &str = "purgeflow.kind";
    pub const BATCH_ID: &str = "purgeflow.batchId";
    pub const EXECUTION_NAME: &str = "purgeflow.executionName";
    /// `"true"` when the message has a `replayInput` (e.g. to route it to a replay queue).
    pub const REPLAYABLE: &str = "purgeflow.replayable";
}

/// What kind of failure a message holds (the `purgeflow.kind` attribute's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Rejected,
    DeleteFailed,
    InvalidationFailed,
    TaskFailed,
    /// A replayed batch BatchPaths refused to send.
    ReplayRefused,
    /// A caught task error whose execution input is not one, so it can't be replayed: the
    /// report carries it as given (`unreplayableInput`).
    InputUnreplayable,
}

/// One SNS message, ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportMessage {
    pub report: FailureReport,
    /// The report as JSON: the message body.
    pub body: String,
    pub subject: String,
    /// (name, SNS data type, value).
    pub attributes: Vec<(&'static str, &'static str, String)>,
}

impl ReportMessage {
    /// The size SNS counts against its limit: the body plus each attribute's name, data type and
    /// value. The subject is counted too, to be safe.
    pub fn size(&self) -> usize {
        self.body.len()
            + self.subject.len()
            + self
                .attributes
                .iter()
                .map(|(name, data_type, value)| name.len() + data_type.len() + value.len())
                .sum::<usize>()
    }
}

/// The task's output once `message_ids` are published.
pub fn output(input: &ReportInput, message_ids: Vec<String>) -> Result<ReportOutput, TaskError> {
    let count = |n: usize| {
        u32::try_from(n).map_err(|_| TaskError::InvalidInput(format!("{n} entries in one report")))
    };
    Ok(ReportOutput {
        message_ids,
        rejected: count(input.rejections.len())?,
        delete_failed: count(input.delete_failures.len())?,
        invalidations_failed: count(input.failed_invalidations.len())?,
        summary: summary(input),
    })
}

#[cfg(test)]
mod tests;

#[cfg(all(test, feature = "sns", feature = "kms"))]
mod sns_tests;
