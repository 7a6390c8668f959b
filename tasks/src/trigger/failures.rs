//! The trigger's answer: which records the stream must retry.

use crate::records::{Classified, ClassifiedRecord};

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
