//! The ValidateRecords task: execution input → targets, rejections, superseded, ignored.
//!
//! Every record and every replayed target ends up in exactly one list. A bad record is rejected
//! by name and the rest of the batch goes on; only configuration errors and failed supersede
//! reads fail the task (the latter with a retryable name when DynamoDB throttled). A supersede
//! read DynamoDB refuses for that target's keys (`ValidationException`) rejects that target as
//! `MalformedRecord`: an edited replay must not be able to block every other record forever.
//! A key DynamoDB still leaves unprocessed after the check's retries rejects its target as
//! `SupersedeUnchecked`: not known to be safe, so not deleted, and reported for a replay.

use crate::config::Config;
use crate::contract::{
    ExecutionInput, PurgeTarget, Rejection, RejectionReason, SupersededRecord, ValidationOutput,
};
use crate::error::TaskError;
use crate::signing::MacPolicy;
use crate::supersede::{self, SupersedeOutcome};
use crate::validation::{Rules, Verdict, recheck_target, validate_record};

/// Runs ValidateRecords.
///
/// The input's MAC is checked first ([`MacPolicy::check`]), before any record is read and any
/// item looked up: an unsigned or edited input fails as `PurgeFlow.UnsignedInput` /
/// `PurgeFlow.BadSignature`, so nothing downstream runs and ReportFailures reports it.
///
/// The supersede check runs when `config.check_superseded` is on and a client is given (the
/// Lambda builds one exactly when the check is on); with `dynamodb: None` it is skipped.
pub async fn validate_records(
    mut input: ExecutionInput,
    config: &Config,
    mac: &MacPolicy,
    dynamodb: Option<&aws_sdk_dynamodb::Client>,
) -> Result<ValidationOutput, TaskError> {
    let signature = mac.check(&input).await?;
    if input.batch_id.trim().is_empty() {
        return Err(TaskError::InvalidInput("batchId is empty".into()));
    }
    let rules = Rules::from_config(config)?;
    let supersede_with = match dynamodb {
        Some(client) if config.check_superseded => Some((client, config.table_name()?)),
        _ => None,
    };

    let mut candidates: Vec<PurgeTarget> = Vec::new();
    // The trigger's own rejections (records too large to hand over, broken stream records) are
    // reported with the rest.
    let mut rejections = std::mem::take(&mut input.rejections);
    let mut ignored = Vec::new();
    for record in &input.records {
        match validate_record(record, &rules) {
            Verdict::Target(target) => candidates.push(target),
            Verdict::Rejected(rejection) => rejections.push(rejection),
            Verdict::Ignored(record) => ignored.push(record),
        }
    }
    for target in &input.targets {
        match recheck_target(target, &rules) {
            Verdict::Target(target) => candidates.push(target),
            Verdict::Rejected(rejection) => rejections.push(rejection),
            Verdict::Ignored(record) => ignored.push(record),
        }
    }

    let (targets, superseded) = match supersede_with {
        None => (candidates, Vec::new()),
        Some((client, table)) => {
            let split = split_superseded(client, table, &rules, candidates).await?;
            rejections.extend(split.rejections);
            (split.targets, split.superseded)
        }
    };

    tracing::info!(
        batch_id = %input.batch_id,
        targets = targets.len(),
        rejected = rejections.len(),
        superseded = superseded.len(),
        ignored = ignored.len(),
        replayed_batches = input.batches.len(),
        "validated records"
    );
    for rejection in &rejections {
        tracing::warn!(event_id = %rejection.event_id, reason = ?rejection.reason, detail = %rejection.detail, "record rejected");
    }
    Ok(ValidationOutput {
        batch_id: input.batch_id,
        targets,
        rejections,
        superseded,
        ignored,
        batches: input.batches,
        signature,
    })
}

/// The candidates after the supersede check, each in exactly one list, in input order.
struct SupersedeSplit {
    targets: Vec<PurgeTarget>,
    superseded: Vec<SupersededRecord>,
    /// Targets whose keys DynamoDB refused, or that it left unchecked.
    rejections: Vec<Rejection>,
}

