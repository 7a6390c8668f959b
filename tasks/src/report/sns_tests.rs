use super::*;
use crate::contract::{DeleteFailure, PurgeTarget, ReportInput};
use crate::error::names;
use crate::schema_check::assert_valid;
use aws_sdk_sns::Client;
use aws_sdk_sns::config::retry::RetryConfig;
use aws_sdk_sns::operation::publish::{PublishError, PublishOutput};
use aws_sdk_sns::types::error::AuthorizationErrorException;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use serde_json::json;

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:purgeflow-failures";

fn client(rules: &[&Rule]) -> Client {
    mock_client!(aws_sdk_sns, RuleMode::Sequential, rules, |conf| conf
        .retry_config(RetryConfig::disabled()))
}

fn input_with_failures(count: usize, key_len: usize) -> ReportInput {
    let long = "k".repeat(key_len);
    ReportInput {
        execution_name: "batch-9".into(),
        execution_arn: Some("arn:aws:states:us-east-1:123456789012:express:purge:batch-9:1".into()),
        execution_start_time: None,
        batch_id: "batch-9".into(),
        rejections: vec![],
        delete_failures: (0..count)
            .map(|i| DeleteFailure {
                target: PurgeTarget {
                    bucket: "photos-bucket".into(),
                    key: format!("{long}{i}"),
                    paths: vec![format!("/{long}{i}")],
                    event_id: format!("e{i}"),
                    table_keys: serde_json::from_value(json!({"id": {"S": format!("{i}")}}))
                        .expect("map"),
                },
                code: "AccessDenied".into(),
                message: "Access Denied".into(),
            })
            .collect(),
        failed_invalidations: vec![],
        dropped_batches: vec![],
        caught: None,
        original_input: None,
        input_signature: None,
    }
}

#[tokio::test]
async fn publishes_with_subject_and_filterable_attributes() {
    let rule = mock!(Client::publish)
        .match_requests(|req| {
            let attrs = req.message_attributes().expect("attributes");
            let kind = attrs.get(attributes::KIND).expect("kind attribute");
            let body: serde_json::Value =
                serde_json::from_str(req.message().unwrap_or_default()).expect("JSON body");
            req.topic_arn() == Some(TOPIC)
                && req
                    .subject()
                    .is_some_and(|s| s.starts_with("purgeflow: purge incomplete (delete_failed)"))
                && kind.data_type() == "String.Array"
                && kind.string_value() == Some(r#"["delete_failed"]"#)
                && attrs
                    .get(attributes::BATCH_ID)
                    .and_then(|a| a.string_value())
                    == Some("batch-9")
                && attrs
                    .get(attributes::REPLAYABLE)
                    .and_then(|a| a.string_value())
                    == Some("true")
                && body["replayInput"]["targets"].as_array().map(Vec::len) == Some(2)
        })
        .then_output(|| PublishOutput::builder().message_id("m-1").build());
    let client = client(&[&rule]);
    let input = input_with_failures(2, 8);
    assert_valid(
        "report-failures.input.schema.json",
        &serde_json::to_value(&input).expect("serialisable"),
    );
    let output = report_failures(
        &client,
        TOPIC,
        &crate::signing::MacPolicy::unsigned_allowed(),
        input,
    )
    .await
    .expect("published");
    assert_valid(
        "report-failures.output.schema.json",
        &serde_json::to_value(&output).expect("serialisable"),
    );
    assert_eq!(output.message_ids, vec!["m-1"]);
    assert_eq!(
        (
            output.rejected,
            output.delete_failed,
            output.invalidations_failed
        ),
        (0, 2, 0)
    );
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_report_over_256_kib_is_published_in_parts() {
    let sizes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = sizes.clone();
    let rule = mock!(Client::publish).then_compute_output(move |req| {
        let body: serde_json::Value =
            serde_json::from_str(req.message().unwrap_or_default()).expect("JSON body");
        let attrs: usize = req
            .message_attributes()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        k.len() + v.data_type().len() + v.string_value().map_or(0, str::len)
                    })
                    .sum()
            })
            .unwrap_or(0);
        let mut seen = seen.lock().expect("lock");
        seen.push((
            body["part"].as_u64(),
            body["parts"].as_u64(),
            req.message().map_or(0, str::len) + attrs,
        ));
        PublishOutput::builder()
            .message_id(format!("m-{}", seen.len()))
            .build()
    });
    let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&rule], |conf| conf
        .retry_config(RetryConfig::disabled()));
    // 600 failures of ~1 KiB, each listed and replayed: about 1.2 MiB in all.
    let output = report_failures(
        &client,
        TOPIC,
        &crate::signing::MacPolicy::unsigned_allowed(),
        input_with_failures(600, 1000),
    )
    .await
    .expect("published");
    let sizes = sizes.lock().expect("lock").clone();
    assert!(sizes.len() >= 4, "{sizes:?}");
    assert_eq!(output.message_ids.len(), sizes.len());
    let parts = sizes.len() as u64;
    for (i, (part, total, size)) in sizes.iter().enumerate() {
        assert_eq!((*part, *total), (Some(i as u64 + 1), Some(parts)));
        assert!(
            *size <= SNS_MAX_MESSAGE_BYTES,
            "part {part:?}: {size} bytes"
        );
    }
}

#[tokio::test]
async fn an_sns_failure_fails_the_task() {
    let denied = mock!(Client::publish).then_error(|| {
        let meta = ErrorMetadata::builder()
            .code("AuthorizationError")
            .message("not authorized to publish")
            .build();
        PublishError::AuthorizationErrorException(
            AuthorizationErrorException::builder()
                .message("not authorized to publish")
                .meta(meta)
                .build(),
        )
    });
    let err = report_failures(
        &client(&[&denied]),
        TOPIC,
        &crate::signing::MacPolicy::unsigned_allowed(),
        input_with_failures(1, 4),
    )
    .await
    .expect_err("denied");
    assert_eq!(err.error_type(), names::ACCESS_DENIED);

    let throttled = mock!(Client::publish).then_error(|| {
        PublishError::generic(
            ErrorMetadata::builder()
                .code("Throttling")
                .message("Rate exceeded")
                .build(),
        )
    });
    let err = report_failures(
        &client(&[&throttled]),
        TOPIC,
        &crate::signing::MacPolicy::unsigned_allowed(),
        input_with_failures(1, 4),
    )
    .await
    .expect_err("throttled");
    assert_eq!(err.error_type(), names::THROTTLED);
    assert!(err.is_retryable());
}

#[tokio::test]
async fn nothing_to_report_publishes_nothing() {
    let client = client(&[]);
    let output = report_failures(
        &client,
        TOPIC,
        &crate::signing::MacPolicy::unsigned_allowed(),
        input_with_failures(0, 4),
    )
    .await
    .expect("nothing to do");
    assert!(output.message_ids.is_empty());
    assert_eq!(
        output.summary,
        "0 rejected, 0 delete(s) failed, 0 invalidation batch(es) failed"
    );
}
