//! The local on-failure store: where `purgeflow local` keeps a stream record it could not hand
//! over even alone, after its retries, as an event source mapping's on-failure destination
//! keeps the batches it gives up on. One JSON object per line in
//! `STATE_DIR/on-failure/records.jsonl`: the record itself (in the Lambda event's shape, so it
//! can be fed to the trigger again), the error by name, the stream, shard and sequence number,
//! how many attempts failed, and when.
//!
//! A record is written here before its checkpoint moves past it, so a crash in between reads
//! it again on restart; the store then finds it already kept (by stream, shard and sequence
//! number) and does not write it twice.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One record the runner gave up on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredRecord {
    /// When it was stored (RFC 3339, UTC).
    pub stored_at: String,
    pub stream_arn: String,
    pub shard_id: String,
    pub sequence_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The error by name: a trigger `PackError` (`RecordTooLarge`), or the error an execution
    /// ended with when it could not publish its failure report (`PurgeFlow.NotFound`, ...).
    pub error: String,
    pub message: String,
    /// Attempts at this record alone (and before it, at the batches that held it).
    pub attempts: u32,
    /// The stream record, in the Lambda event's shape.
    pub record: Value,
}

/// Whether [`OnFailureStore::store`] wrote the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Written,
    /// A previous run stored it (and stopped before its checkpoint moved on).
    AlreadyThere,
}

/// The on-failure file of one state directory.
#[derive(Debug)]
pub struct OnFailureStore {
    path: PathBuf,
    /// (stream ARN, shard id, sequence number) of every record in the file.
    kept: HashSet<(String, String, String)>,
}

impl OnFailureStore {
    /// The file inside a state directory.
    pub fn path_in(state_dir: &Path) -> PathBuf {
        state_dir.join("on-failure").join("records.jsonl")
    }

    /// Reads what the state directory's store already holds (nothing when there is no file).
    pub fn load(state_dir: &Path) -> anyhow::Result<Self> {
        let path = Self::path_in(state_dir);
        let mut kept = HashSet::new();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                for (number, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let stored: StoredRecord = serde_json::from_str(line).with_context(|| {
                        format!(
                            "line {} of the on-failure store {} is not a stored record; fix or move the file",
                            number + 1,
                            path.display()
                        )
                    })?;
                    kept.insert((stored.stream_arn, stored.shard_id, stored.sequence_number));
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(
                    anyhow::Error::new(error).context(format!("cannot read {}", path.display()))
                );
            }
        }
        Ok(OnFailureStore { path, kept })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record` unless the store already holds it; flushed to disk before it returns,
    /// since the caller then moves the checkpoint past it.
    pub fn store(&mut self, record: &StoredRecord) -> anyhow::Result<Stored> {
        let id = (
            record.stream_arn.clone(),
            record.shard_id.clone(),
            record.sequence_number.clone(),
        );
        if self.kept.contains(&id) {
            return Ok(Stored::AlreadyThere);
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let mut line = serde_json::to_string(record).context("cannot serialise a stored record")?;
        line.push('\n');
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .with_context(|| format!("cannot open {}", self.path.display()))?;
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        self.kept.insert(id);
        Ok(Stored::Written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(sequence: &str) -> StoredRecord {
        StoredRecord {
            stored_at: "2026-12-07T04:00:00Z".into(),
            stream_arn: "arn:stream".into(),
            shard_id: "shard-1".into(),
            sequence_number: sequence.into(),
            event_id: Some(format!("evt-{sequence}")),
            error: "PurgeFlow.NotFound".into(),
            message: "the topic does not exist".into(),
            attempts: 3,
            record: json!({"eventID": format!("evt-{sequence}")}),
        }
    }

    fn state_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "purgeflow-on-failure-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_record_is_stored_once_even_across_a_restart() {
        let dir = state_dir("once");
        let mut store = OnFailureStore::load(&dir).expect("no file yet");
        assert_eq!(store.store(&record("100")).expect("store"), Stored::Written);
        assert_eq!(
            store.store(&record("100")).expect("store"),
            Stored::AlreadyThere
        );
        // A new run (a restart before the checkpoint moved) finds it in the file.
        let mut restarted = OnFailureStore::load(&dir).expect("reload");
        assert_eq!(
            restarted.store(&record("100")).expect("store"),
            Stored::AlreadyThere
        );
        assert_eq!(
            restarted.store(&record("101")).expect("store"),
            Stored::Written
        );
        let text = std::fs::read_to_string(OnFailureStore::path_in(&dir)).expect("the file");
        let lines: Vec<StoredRecord> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("a stored record"))
            .collect();
        assert_eq!(lines, [record("100"), record("101")]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_corrupt_store_is_named_not_overwritten() {
        let dir = state_dir("corrupt");
        let path = OnFailureStore::path_in(&dir);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(&path, "{not json\n").expect("write");
        let error = OnFailureStore::load(&dir).expect_err("corrupt");
        assert!(
            format!("{error:#}").contains("line 1 of the on-failure store"),
            "{error:#}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
