//! The DeleteObjects task: delete each target's object from S3.
//!
//! - S3 `DeleteObjects`, grouped by bucket, at most 1000 keys a request, in Quiet mode (S3 then
//!   returns only the keys that failed).
//! - A per-key error lands in [`DeleteOutput::failed`](crate::contract::DeleteOutput::failed); it never fails the task. A missing key
//!   (`NoSuchKey`, or `NoSuchVersion` for a version already gone) counts as deleted, so running
//!   the step twice is harmless.
//! - A per-key error S3 cannot tie to a key of the request (no key, or a key the request did
//!   not send) is [`UNATTRIBUTED_ERROR_CODE`] for every key of that request: nothing in the
//!   response proves any of them deleted, so none is reported as deleted.
//! - A request-level error (throttling, access denied to the bucket, a dropped connection) fails
//!   the task with a [`TaskError`](crate::TaskError); the state machine retries the transient ones. Retrying the
//!   whole step is safe because every delete is idempotent.
//! - [`VersionsPolicy`] (`PURGE_VERSIONS`) chooses what "delete" means on a versioned bucket:
//!   `marker` deletes the current version (S3 adds a delete marker and keeps the older versions);
//!   `all` lists every version and delete marker of the key and deletes each one. A listing S3
//!   truncates without the markers to continue from is [`INCOMPLETE_LISTING_CODE`] for that
//!   key: versions may remain, so it is not reported as deleted.

/// What "delete" means on a versioned bucket; parsed from `PURGE_VERSIONS` by the config.
pub use crate::config::VersionsPolicy;

/// The per-key failure code when S3 reports an error it does not attribute to a key the request
/// sent; every key of that request gets it.
pub const UNATTRIBUTED_ERROR_CODE: &str = "PurgeFlow.UnattributedDeleteError";

/// The per-key failure code when `PURGE_VERSIONS=all` could not list every version of a key.
pub const INCOMPLETE_LISTING_CODE: &str = "PurgeFlow.IncompleteVersionListing";

/// S3's limit on keys in one DeleteObjects request.
pub const MAX_KEYS_PER_REQUEST: usize = 1000;

/// The longest per-key error code a [`crate::contract::DeleteFailure`] carries, in bytes. S3's
/// codes are short identifiers (`AccessDenied`, `InvalidObjectState`); the cap makes the size
/// of a failure derivable, so the trigger can bound the state data a record may become
/// (`crate::trigger`).
pub const MAX_ERROR_CODE_BYTES: usize = 48;

/// The longest per-key error message a [`crate::contract::DeleteFailure`] carries, in bytes,
/// `version <id>: ` included. S3's messages are one short English sentence; a longer one is cut.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 160;

/// `text` as a failure report carries it: printable ASCII only, with `"` and `\` replaced,
/// and at most `max_bytes` bytes. The result needs no JSON escaping, so its serialised size is
/// its length plus the two quotes: what the trigger's size bound counts on.
pub fn bounded_error_text(text: &str, max_bytes: usize) -> String {
    const CUT: &str = "...";
    let printable = |c: char| match c {
        '"' => '\'',
        '\\' => '/',
        ' '..='~' => c,
        _ => '?',
    };
    let mut out: String = text.chars().map(printable).collect();
    if out.len() > max_bytes {
        // Every character is ASCII now, so any byte index is a char boundary.
        out.truncate(max_bytes.saturating_sub(CUT.len()));
        out.push_str(&CUT[..CUT.len().min(max_bytes)]);
    }
    out
}

#[cfg(feature = "s3")]
pub use with_s3::delete_objects;

#[cfg(feature = "s3")]
mod with_s3 {
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    use aws_sdk_s3::Client;
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    use futures::{StreamExt, TryStreamExt};

    use super::{
        INCOMPLETE_LISTING_CODE, MAX_ERROR_CODE_BYTES, MAX_ERROR_MESSAGE_BYTES,
        MAX_KEYS_PER_REQUEST, UNATTRIBUTED_ERROR_CODE, VersionsPolicy, bounded_error_text,
    };
    use crate::TaskError;
    use crate::aws_errors::classify;
    use crate::contract::{DeleteFailure, DeleteInput, DeleteOutput, PurgeTarget};

