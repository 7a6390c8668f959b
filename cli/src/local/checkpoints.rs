//! Stream checkpoints persisted in a local JSON file: per stream and shard, the sequence number
//! of the last record whose executions all finished, and whether a closed shard was read to its
//! end.
//!
//! A checkpoint is written only after a batch's executions finished, so a restart resumes after
//! the last finished record: records of an unfinished batch are read again (at least once),
//! none is skipped. Each write goes to a temporary file that is then renamed over the old one,
//! so a crash mid-write leaves the previous checkpoints intact.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// Where one shard's consumption stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShardCheckpoint {
    /// The last record handled; reading resumes after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sequence_number: Option<String>,
    /// The shard is closed and was read to its end: its children may be read.
    #[serde(default)]
    pub finished: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CheckpointFile {
    /// Stream ARN → shard id → checkpoint.
    #[serde(default)]
    streams: BTreeMap<String, BTreeMap<String, ShardCheckpoint>>,
    /// Stream ARN → seconds since the epoch: records made before are passed over (a state
    /// directory started at "now"). No entry: read from the oldest record (trim horizon).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    not_before: BTreeMap<String, f64>,
}

/// The checkpoints file, loaded, and written back on every commit.
#[derive(Debug)]
pub struct CheckpointStore {
    path: PathBuf,
    file: CheckpointFile,
}

impl CheckpointStore {
    /// Loads `path`; a missing file means nothing was read yet.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let file = match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).with_context(|| {
                format!(
                    "the checkpoints file {} is not valid; fix it, or delete it to read the stream from its oldest record",
                    path.display()
                )
            })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => CheckpointFile::default(),
            Err(error) => {
                return Err(anyhow::Error::new(error).context(format!("cannot read {}", path.display())));
            }
        };
        Ok(CheckpointStore {
            path: path.to_owned(),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The shard's checkpoint (default: nothing read yet).
    pub fn get(&self, stream_arn: &str, shard_id: &str) -> ShardCheckpoint {
        self.file
            .streams
            .get(stream_arn)
            .and_then(|shards| shards.get(shard_id))
            .cloned()
            .unwrap_or_default()
    }

    /// Where a state directory started on this stream, if not at its oldest record.
    pub fn not_before(&self, stream_arn: &str) -> Option<f64> {
        self.file.not_before.get(stream_arn).copied()
    }

    /// Whether nothing was read from this stream yet, nor a start pinned.
    pub fn is_new(&self, stream_arn: &str) -> bool {
        !self.file.streams.contains_key(stream_arn)
            && !self.file.not_before.contains_key(stream_arn)
    }

    /// Pins where a new state directory starts on this stream: records made before `start`
    /// are passed over, now and on every later run (the file remembers it). Writes the file.
    pub fn pin_start(&mut self, stream_arn: &str, start: f64) -> anyhow::Result<()> {
        self.file.not_before.insert(stream_arn.to_owned(), start);
        self.save()
    }

    /// Records progress on a shard and writes the file.
    pub fn commit(
        &mut self,
        stream_arn: &str,
        shard_id: &str,
        last_sequence_number: Option<&str>,
        finished: bool,
    ) -> anyhow::Result<()> {
        let entry = self
            .file
            .streams
            .entry(stream_arn.to_owned())
            .or_default()
            .entry(shard_id.to_owned())
            .or_default();
        if let Some(sequence) = last_sequence_number {
            entry.last_sequence_number = Some(sequence.to_owned());
        }
        entry.finished |= finished;
        self.save()
    }

    fn save(&self) -> anyhow::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let text =
            serde_json::to_string_pretty(&self.file).context("cannot serialise the checkpoints")?;
        let temporary = self.path.with_extension("json.tmp");
        std::fs::write(&temporary, text)
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        std::fs::rename(&temporary, &self.path)
            .with_context(|| format!("cannot replace {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/photos/stream/2026";

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "purgeflow-checkpoints-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("checkpoints.json")
    }

    #[test]
    fn commits_survive_a_reload() {
        let path = temp_path("reload");
        let mut store = CheckpointStore::load(&path).expect("missing file is empty");
        assert_eq!(store.get(STREAM, "shard-1"), ShardCheckpoint::default());
        store
            .commit(STREAM, "shard-1", Some("100"), false)
            .expect("commit");
        store.commit(STREAM, "shard-0", None, true).expect("commit");
        let reloaded = CheckpointStore::load(&path).expect("reload");
        assert_eq!(
            reloaded.get(STREAM, "shard-1"),
            ShardCheckpoint {
                last_sequence_number: Some("100".into()),
                finished: false
            }
        );
        assert!(reloaded.get(STREAM, "shard-0").finished);
    }

    #[test]
    fn an_empty_batch_keeps_the_last_sequence_number() {
        let path = temp_path("empty");
        let mut store = CheckpointStore::load(&path).expect("load");
        store.commit(STREAM, "s", Some("7"), false).expect("commit");
        store.commit(STREAM, "s", None, true).expect("commit");
        assert_eq!(
            store.get(STREAM, "s").last_sequence_number.as_deref(),
            Some("7")
        );
        assert!(store.get(STREAM, "s").finished);
    }

    #[test]
    fn a_pinned_start_survives_a_reload() {
        let path = temp_path("pinned");
        let mut store = CheckpointStore::load(&path).expect("load");
        assert!(store.is_new(STREAM));
        assert_eq!(store.not_before(STREAM), None);
        store.pin_start(STREAM, 1_700_000_000.0).expect("pin");
        let reloaded = CheckpointStore::load(&path).expect("reload");
        assert!(!reloaded.is_new(STREAM));
        assert_eq!(reloaded.not_before(STREAM), Some(1_700_000_000.0));
    }

    #[test]
    fn a_corrupt_file_is_named_not_ignored() {
        let path = temp_path("corrupt");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(&path, "{not json").expect("write");
        let error = CheckpointStore::load(&path).expect_err("corrupt file");
        assert!(format!("{error:#}").contains("is not valid"), "{error:#}");
    }
}
