//! DeleteObjects requests: grouping targets by bucket, 1000 keys a request, and sorting each
//! key's outcome into deleted or failed (feature `s3`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use super::versions::list_all_versions;
use super::{
    MAX_ERROR_CODE_BYTES, MAX_ERROR_MESSAGE_BYTES, MAX_KEYS_PER_REQUEST, UNATTRIBUTED_ERROR_CODE,
    VersionsPolicy, bounded_error_text,
};
use crate::TaskError;
use crate::aws_errors::classify;
use crate::contract::{DeleteFailure, DeleteInput, DeleteOutput, PurgeTarget};

/// Per-key error codes that mean "already gone": the target counts as deleted.
const ALREADY_GONE_CODES: [&str; 2] = ["NoSuchKey", "NoSuchVersion"];

/// One object version to delete; `version_id` is `None` in marker mode.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Identifier {
    pub(super) key: String,
    pub(super) version_id: Option<String>,
}

/// The first per-key failure of a key, kept so every target with that key can report it.
#[derive(Debug, Clone)]
pub(super) struct KeyError {
    code: String,
    message: String,
}

impl KeyError {
    /// Bounded as [`crate::contract::DeleteFailure`] requires.
    pub(super) fn new(code: &str, message: &str) -> Self {
        KeyError {
            code: bounded_error_text(code, MAX_ERROR_CODE_BYTES),
            message: bounded_error_text(message, MAX_ERROR_MESSAGE_BYTES),
        }
    }
}

/// Deletes every target's object; see the module docs for what is thrown and what is reported.
pub async fn delete_objects(
    client: &Client,
    input: DeleteInput,
    versions: VersionsPolicy,
) -> Result<DeleteOutput, TaskError> {
    // bucket → key → the targets naming it (two records may point at one object).
    let mut by_bucket: BTreeMap<&str, BTreeMap<&str, Vec<&PurgeTarget>>> = BTreeMap::new();
    for target in &input.targets {
        by_bucket
            .entry(&target.bucket)
            .or_default()
            .entry(&target.key)
            .or_default()
            .push(target);
    }

    let mut requests = 0u32;
    // (bucket, key) → its first per-key failure.
    let mut key_errors: HashMap<(String, String), KeyError> = HashMap::new();
    for (bucket, keys) in &by_bucket {
        let identifiers: Vec<Identifier> = match versions {
            VersionsPolicy::Marker => keys
                .keys()
                .map(|key| Identifier {
                    key: (*key).to_owned(),
                    version_id: None,
                })
                .collect(),
            VersionsPolicy::All => {
                let listed = list_all_versions(client, bucket, keys.keys().copied()).await?;
                for (key, error) in listed.incomplete {
                    key_errors.insert(((*bucket).to_owned(), key), error);
                }
                listed.identifiers
            }
        };
        for chunk in identifiers.chunks(MAX_KEYS_PER_REQUEST) {
            requests += 1;
            for (key, error) in delete_chunk(client, bucket, chunk).await? {
                key_errors
                    .entry(((*bucket).to_owned(), key))
                    .or_insert(error);
            }
        }
    }

    let mut deleted = Vec::new();
    let mut failed = Vec::new();
    for target in input.targets {
        match key_errors.get(&(target.bucket.clone(), target.key.clone())) {
            Some(error) => failed.push(DeleteFailure {
                code: error.code.clone(),
                message: error.message.clone(),
                target,
            }),
            None => deleted.push(target),
        }
    }
    tracing::info!(
        deleted = deleted.len(),
        failed = failed.len(),
        requests,
        ?versions,
        "deleted objects"
    );
    Ok(DeleteOutput {
        deleted,
        failed,
        requests,
    })
}

/// One DeleteObjects request. Returns the per-key errors that are real failures.
async fn delete_chunk(
    client: &Client,
    bucket: &str,
    chunk: &[Identifier],
) -> Result<Vec<(String, KeyError)>, TaskError> {
    let objects = chunk
        .iter()
        .map(|id| {
            ObjectIdentifier::builder()
                .key(&id.key)
                .set_version_id(id.version_id.clone())
                .build()
                .map_err(|e| TaskError::InvalidInput(format!("object key {:?}: {e}", id.key)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let delete = Delete::builder()
        .set_objects(Some(objects))
        .quiet(true)
        .build()
        .map_err(|e| TaskError::InvalidInput(format!("delete request for bucket {bucket}: {e}")))?;
    let output = client
        .delete_objects()
        .bucket(bucket)
        .delete(delete)
        .send()
        .await
        .map_err(|e| classify("s3", &e))?;

    let sent: BTreeSet<&str> = chunk.iter().map(|id| id.key.as_str()).collect();
    let mut failures = Vec::new();
    for error in output.errors() {
        let code = error.code().unwrap_or("Unknown");
        let key = error.key().filter(|key| sent.contains(key));
        let Some(key) = key else {
            // In Quiet mode S3 lists only failures, so an error we cannot tie to a key we
            // sent (none, or another key) leaves every key of the request unproven: report
            // them all failed rather than silently count any as deleted. A replay retries
            // them; deletes are idempotent. Checked before the "already gone" codes: a
            // `NoSuchKey` for a key we never sent proves nothing either.
            let named = error
                .key()
                .map_or_else(|| "no key".to_owned(), |key| format!("key {key:?}"));
            tracing::warn!(bucket, code, %named, "DeleteObjects error not attributable to a sent key");
            let unattributed = KeyError::new(
                UNATTRIBUTED_ERROR_CODE,
                &format!(
                    "S3 reported {code} for {named}, not a key of this request, so none of its {} keys is known deleted: {}",
                    sent.len(),
                    error.message().unwrap_or_default()
                ),
            );
            return Ok(sent
                .iter()
                .map(|key| ((*key).to_owned(), unattributed.clone()))
                .collect());
        };
        if ALREADY_GONE_CODES.contains(&code) {
            continue;
        }
        let message = match error.version_id() {
            Some(version) => {
                format!("version {version}: {}", error.message().unwrap_or_default())
            }
            None => error.message().unwrap_or_default().to_owned(),
        };
        failures.push((key.to_owned(), KeyError::new(code, &message)));
    }
    Ok(failures)
}