    /// Per-key error codes that mean "already gone": the target counts as deleted.
    const ALREADY_GONE_CODES: [&str; 2] = ["NoSuchKey", "NoSuchVersion"];

    /// ListObjectVersions calls in flight at once when `PURGE_VERSIONS=all` (one listing per key).
    const LIST_CONCURRENCY: usize = 8;

    /// One object version to delete; `version_id` is `None` in marker mode.
    #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    struct Identifier {
        key: String,
        version_id: Option<String>,
    }

    /// The first per-key failure of a key, kept so every target with that key can report it.
    #[derive(Debug, Clone)]
    struct KeyError {
        code: String,
        message: String,
    }

    impl KeyError {
        /// Bounded as [`crate::contract::DeleteFailure`] requires.
        fn new(code: &str, message: &str) -> Self {
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
            .map_err(|e| {
                TaskError::InvalidInput(format!("delete request for bucket {bucket}: {e}"))
            })?;
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

    /// The versions listed for a bucket's keys, and the keys whose listing S3 left incomplete.
    struct Listed {
        identifiers: Vec<Identifier>,
        incomplete: Vec<(String, KeyError)>,
    }

    /// One key's listing: every version, or why some may be missing.
    enum KeyListing {
        Complete(Vec<Identifier>),
        Incomplete { key: String, error: KeyError },
    }

    /// Every version and delete marker of each key, listing with the key as prefix and keeping
    /// exact matches only (`a.jpg` must not take `a.jpg.bak` with it).
    async fn list_all_versions<'k>(
        client: &Client,
        bucket: &str,
        keys: impl Iterator<Item = &'k str>,
    ) -> Result<Listed, TaskError> {
        // Built eagerly, then streamed: mapping the stream with a closure over borrowed data
        // makes the future impossible for rustc to prove `Send` (rust-lang/rust#64552). A
        // listing future does nothing until polled, so `buffered` still bounds the calls.
        let listings: Vec<_> = keys
            .map(|key| list_versions_of(client, bucket, key))
            .collect();
        let per_key: Vec<KeyListing> = futures::stream::iter(listings)
            .buffered(LIST_CONCURRENCY)
            .try_collect()
            .await?;
        // Sorted and deduplicated: a stable request layout whatever the listing order.
        let mut all: BTreeSet<Identifier> = BTreeSet::new();
        let mut incomplete = Vec::new();
        for listing in per_key {
            match listing {
                KeyListing::Complete(identifiers) => all.extend(identifiers),
                // None of its versions is deleted: a partial purge would still be reported as
                // a failure, and the replay lists the key again from the start.
                KeyListing::Incomplete { key, error } => incomplete.push((key, error)),
            }
        }
        Ok(Listed {
            identifiers: all.into_iter().collect(),
            incomplete,
        })
    }

    async fn list_versions_of(
        client: &Client,
        bucket: &str,
        key: &str,
    ) -> Result<KeyListing, TaskError> {
        let incomplete = |why: &str| KeyListing::Incomplete {
            key: key.to_owned(),
            error: KeyError::new(
                INCOMPLETE_LISTING_CODE,
                &format!("ListObjectVersions {why}; versions may remain, none was deleted"),
            ),
        };
        let mut found = Vec::new();
        let mut key_marker: Option<String> = None;
        let mut version_marker: Option<String> = None;
        // The version marker of the last request, to stop a listing that does not advance.
        let mut version_marker_sent: Option<String> = None;
        loop {
            let page = client
                .list_object_versions()
                .bucket(bucket)
                .prefix(key)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| classify("s3", &e))?;
            let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
            let markers = page
                .delete_markers()
                .iter()
                .map(|m| (m.key(), m.version_id()));
            for (listed_key, version_id) in versions.chain(markers) {
                if listed_key == Some(key) {
                    // A version without an id is "null" in S3's terms (an unversioned object).
                    let version_id = version_id.unwrap_or("null").to_owned();
                    found.push(Identifier {
                        key: key.to_owned(),
                        version_id: Some(version_id),
                    });
                }
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            let (next_key, next_version) = (page.next_key_marker(), page.next_version_id_marker());
            match next_key {
                // Keys come back in order, so once the listing has moved past our key, the
                // remaining pages hold only longer keys that share the prefix.
                Some(next) if next != key => break,
                // Without the version marker the next page would start after the key and skip
                // its remaining versions; without any marker there is no next page to ask for.
                Some(_) => {
                    let Some(next_version) = next_version else {
                        return Ok(incomplete(
                            "returned a truncated page without NextVersionIdMarker",
                        ));
                    };
                    if version_marker_sent.as_deref() == Some(next_version) {
                        return Ok(incomplete("returned the same page marker twice"));
                    }
                    key_marker = Some(key.to_owned());
                    version_marker = Some(next_version.to_owned());
                    version_marker_sent = version_marker.clone();
                }
                None => {
                    return Ok(incomplete(
                        "returned a truncated page without NextKeyMarker",
                    ));
                }
            }
        }
        Ok(KeyListing::Complete(found))
    }
}