/// Checks every candidate, in order, and splits them into targets, superseded records and
/// targets whose keys DynamoDB refused.
async fn split_superseded(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    rules: &Rules<'_>,
    candidates: Vec<PurgeTarget>,
) -> Result<SupersedeSplit, TaskError> {
    let outcomes = supersede::check_all(
        client,
        table,
        rules.key_template,
        &candidates,
        &supersede::UNPROCESSED_RETRY,
    )
    .await?;
    let mut split = SupersedeSplit {
        targets: Vec::with_capacity(candidates.len()),
        superseded: Vec::new(),
        rejections: Vec::new(),
    };
    for (target, outcome) in candidates.into_iter().zip(outcomes) {
        match outcome {
            SupersedeOutcome::Purge => split.targets.push(target),
            SupersedeOutcome::Superseded => split.superseded.push(SupersededRecord {
                event_id: target.event_id,
                keys: target.table_keys,
                bucket: target.bucket,
                key: target.key,
            }),
            SupersedeOutcome::KeysRejected { detail } => split.rejections.push(Rejection {
                event_id: target.event_id,
                keys: target.table_keys,
                reason: RejectionReason::MalformedRecord,
                detail,
            }),
            SupersedeOutcome::Unchecked { detail } => split.rejections.push(Rejection {
                event_id: target.event_id,
                keys: target.table_keys,
                reason: RejectionReason::SupersedeUnchecked,
                detail,
            }),
        }
    }
    Ok(split)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{DeleteKind, InvalidationBatch, RejectionReason, RemovedRecord};
    use crate::schema_check::assert_valid;
    use crate::supersede::tests::client_with_mode;
    use crate::supersede::tests::{FakeTable, never};
    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemError;
    use aws_sdk_dynamodb::operation::get_item::{GetItemError, GetItemOutput};
    use aws_sdk_dynamodb::types::AttributeValue;
    use aws_smithy_mocks::RuleMode;

    /// ValidateRecords on an input with no MAC, allowed (`PURGE_ALLOW_UNSIGNED_INPUTS`), so a
    /// test reaches the rules it is about; the signature's own tests are in `tests/signing.rs`.
    async fn validate_unsigned(
        input: ExecutionInput,
        config: &Config,
        dynamodb: Option<&aws_sdk_dynamodb::Client>,
    ) -> Result<ValidationOutput, TaskError> {
        validate_records(
            input,
            config,
            &crate::signing::MacPolicy::unsigned_allowed(),
            dynamodb,
        )
        .await
    }
    use aws_smithy_mocks::mock;
    use aws_smithy_types::error::ErrorMetadata;
    use serde_json::{Value, json};
    use std::collections::HashMap;

    fn config(check_superseded: bool) -> Config {
        let vars = HashMap::from([
            ("PURGE_TABLE_NAME", "photos"),
            ("PURGE_BUCKET", "photo-bucket"),
            ("PURGE_KEY_TEMPLATE", "{image_key}"),
            ("PURGE_KEY_PREFIX", "images/"),
            ("PURGE_PATH_TEMPLATES", "/{key},/thumbs/{key}"),
            ("PURGE_TTL_DELETES", "ignore"),
            (
                "PURGE_CHECK_SUPERSEDED",
                if check_superseded { "true" } else { "false" },
            ),
        ]);
        Config::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned())).expect("valid config")
    }

    fn record(id: &str, kind: DeleteKind, image: Option<Value>) -> RemovedRecord {
        RemovedRecord {
            event_id: id.into(),
            sequence_number: format!("{id}00"),
            delete_kind: kind,
            keys: json!({"id": {"S": id}})
                .as_object()
                .expect("object")
                .clone(),
            old_image: image.map(|v| v.as_object().expect("object").clone()),
        }
    }

    fn key_record(id: &str, key: &str) -> RemovedRecord {
        record(
            id,
            DeleteKind::User,
            Some(json!({"id": {"S": id}, "image_key": {"S": key}})),
        )
    }

    fn input() -> ExecutionInput {
        ExecutionInput {
            batch_id: "b-1".into(),
            records: vec![
                key_record("1", "images/a.jpg"),
                record("2", DeleteKind::User, None),
                key_record("3", "images/../etc/passwd"),
                key_record("4", "private/b.jpg"),
                record(
                    "5",
                    DeleteKind::Ttl,
                    Some(json!({"id": {"S": "5"}, "image_key": {"S": "images/ttl.jpg"}})),
                ),
                record(
                    "6",
                    DeleteKind::User,
                    Some(json!({"id": {"S": "6"}, "image_key": {"L": []}})),
                ),
                record("7", DeleteKind::User, Some(json!({"id": {"S": "7"}}))),
                key_record("8", "images/c.jpg"),
            ],
            rejections: vec![],
            targets: Vec::new(),
            batches: vec![InvalidationBatch {
                distribution_id: "E2QWRUHEXAMPLE".into(),
                caller_reference: "ref-1".into(),
                paths: vec!["/images/old.jpg".into()],
            }],
            mac: None,
        }
    }

    fn check_schema(output: &ValidationOutput) {
        let value = serde_json::to_value(output).expect("serialisable");
        assert_valid("validate-records.output.schema.json", &value);
    }

    #[tokio::test]
    async fn every_record_lands_in_exactly_one_list() {
        let output = validate_unsigned(input(), &config(false), None)
            .await
            .expect("validates");
        check_schema(&output);
        let keys: Vec<&str> = output.targets.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["images/a.jpg", "images/c.jpg"]);
        let reasons: Vec<(&str, RejectionReason)> = output
            .rejections
            .iter()
            .map(|r| (r.event_id.as_str(), r.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                ("2", RejectionReason::MissingOldImage),
                ("3", RejectionReason::UnsafeKey),
                ("4", RejectionReason::KeyOutsidePrefix),
                ("6", RejectionReason::WrongAttributeType),
                ("7", RejectionReason::MissingAttribute),
            ]
        );
        assert_eq!(output.ignored.len(), 1);
        assert_eq!(output.ignored[0].event_id, "5");
        assert_eq!(output.batches.len(), 1, "replayed batches pass through");
        assert!(output.superseded.is_empty());
    }

    /// The trigger's rejections (records too large to hand over) are reported first, with
    /// ValidateRecords' own, and delete nothing.
    #[tokio::test]
    async fn the_triggers_rejections_are_reported_with_the_rest() {
        let mut input = input();
        input.rejections = vec![Rejection {
            event_id: "0".into(),
            keys: serde_json::from_value(json!({"id": {"S": "0"}})).expect("keys"),
            reason: RejectionReason::UnsafeKey,
            detail: "longer than 1024 bytes".into(),
        }];
        let output = validate_unsigned(input, &config(false), None)
            .await
            .expect("validates");
        check_schema(&output);
        let reasons: Vec<(&str, RejectionReason)> = output
            .rejections
            .iter()
            .map(|r| (r.event_id.as_str(), r.reason))
            .collect();
        assert_eq!(reasons[0], ("0", RejectionReason::UnsafeKey));
        assert_eq!(reasons.len(), 6, "{reasons:?}");
        assert!(output.targets.iter().all(|t| t.event_id != "0"));
    }

    #[tokio::test]
    async fn superseded_records_delete_nothing() {
        // Record 1's item is back with the same image_key; record 8's is gone.
        let table = FakeTable::new(
            vec![HashMap::from([
                ("id".to_owned(), AttributeValue::S("1".into())),
                (
                    "image_key".to_owned(),
                    AttributeValue::S("images/a.jpg".into()),
                ),
            ])],
            never,
        );
        let rule = table.rule();
        let dynamodb = client_with_mode(RuleMode::MatchAny, &[&rule]);
        let output = validate_unsigned(input(), &config(true), Some(&dynamodb))
            .await
            .expect("validates");
        check_schema(&output);
        assert_eq!(output.superseded.len(), 1);
        assert_eq!(output.superseded[0].key, "images/a.jpg");
        let keys: Vec<&str> = output.targets.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["images/c.jpg"]);
        assert_eq!(
            table.request_sizes(),
            [2],
            "only valid targets are looked up, in one request"
        );
    }

    #[tokio::test]
    async fn keys_left_unprocessed_are_rejected_by_name_and_delete_nothing() {
        fn always(_: usize) -> usize {
            usize::MAX
        }
        let table = FakeTable::new(Vec::new(), always);
        let rule = table.rule();
        let dynamodb = client_with_mode(RuleMode::MatchAny, &[&rule]);
        let mut input = input();
        input.records.truncate(1);
        // The Lambdas' own budget, sleeps included (at most 2.6 s).
        let output = validate_unsigned(input, &config(true), Some(&dynamodb))
            .await
            .expect("validates");
        check_schema(&output);
        assert!(output.targets.is_empty(), "{:?}", output.targets);
        assert_eq!(output.rejections.len(), 1);
        let rejection = &output.rejections[0];
        assert_eq!(rejection.event_id, "1");
        assert_eq!(rejection.reason, RejectionReason::SupersedeUnchecked);
        assert!(
            rejection.detail.contains("unprocessed"),
            "{}",
            rejection.detail
        );
        assert_eq!(
            table.request_sizes().len(),
            1 + supersede::UNPROCESSED_RETRY.max_retries as usize
        );
    }

    #[tokio::test]
    async fn throttled_supersede_read_fails_the_task_retryably() {
        let throttled = mock!(aws_sdk_dynamodb::Client::batch_get_item).then_error(|| {
            BatchGetItemError::generic(
                ErrorMetadata::builder()
                    .code("ProvisionedThroughputExceededException")
                    .build(),
            )
        });
        let dynamodb = client_with_mode(RuleMode::MatchAny, &[&throttled]);
        let err = validate_unsigned(input(), &config(true), Some(&dynamodb))
            .await
            .expect_err("throttled");
        assert!(err.is_retryable(), "{err:?}");
    }

    fn replayed_target(id: &str, keys: Value) -> PurgeTarget {
        PurgeTarget {
            bucket: "photo-bucket".into(),
            key: format!("images/{id}.jpg"),
            paths: Vec::new(),
            event_id: id.into(),
            table_keys: keys.as_object().expect("object").clone(),
        }
    }

    #[tokio::test]
    async fn one_malformed_replayed_key_does_not_fail_the_batch() {
        let mut replay = input();
        replay.records.clear();
        replay.targets = vec![
            replayed_target("r1", json!({"id": {"S": "r1"}})),
            replayed_target("r2", json!({"id": {"B": "***not base64***"}})),
            replayed_target("r3", json!({"id": {"N": "abc"}})),
        ];
        let table = FakeTable::new(Vec::new(), never);
        let gone = table.rule();
        let dynamodb = client_with_mode(RuleMode::MatchAny, &[&gone]);
        let output = validate_unsigned(replay, &config(true), Some(&dynamodb))
            .await
            .expect("one bad key rejects one target");
        check_schema(&output);
        let keys: Vec<&str> = output.targets.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["images/r1.jpg"]);
        let rejected: Vec<(&str, RejectionReason)> = output
            .rejections
            .iter()
            .map(|r| (r.event_id.as_str(), r.reason))
            .collect();
        assert_eq!(
            rejected,
            [
                ("r2", RejectionReason::MalformedRecord),
                ("r3", RejectionReason::MalformedRecord)
            ]
        );
        assert!(output.rejections[0].detail.contains("base64"));
        assert!(output.rejections[1].detail.contains("not a number"));
        assert_eq!(table.request_sizes(), [1], "malformed keys are never sent");
    }

    #[tokio::test]
    async fn a_get_item_validation_exception_rejects_only_that_target() {
        let mut replay = input();
        replay.records.clear();
        replay.targets = vec![
            replayed_target("r1", json!({"id": {"S": "r1"}})),
            replayed_target("r2", json!({"wrong_name": {"S": "r2"}})),
        ];
        let mismatch = mock!(aws_sdk_dynamodb::Client::get_item)
            .match_requests(|req| req.key().is_some_and(|k| k.contains_key("wrong_name")))
            .then_error(|| {
                GetItemError::generic(
                    ErrorMetadata::builder()
                        .code("ValidationException")
                        .message("The provided key element does not match the schema")
                        .build(),
                )
            });
        let gone = mock!(aws_sdk_dynamodb::Client::get_item)
            .then_output(|| GetItemOutput::builder().build());
        // BatchGetItem refuses the whole request; GetItem key by key finds the culprit.
        let refused = mock!(aws_sdk_dynamodb::Client::batch_get_item).then_error(|| {
            BatchGetItemError::generic(
                ErrorMetadata::builder()
                    .code("ValidationException")
                    .message("The provided key element does not match the schema")
                    .build(),
            )
        });
        let dynamodb = client_with_mode(RuleMode::MatchAny, &[&refused, &mismatch, &gone]);
        let output = validate_unsigned(replay, &config(true), Some(&dynamodb))
            .await
            .expect("a key schema mismatch rejects one target");
        check_schema(&output);
        assert_eq!(output.targets.len(), 1);
        assert_eq!(output.targets[0].event_id, "r1");
        assert_eq!(output.rejections.len(), 1);
        let rejection = &output.rejections[0];
        assert_eq!(rejection.event_id, "r2");
        assert_eq!(rejection.reason, RejectionReason::MalformedRecord);
        assert!(
            rejection.detail.contains("GetItem")
                && rejection.detail.contains("ValidationException"),
            "{}",
            rejection.detail
        );
    }

    #[tokio::test]
    async fn access_denied_supersede_read_still_fails_the_task() {
        let denied = mock!(aws_sdk_dynamodb::Client::batch_get_item).then_error(|| {
            BatchGetItemError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .build(),
            )
        });
        let dynamodb = client_with_mode(RuleMode::MatchAny, &[&denied]);
        let err = validate_unsigned(input(), &config(true), Some(&dynamodb))
            .await
            .expect_err("denied");
        assert_eq!(err.error_type(), crate::error::names::ACCESS_DENIED);
    }

    #[tokio::test]
    async fn replayed_targets_are_rechecked() {
        let mut replay = input();
        replay.records.clear();
        let good = PurgeTarget {
            bucket: "photo-bucket".into(),
            key: "images/r.jpg".into(),
            paths: vec!["/*".into()],
            event_id: "r1".into(),
            table_keys: json!({"id": {"S": "r1"}})
                .as_object()
                .expect("object")
                .clone(),
        };
        let mut elsewhere = good.clone();
        elsewhere.bucket = "someone-elses-bucket".into();
        elsewhere.event_id = "r2".into();
        replay.targets = vec![good, elsewhere];
        let output = validate_unsigned(replay, &config(false), None)
            .await
            .expect("validates");
        check_schema(&output);
        assert_eq!(output.targets.len(), 1);
        assert_eq!(
            output.targets[0].paths,
            ["/images/r.jpg", "/thumbs/images/r.jpg"]
        );
        assert_eq!(output.rejections.len(), 1);
        assert_eq!(
            output.rejections[0].reason,
            RejectionReason::KeyOutsidePrefix
        );
    }

    #[tokio::test]
    async fn missing_configuration_is_an_invalid_config_error() {
        let config = Config::from_lookup(|_| None).expect("defaults");
        let err = validate_unsigned(input(), &config, None)
            .await
            .expect_err("no bucket");
        assert_eq!(err.error_type(), crate::error::names::INVALID_CONFIG);
        assert!(err.to_string().contains("PURGE_BUCKET"), "{err}");
    }

    /// The Lambda runtime and the ASL engine's handlers need `Send` futures; this fails to
    /// compile if the supersede check's stream goes back to borrowing through a closure.
    #[test]
    fn the_handler_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let config = config(true);
        let dynamodb = client_with_mode(RuleMode::MatchAny, &[]);
        let check = crate::signing::MacPolicy::unsigned_allowed();
        let future = validate_records(input(), &config, &check, Some(&dynamodb));
        assert_send(&future);
    }

    #[tokio::test]
    async fn empty_batch_id_is_invalid_input() {
        let mut bad = input();
        bad.batch_id = String::new();
        let err = validate_unsigned(bad, &config(false), None)
            .await
            .expect_err("empty id");
        assert_eq!(err.error_type(), crate::error::names::INVALID_INPUT);
    }

    /// The MAC is checked first: with the key configured and unsigned inputs not allowed.
    fn signed_check(rules: &[&aws_smithy_mocks::Rule]) -> MacPolicy {
        MacPolicy {
            key: Some(crate::signing::tests::fake::key(rules)),
            allow_unsigned: false,
        }
    }

    /// A replay of a target whose item does not exist (so the supersede check lets it through)
    /// naming an object to delete: what anyone who can start an execution could write.
    fn forged_replay() -> ExecutionInput {
        ExecutionInput {
            batch_id: "forged".into(),
            records: Vec::new(),
            targets: vec![PurgeTarget {
                bucket: "photo-bucket".into(),
                key: "images/someone-elses.jpg".into(),
                paths: vec!["/images/someone-elses.jpg".into()],
                event_id: "made-up".into(),
                table_keys: json!({"id": {"S": "no-such-item"}})
                    .as_object()
                    .expect("object")
                    .clone(),
            }],
            batches: Vec::new(),
            mac: None,
            rejections: Vec::new(),
        }
    }

    #[tokio::test]
    async fn an_unsigned_input_is_refused_before_any_item_is_read() {
        let table = FakeTable::new(Vec::new(), never);
        let rule = table.rule();
        let dynamodb = client_with_mode(RuleMode::MatchAny, &[&rule]);
        let verify = crate::signing::tests::fake::verify_rule();
        let err = validate_records(
            forged_replay(),
            &config(true),
            &signed_check(&[&verify]),
            Some(&dynamodb),
        )
        .await
        .expect_err("an unsigned input deletes nothing");
        assert_eq!(err.error_type(), crate::error::names::UNSIGNED_INPUT);
        assert!(
            err.to_string().contains("PURGE_ALLOW_UNSIGNED_INPUTS"),
            "names the way out: {err}"
        );
        assert!(table.request_sizes().is_empty(), "no item was looked up");
        assert_eq!(verify.num_calls(), 0, "nothing to verify");
    }

    #[tokio::test]
    async fn an_edited_signed_input_is_refused_as_a_bad_signature() {
        let table = FakeTable::new(Vec::new(), never);
        let rule = table.rule();
        let dynamodb = client_with_mode(RuleMode::MatchAny, &[&rule]);
        let verify = crate::signing::tests::fake::verify_rule();
        let mut edited = crate::signing::tests::fake::signed(forged_replay());
        edited.targets[0].key = "images/another-one.jpg".into();
        let err = validate_records(
            edited,
            &config(true),
            &signed_check(&[&verify]),
            Some(&dynamodb),
        )
        .await
        .expect_err("an edited input deletes nothing");
        assert_eq!(err.error_type(), crate::error::names::BAD_SIGNATURE);
        assert!(table.request_sizes().is_empty(), "no item was looked up");
        assert!(!err.is_retryable());
    }

    #[tokio::test]
    async fn a_signed_input_passes_and_says_it_was_verified() {
        let verify = crate::signing::tests::fake::verify_rule();
        let signed = crate::signing::tests::fake::signed(input());
        let output = validate_records(signed, &config(false), &signed_check(&[&verify]), None)
            .await
            .expect("a signed input validates");
        check_schema(&output);
        assert_eq!(output.signature, crate::signing::InputSignature::Verified);
        assert_eq!(output.targets.len(), 2);
        assert_eq!(verify.num_calls(), 1);
    }

    #[tokio::test]
    async fn the_opt_out_admits_an_unsigned_input_as_unverified_but_not_an_edited_one() {
        let verify = crate::signing::tests::fake::verify_rule();
        let check = MacPolicy {
            key: Some(crate::signing::tests::fake::key(&[&verify])),
            allow_unsigned: true,
        };
        let output = validate_records(input(), &config(false), &check, None)
            .await
            .expect("admitted");
        assert_eq!(output.signature, crate::signing::InputSignature::Unverified);
        let mut edited = crate::signing::tests::fake::signed(input());
        edited.batch_id = "b-2".into();
        let err = validate_records(edited, &config(false), &check, None)
            .await
            .expect_err("an edited signed input is still refused");
        assert_eq!(err.error_type(), crate::error::names::BAD_SIGNATURE);
    }
}
