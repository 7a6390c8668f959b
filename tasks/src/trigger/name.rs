//! Execution names (also the inputs' `batchId`), derived from the records they hold.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::contract::RemovedRecord;

/// Execution names: at most 80 characters of `[0-9A-Za-z_-]`.
pub const MAX_NAME_CHARS: usize = 80;

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
pub(super) struct BatchNamer {
    hasher: Sha256,
    count: usize,
    first_sequence: Option<String>,
}

impl BatchNamer {
    pub(super) fn add(&mut self, event_id: &str, sequence_number: &str) {
        self.count += 1;
        self.first_sequence
            .get_or_insert_with(|| sequence_number.to_owned());
        self.hasher.update(event_id.as_bytes());
        self.hasher.update([0]);
        self.hasher.update(sequence_number.as_bytes());
        self.hasher.update([0]);
    }

    pub(super) fn finish(self) -> String {
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