#[cfg(all(test, feature = "s3"))]
mod s3_tests {
    use super::*;
    use crate::contract::{DeleteInput, DeleteOutput, PurgeTarget};
    use crate::error::names;
    use crate::schema_check::assert_valid;
    use aws_sdk_s3::Client;
    use aws_sdk_s3::config::retry::RetryConfig;
    use aws_sdk_s3::operation::delete_objects::{DeleteObjectsError, DeleteObjectsOutput};
    use aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput;
    use aws_sdk_s3::types::{DeleteMarkerEntry, Error as S3Error, ObjectVersion};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    fn target(bucket: &str, key: &str) -> PurgeTarget {
        PurgeTarget {
            bucket: bucket.into(),
            key: key.into(),
            paths: vec![format!("/{key}")],
            event_id: format!("event-{key}"),
            table_keys: serde_json::from_value(serde_json::json!({"image_key": {"S": key}}))
                .expect("valid map"),
        }
    }

    fn input(targets: Vec<PurgeTarget>) -> DeleteInput {
        DeleteInput {
            batch_id: "batch-1".into(),
            targets,
        }
    }

    /// The SDK's own retries are off: retrying is the state machine's job, and a mock rule is
    /// consumed by each attempt.
    fn client(mode: RuleMode, rules: &[&Rule]) -> Client {
        mock_client!(aws_sdk_s3, mode, rules, |conf| conf
            .retry_config(RetryConfig::disabled()))
    }

    fn check_schemas(input: &DeleteInput, output: &DeleteOutput) {
        assert_valid(
            "delete-objects.input.schema.json",
            &serde_json::to_value(input).expect("serialisable"),
        );
        assert_valid(
            "delete-objects.output.schema.json",
            &serde_json::to_value(output).expect("serialisable"),
        );
    }

    fn keys_of(targets: &[PurgeTarget]) -> Vec<&str> {
        targets.iter().map(|t| t.key.as_str()).collect()
    }

