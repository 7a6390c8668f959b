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

fn truncated_page(next_key: Option<&str>, next_version: Option<&str>) -> ListObjectVersionsOutput {
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