    #[tokio::test]
    async fn deletes_in_quiet_mode_and_counts_a_missing_key_as_deleted() {
        let rule = mock!(Client::delete_objects)
            .match_requests(|req| {
                let delete = req.delete().expect("delete body");
                req.bucket() == Some("photos")
                    && delete.quiet() == Some(true)
                    && delete.objects().iter().map(|o| o.key()).collect::<Vec<_>>()
                        == ["a.jpg", "gone.jpg"]
                    && delete.objects().iter().all(|o| o.version_id().is_none())
            })
            .then_output(|| {
                DeleteObjectsOutput::builder()
                    .errors(
                        S3Error::builder()
                            .key("gone.jpg")
                            .code("NoSuchKey")
                            .message("The specified key does not exist.")
                            .build(),
                    )
                    .build()
            });
        let client = client(RuleMode::Sequential, &[&rule]);
        let input = input(vec![
            target("photos", "a.jpg"),
            target("photos", "gone.jpg"),
        ]);
        let output = delete_objects(&client, input.clone(), VersionsPolicy::Marker)
            .await
            .expect("request succeeds");
        check_schemas(&input, &output);
        assert_eq!(keys_of(&output.deleted), ["a.jpg", "gone.jpg"]);
        assert!(output.failed.is_empty());
        assert_eq!(output.requests, 1);
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn per_key_errors_are_reported_not_thrown() {
        let rule = mock!(Client::delete_objects).then_output(|| {
            DeleteObjectsOutput::builder()
                .errors(
                    S3Error::builder()
                        .key("locked.jpg")
                        .code("AccessDenied")
                        .message("Access Denied")
                        .build(),
                )
                .build()
        });
        let client = client(RuleMode::Sequential, &[&rule]);
        // Two records naming the same locked object both report the failure; it is sent once.
        let targets = vec![
            target("photos", "ok.jpg"),
            target("photos", "locked.jpg"),
            target("photos", "locked.jpg"),
        ];
        let input = input(targets);
        let output = delete_objects(&client, input.clone(), VersionsPolicy::Marker)
            .await
            .expect("request succeeds");
        check_schemas(&input, &output);
        assert_eq!(keys_of(&output.deleted), ["ok.jpg"]);
        assert_eq!(output.failed.len(), 2);
        for failure in &output.failed {
            assert_eq!(failure.target.key, "locked.jpg");
            assert_eq!(failure.code, "AccessDenied");
            assert_eq!(failure.message, "Access Denied");
        }
    }

    #[tokio::test]
    async fn splits_more_than_1000_keys_into_requests_per_bucket() {
        let sizes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let rule = mock!(Client::delete_objects).then_compute_output(move |req| {
            let count = req.delete().map_or(0, |d| d.objects().len());
            seen.lock()
                .expect("lock")
                .push((req.bucket().unwrap_or_default().to_owned(), count));
            DeleteObjectsOutput::builder().build()
        });
        let client = client(RuleMode::MatchAny, &[&rule]);
        let mut targets: Vec<PurgeTarget> = (0..2500)
            .map(|i| target("big", &format!("k{i:04}.jpg")))
            .collect();
        targets.push(target("small", "one.jpg"));
        let input = input(targets);
        let output = delete_objects(&client, input.clone(), VersionsPolicy::Marker)
            .await
            .expect("requests succeed");
        check_schemas(&input, &output);
        assert_eq!(output.deleted.len(), 2501);
        assert_eq!(output.requests, 4);
        let sizes = sizes.lock().expect("lock").clone();
        assert_eq!(
            sizes,
            vec![
                ("big".to_owned(), 1000),
                ("big".to_owned(), 1000),
                ("big".to_owned(), 500),
                ("small".to_owned(), 1)
            ]
        );
    }

    #[tokio::test]
    async fn throttling_fails_the_task_with_a_retryable_error() {
        let rule = mock!(Client::delete_objects).then_error(|| {
            DeleteObjectsError::generic(
                ErrorMetadata::builder()
                    .code("SlowDown")
                    .message("Please reduce your request rate.")
                    .build(),
            )
        });
        let client = client(RuleMode::Sequential, &[&rule]);
        let err = delete_objects(
            &client,
            input(vec![target("photos", "a.jpg")]),
            VersionsPolicy::Marker,
        )
        .await
        .expect_err("throttled");
        assert_eq!(err.error_type(), names::THROTTLED);
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn access_denied_on_the_request_is_not_retryable() {
        let rule = mock!(Client::delete_objects).then_error(|| {
            DeleteObjectsError::generic(
                ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("Access Denied")
                    .build(),
            )
        });
        let client = client(RuleMode::Sequential, &[&rule]);
        let err = delete_objects(
            &client,
            input(vec![target("photos", "a.jpg")]),
            VersionsPolicy::Marker,
        )
        .await
        .expect_err("denied");
        assert_eq!(err.error_type(), names::ACCESS_DENIED);
        assert!(!err.is_retryable());
    }

    #[tokio::test]
    async fn server_errors_are_transient() {
        let rule = mock!(Client::delete_objects).then_http_response(|| {
            aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(503).expect("valid status"),
                aws_smithy_types::body::SdkBody::from(
                    "<Error><Code>ServiceUnavailable</Code><Message>busy</Message></Error>",
                ),
            )
        });
        let client = client(RuleMode::Sequential, &[&rule]);
        let err = delete_objects(
            &client,
            input(vec![target("photos", "a.jpg")]),
            VersionsPolicy::Marker,
        )
        .await
        .expect_err("503");
        assert_eq!(err.error_type(), names::TRANSIENT);
    }

    #[tokio::test]
    async fn versions_all_lists_exact_key_versions_across_pages_and_deletes_each() {
        let first_page = mock!(Client::list_object_versions)
            .match_requests(|req| req.prefix() == Some("a.jpg") && req.key_marker().is_none())
            .then_output(|| {
                ListObjectVersionsOutput::builder()
                    .versions(
                        ObjectVersion::builder()
                            .key("a.jpg")
                            .version_id("v2")
                            .build(),
                    )
                    .is_truncated(true)
                    .next_key_marker("a.jpg")
                    .next_version_id_marker("v2")
                    .build()
            });
        let second_page = mock!(Client::list_object_versions)
            .match_requests(|req| {
                req.prefix() == Some("a.jpg")
                    && req.key_marker() == Some("a.jpg")
                    && req.version_id_marker() == Some("v2")
            })
            .then_output(|| {
                ListObjectVersionsOutput::builder()
                    .versions(
                        ObjectVersion::builder()
                            .key("a.jpg")
                            .version_id("v1")
                            .build(),
                    )
                    .versions(
                        ObjectVersion::builder()
                            .key("a.jpg.bak")
                            .version_id("other")
                            .build(),
                    )
                    .delete_markers(
                        DeleteMarkerEntry::builder()
                            .key("a.jpg")
                            .version_id("m1")
                            .build(),
                    )
                    .is_truncated(true)
                    .next_key_marker("a.jpg.bak")
                    .next_version_id_marker("other")
                    .build()
            });
        let absent = mock!(Client::list_object_versions)
            .match_requests(|req| req.prefix() == Some("never-existed.jpg"))
            .then_output(|| {
                ListObjectVersionsOutput::builder()
                    .is_truncated(false)
                    .build()
            });
        let delete = mock!(Client::delete_objects)
            .match_requests(|req| {
                let ids: Vec<(&str, Option<&str>)> = req
                    .delete()
                    .expect("body")
                    .objects()
                    .iter()
                    .map(|o| (o.key(), o.version_id()))
                    .collect();
                ids == [
                    ("a.jpg", Some("m1")),
                    ("a.jpg", Some("v1")),
                    ("a.jpg", Some("v2")),
                ]
            })
            .then_output(|| {
                DeleteObjectsOutput::builder()
                    .errors(
                        S3Error::builder()
                            .key("a.jpg")
                            .version_id("v1")
                            .code("NoSuchVersion")
                            .message("gone")
                            .build(),
                    )
                    .build()
            });
        let client = client(
            RuleMode::MatchAny,
            &[&first_page, &second_page, &absent, &delete],
        );
        let input = input(vec![
            target("photos", "a.jpg"),
            target("photos", "never-existed.jpg"),
        ]);
        let output = delete_objects(&client, input.clone(), VersionsPolicy::All)
            .await
            .expect("requests succeed");
        check_schemas(&input, &output);
        assert_eq!(keys_of(&output.deleted), ["a.jpg", "never-existed.jpg"]);
        assert!(output.failed.is_empty());
        assert_eq!(output.requests, 1);
        // The listing stopped once it moved past `a.jpg`: no third page was asked for.
        assert_eq!(
            (
                first_page.num_calls(),
                second_page.num_calls(),
                absent.num_calls(),
                delete.num_calls()
            ),
            (1, 1, 1, 1)
        );
    }

    #[tokio::test]
    async fn versions_all_reports_a_failed_version_against_its_target() {
        let list = mock!(Client::list_object_versions).then_output(|| {
            ListObjectVersionsOutput::builder()
                .versions(
                    ObjectVersion::builder()
                        .key("held.jpg")
                        .version_id("v1")
                        .build(),
                )
                .build()
        });
        let delete = mock!(Client::delete_objects).then_output(|| {
            DeleteObjectsOutput::builder()
                .errors(
                    S3Error::builder()
                        .key("held.jpg")
                        .version_id("v1")
                        .code("AccessDenied")
                        .message("object lock")
                        .build(),
                )
                .build()
        });
        let client = client(RuleMode::Sequential, &[&list, &delete]);
        let input = input(vec![target("photos", "held.jpg")]);
        let output = delete_objects(&client, input.clone(), VersionsPolicy::All)
            .await
            .expect("requests succeed");
        check_schemas(&input, &output);
        assert!(output.deleted.is_empty());
        assert_eq!(output.failed.len(), 1);
        assert_eq!(output.failed[0].message, "version v1: object lock");
    }

    #[tokio::test]
    async fn versions_all_listing_denied_fails_the_task() {
        let list = mock!(Client::list_object_versions).then_error(|| {
            aws_sdk_s3::operation::list_object_versions::ListObjectVersionsError::generic(
                ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("no s3:ListBucketVersions")
                    .build(),
            )
        });
        let client = client(RuleMode::Sequential, &[&list]);
        let err = delete_objects(
            &client,
            input(vec![target("photos", "a.jpg")]),
            VersionsPolicy::All,
        )
        .await
        .expect_err("denied");
        assert_eq!(err.error_type(), names::ACCESS_DENIED);
        assert!(
            err.to_string().contains("no s3:ListBucketVersions"),
            "{err}"
        );
    }

    /// Quiet mode lists only failures, so an error naming a key the request did not send (or
    /// none) proves nothing about the keys it did send: each is reported failed.
    #[tokio::test]
    async fn an_error_for_a_key_not_sent_fails_every_key_of_the_request() {
        for (foreign, code) in [
            (Some("someone-elses.jpg"), "AccessDenied"),
            (Some("A.JPG"), "NoSuchKey"),
            (None, "InternalError"),
        ] {
            let rule = mock!(Client::delete_objects).then_output(move || {
                DeleteObjectsOutput::builder()
                    .errors(
                        S3Error::builder()
                            .set_key(foreign.map(str::to_owned))
                            .code(code)
                            .message("odd")
                            .build(),
                    )
                    .build()
            });
            let client = client(RuleMode::Sequential, &[&rule]);
            let input = input(vec![target("photos", "a.jpg"), target("photos", "b.jpg")]);
            let output = delete_objects(&client, input.clone(), VersionsPolicy::Marker)
                .await
                .expect("reported per key, not thrown");
            check_schemas(&input, &output);
            assert!(output.deleted.is_empty(), "{foreign:?}: {output:?}");
            assert_eq!(
                keys_of(
                    &output
                        .failed
                        .iter()
                        .map(|f| f.target.clone())
                        .collect::<Vec<_>>()
                ),
                ["a.jpg", "b.jpg"]
            );
            for failure in &output.failed {
                assert_eq!(failure.code, UNATTRIBUTED_ERROR_CODE);
                assert!(
                    failure
                        .message
                        .starts_with(&format!("S3 reported {code} for ")),
                    "{}",
                    failure.message
                );
                assert!(
                    failure.message.contains("none of its 2 keys"),
                    "{}",
                    failure.message
                );
            }
        }
    }

    fn truncated_page(
        next_key: Option<&str>,
        next_version: Option<&str>,
    ) -> ListObjectVersionsOutput {
        ListObjectVersionsOutput::builder()
            .versions(
                ObjectVersion::builder()
                    .key("a.jpg")
                    .version_id("v2")
                    .build(),
            )
            .is_truncated(true)
            .set_next_key_marker(next_key.map(str::to_owned))
            .set_next_version_id_marker(next_version.map(str::to_owned))
            .build()
    }

    /// A truncated page S3 gives no way to continue from leaves versions unlisted: that key is
    /// a per-key failure (none of its versions deleted), the others go on.
    #[tokio::test]
    async fn versions_all_truncated_listing_without_markers_fails_that_key_only() {
        for (next_key, next_version, why) in [
            (None, None, "without NextKeyMarker"),
            (None, Some("v2"), "without NextKeyMarker"),
            (Some("a.jpg"), None, "without NextVersionIdMarker"),
        ] {
            let broken = mock!(Client::list_object_versions)
                .match_requests(|req| req.prefix() == Some("a.jpg"))
                .then_output(move || truncated_page(next_key, next_version));
            let fine = mock!(Client::list_object_versions)
                .match_requests(|req| req.prefix() == Some("b.jpg"))
                .then_output(|| {
                    ListObjectVersionsOutput::builder()
                        .versions(
                            ObjectVersion::builder()
                                .key("b.jpg")
                                .version_id("v1")
                                .build(),
                        )
                        .build()
                });
            let delete = mock!(Client::delete_objects)
                .match_requests(|req| {
                    req.delete()
                        .expect("body")
                        .objects()
                        .iter()
                        .map(|o| o.key())
                        .collect::<Vec<_>>()
                        == ["b.jpg"]
                })
                .then_output(|| DeleteObjectsOutput::builder().build());
            let client = client(RuleMode::MatchAny, &[&broken, &fine, &delete]);
            let input = input(vec![target("photos", "a.jpg"), target("photos", "b.jpg")]);
            let output = delete_objects(&client, input.clone(), VersionsPolicy::All)
                .await
                .expect("reported per key, not thrown");
            check_schemas(&input, &output);
            assert_eq!(keys_of(&output.deleted), ["b.jpg"], "{why}");
            assert_eq!(output.failed.len(), 1, "{why}");
            let failure = &output.failed[0];
            assert_eq!(failure.target.key, "a.jpg");
            assert_eq!(failure.code, INCOMPLETE_LISTING_CODE);
            assert!(failure.message.contains(why), "{}", failure.message);
            assert_eq!((broken.num_calls(), delete.num_calls()), (1, 1), "{why}");
        }
    }

    #[tokio::test]
    async fn versions_all_listing_that_does_not_advance_fails_that_key() {
        let stuck = mock!(Client::list_object_versions)
            .then_output(|| truncated_page(Some("a.jpg"), Some("v2")));
        let client = client(RuleMode::MatchAny, &[&stuck]);
        let input = input(vec![target("photos", "a.jpg")]);
        let output = delete_objects(&client, input, VersionsPolicy::All)
            .await
            .expect("reported per key, not thrown");
        assert_eq!(stuck.num_calls(), 2);
        assert_eq!(output.failed.len(), 1);
        assert!(output.failed[0].message.contains("same page marker twice"));
        assert_eq!(
            output.requests, 0,
            "nothing of a half-listed key is deleted"
        );
    }

    /// The Lambda runtime and the ASL engine's handlers need `Send` futures; this fails to
    /// compile if the version listing goes back to streaming through a borrowing closure.
    #[test]
    fn the_handler_future_is_send_in_both_versions_modes() {
        fn assert_send<T: Send>(_: &T) {}
        let client = client(RuleMode::Sequential, &[]);
        for versions in [VersionsPolicy::Marker, VersionsPolicy::All] {
            let future = delete_objects(&client, input(vec![target("photos", "a.jpg")]), versions);
            assert_send(&future);
        }
    }

    #[tokio::test]
    async fn no_targets_makes_no_request() {
        let client = client(RuleMode::Sequential, &[]);
        let output = delete_objects(&client, input(vec![]), VersionsPolicy::All)
            .await
            .expect("nothing to do");
        assert_eq!(
            (output.deleted.len(), output.failed.len(), output.requests),
            (0, 0, 0)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_is_kept_when_short_and_plain() {
        assert_eq!(
            bounded_error_text("Access Denied", MAX_ERROR_MESSAGE_BYTES),
            "Access Denied"
        );
    }

    #[test]
    fn error_text_never_needs_json_escaping_and_stays_within_its_bound() {
        let nasty = format!("a\"b\\c\nd\u{1}é{}", "x".repeat(500));
        for max in [0, 2, 3, 10, MAX_ERROR_CODE_BYTES, MAX_ERROR_MESSAGE_BYTES] {
            let text = bounded_error_text(&nasty, max);
            assert!(text.len() <= max, "{max}: {text:?}");
            let json = serde_json::to_string(&text).expect("a string serialises");
            assert_eq!(json.len(), text.len() + 2, "{text:?} needed escaping");
        }
        assert_eq!(bounded_error_text(&nasty, 12), "a'b/c?d??...");
    }
}
