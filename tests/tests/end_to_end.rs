//! purge.asl.json on the engine with the real task handlers (not mocks), their SDK clients
//! answered by aws-smithy-mocks (`purgeflow_tests::fake_aws`), on inputs the trigger's own code
//! makes of the sample stream events. Asserts exactly which DeleteObjects, CreateInvalidation
//! and Publish calls were made, and that every task input and output matches its schema.

use purgeflow_asl::ExecutionStatus;
use purgeflow_tasks::contract::{DeferralCause, DeferredBatch};
use purgeflow_tasks::paths::caller_reference;
use purgeflow_tests::fake_aws::{FakeAws, InvalidationRequest, World};
use purgeflow_tests::purge::{self, contract_violations, describe, largest_data};
use purgeflow_tests::repo;
use purgeflow_tests::samples::{
    self, BUCKET, DISTRIBUTION_ID, IMAGE_KEY_TEMPLATE, LargestShape, SAMPLES, Sample, TOPIC_ARN,
};
use serde_json::{Value, json};

const MAX_STATE_DATA_BYTES: usize = 256 * 1024;

fn only_input(sample: &Sample) -> Value {
    let mut inputs = sample.execution_inputs();
    assert_eq!(inputs.len(), 1, "{}", sample.file);
    inputs.remove(0)
}

fn batch_id(input: &Value) -> String {
    input["batchId"]
        .as_str()
        .expect("the trigger sets batchId")
        .to_owned()
}

/// `deleted` counts objects: a replayed target naming the object a record also names (two
/// deliveries of one removal, a report replayed beside the stream) deletes it once, and is
/// counted once.
#[tokio::test]
async fn two_targets_naming_one_object_count_as_one_deleted() {
    let sample = Sample::by_file("photo-remove.json");
    let mut input = only_input(&sample);
    input["targets"] = json!([{
        "bucket": BUCKET,
        "key": "p-20261101-0042.jpeg",
        "paths": ["/p-20261101-0042.jpeg"],
        "eventId": "replayed-1",
        "tableKeys": {"photo_id": {"S": "p-20261101-0042"}}
    }]);
    let aws = FakeAws::new().with_objects(BUCKET, ["p-20261101-0042.jpeg"]);
    let (result, _recording) = aws
        .run(sample.config(&[]), input.clone(), &batch_id(&input))
        .await;
    assert_eq!(
        result.status,
        ExecutionStatus::Succeeded,
        "{}",
        describe(&result)
    );
    assert_eq!(
        result.output.as_ref().map(|o| &o["deleted"]),
        Some(&json!(1)),
        "{result:?}"
    );
    assert_eq!(
        aws.world().delete_requests,
        vec![(BUCKET.to_owned(), vec!["p-20261101-0042.jpeg".to_owned()])]
    );
}

#[tokio::test]
async fn one_photo_is_deleted_and_its_path_invalidated() {
    let sample = Sample::by_file("photo-remove.json");
    let input = only_input(&sample);
    let aws = FakeAws::new().with_objects(BUCKET, ["p-20261101-0042.jpeg", "p-20261101-0043.jpeg"]);
    let (result, recording) = aws
        .run(sample.config(&[]), input.clone(), &batch_id(&input))
        .await;

    assert_eq!(
        result.status,
        ExecutionStatus::Succeeded,
        "{}",
        describe(&result)
    );
    assert_eq!(
        result.output,
        Some(
            json!({"batchId": batch_id(&input), "deleted": 1, "superseded": 0, "ignored": 0, "paths": 1, "invalidations": 1, "deferred": 0})
        )
    );
    let world = aws.world();
    assert_eq!(
        world.delete_requests,
        vec![(BUCKET.to_owned(), vec!["p-20261101-0042.jpeg".to_owned()])]
    );
    assert_eq!(
        world.removed,
        vec![(BUCKET.to_owned(), "p-20261101-0042.jpeg".to_owned())]
    );
    let paths = vec!["/p-20261101-0042.jpeg".to_owned()];
    assert_eq!(
        world.invalidation_requests,
        vec![InvalidationRequest {
            distribution_id: DISTRIBUTION_ID.to_owned(),
            caller_reference: caller_reference(&batch_id(&input), DISTRIBUTION_ID, &paths),
            paths,
        }]
    );
    assert!(
        world.published.is_empty(),
        "nothing failed, nothing is reported: {:?}",
        world.published
    );
    assert_eq!(contract_violations(&recording), Vec::<String>::new());
}

#[tokio::test]
async fn rejected_records_are_published_in_one_report_and_the_valid_one_is_still_purged() {
    let sample = Sample::by_file("malformed-attributes.json");
    let input = only_input(&sample);
    let aws = FakeAws::new().with_objects(BUCKET, ["p-20261101-0600.jpeg"]);
    let (result, recording) = aws
        .run(sample.config(&[]), input.clone(), &batch_id(&input))
        .await;

    assert_eq!(
        result.status,
        ExecutionStatus::Failed,
        "{}",
        describe(&result)
    );
    assert_eq!(result.error.as_deref(), Some("PurgeIncomplete"));
    assert_eq!(
        result.cause.as_deref(),
        Some("5 rejected, 0 delete(s) failed, 0 invalidation batch(es) failed")
    );
    let world = aws.world();
    assert_eq!(
        world.delete_requests,
        vec![(BUCKET.to_owned(), vec!["p-20261101-0600.jpeg".to_owned()])]
    );
    assert_eq!(world.invalidation_requests.len(), 1);
    assert_eq!(
        world.invalidation_requests[0].paths,
        vec!["/p-20261101-0600.jpeg"]
    );
    assert_eq!(world.published.len(), 1, "{:?}", world.published);
    let report = &world.published[0];
    assert_eq!(report.topic_arn, TOPIC_ARN);
    assert!(report.subject.contains("rejected"), "{}", report.subject);
    let reasons: Vec<&str> = report.body["rejections"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["reason"].as_str())
        .collect();
    assert_eq!(
        reasons,
        [
            "WrongAttributeType",
            "MissingAttribute",
            "MalformedRecord",
            "WrongAttributeType",
            "WrongAttributeType"
        ]
    );
    assert_eq!(report.body["executionName"], json!(batch_id(&input)));
    // A replay would reject them again, so the report offers none.
    assert_eq!(report.body["replayInput"], Value::Null);
    purgeflow_tests::schemas::check("failure-report.schema.json", &report.body)
        .unwrap_or_else(|r| panic!("{r}"));
    assert_eq!(contract_violations(&recording), Vec::<String>::new());
}

#[tokio::test]
async fn a_re_created_item_is_superseded_and_nothing_is_deleted() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let sample = Sample::by_file("recreated-item.json");
    let input = only_input(&sample);
    let aws = FakeAws::new().with_objects(BUCKET, ["p-20261101-0777.jpeg"]);
    aws.world().items.push(
        [
            ("photo_id", AttributeValue::S("p-20261101-0777".into())),
            ("type", AttributeValue::S("image/jpeg".into())),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect(),
    );
    let config = sample.config(&[("PURGE_CHECK_SUPERSEDED", "true")]);
    let (result, recording) = aws.run(config, input.clone(), &batch_id(&input)).await;

    assert_eq!(
        result.status,
        ExecutionStatus::Succeeded,
        "{}",
        describe(&result)
    );
    assert_eq!(
        result.output,
        Some(
            json!({"batchId": batch_id(&input), "deleted": 0, "superseded": 1, "ignored": 0, "paths": 0, "invalidations": 0, "deferred": 0})
        )
    );
    let world = aws.world();
    assert_eq!(
        world.read_requests.iter().map(Vec::len).collect::<Vec<_>>(),
        [1],
        "one consistent read for the one record"
    );
    assert!(
        world.delete_requests.is_empty(),
        "{:?}",
        world.delete_requests
    );
    assert!(world.invalidation_requests.is_empty());
    assert!(world.published.is_empty());
    assert!(
        world
            .objects
            .contains(&(BUCKET.to_owned(), "p-20261101-0777.jpeg".to_owned()))
    );
    assert_eq!(contract_violations(&recording), Vec::<String>::new());
}

#[tokio::test]
async fn every_sample_runs_through_the_real_handlers_within_the_contract() {
    for sample in SAMPLES {
        let input = only_input(&sample);
        let aws = FakeAws::new();
        let (result, recording) = aws
            .run(sample.config(&[]), input.clone(), &batch_id(&input))
            .await;
        let outcome = (result.status, result.error.as_deref());
        assert!(
            matches!(
                outcome,
                (ExecutionStatus::Succeeded, None)
                    | (ExecutionStatus::Failed, Some("PurgeIncomplete"))
            ),
            "{}: {}",
            sample.file,
            describe(&result)
        );
        assert_eq!(
            contract_violations(&recording),
            Vec::<String>::new(),
            "{}",
            sample.file
        );
        for published in &aws.world().published {
            purgeflow_tests::schemas::check("failure-report.schema.json", &published.body)
                .unwrap_or_else(|r| panic!("{}: {r}", sample.file));
        }
    }
}

/// How a largest input fails, so the failure path carries the most data.
#[derive(Debug, Clone, Copy)]
enum Failure {
    /// S3 refuses every key: every target comes back as a DeleteFailure and goes to
    /// ReportFailures.
    EveryDelete,
    /// Every delete succeeds, CloudFront answers TooManyInvalidationsInProgress, and every
    /// SendMessage to the deferral queue fails: every batch, with every encoded path, goes
    /// through DeferBatch and then to ReportFailures.
    EveryInvalidation,
}

/// Runs the largest input of `shape` failing as `failure` says and checks every state's data
/// against AWS's 256 KiB.
async fn largest_input_stays_under_the_limit(shape: LargestShape, failure: Failure) {
    let input = shape.input();
    let input_bytes = input.to_string().len();
    let records = input["records"].as_array().map_or(0, Vec::len);
    let aws = FakeAws::new();
    match failure {
        Failure::EveryDelete => aws.world().denied_keys.extend(aws_keys(&input, shape)),
        Failure::EveryInvalidation => {
            let mut world = aws.world();
            world.too_many_invalidations = usize::MAX;
            world.send_message_failures = usize::MAX;
        }
    }
    let (result, recording) = aws
        .run(shape.config(), input.clone(), &batch_id(&input))
        .await;
    let (largest, place) = largest_data(&result);
    println!(
        "{shape:?}, {failure:?} failing: {records} records, input {input_bytes} bytes; largest state data {largest} bytes ({place}); {}",
        describe_short(&result)
    );
    assert_eq!(
        contract_violations(&recording),
        Vec::<String>::new(),
        "{shape:?}"
    );
    assert!(
        largest < MAX_STATE_DATA_BYTES,
        "{shape:?}, {failure:?} failing: {place} is {largest} bytes"
    );
    assert_eq!(
        result.error.as_deref(),
        Some("PurgeIncomplete"),
        "{shape:?}: {}",
        describe_short(&result)
    );
    // The failure really went the way asked, so the data measured is the worst case's.
    let world = aws.world();
    match failure {
        Failure::EveryDelete => assert!(world.invalidation_requests.is_empty(), "{shape:?}"),
        Failure::EveryInvalidation => {
            assert!(world.invalidations.is_empty(), "{shape:?}");
            assert!(!world.invalidation_requests.is_empty(), "{shape:?}");
            assert!(world.deferred.is_empty(), "{shape:?}");
            assert!(
                recording.inputs_of("DeferBatch").len() >= 4,
                "{shape:?}: every batch went through DeferBatch's attempts"
            );
        }
    }
}

async fn largest_input_stays_under_the_limit_whatever_fails(shape: LargestShape) {
    for failure in [Failure::EveryDelete, Failure::EveryInvalidation] {
        largest_input_stays_under_the_limit(shape, failure).await;
    }
}

#[tokio::test]
async fn the_input_with_the_most_records_keeps_every_states_data_under_256_kib() {
    largest_input_stays_under_the_limit_whatever_fails(LargestShape::MostRecords).await;
}

/// Records with the longest keys a target may have, all percent-encoded: ValidateRecords repeats
/// each key in its target and its paths, so the trigger has to budget records by what they
/// become downstream, not by their input bytes (a 200 KiB input of such records once made a
/// ~361 KB ValidateRecords result, which Step Functions refuses with States.DataLimitExceeded,
/// an error no Catch sees).
#[tokio::test]
async fn the_input_with_the_most_bytes_keeps_every_states_data_under_256_kib() {
    largest_input_stays_under_the_limit_whatever_fails(LargestShape::MostBytes).await;
}

/// The longest keys under four path templates: the most CDN path bytes per record.
#[tokio::test]
async fn the_input_with_the_most_paths_keeps_every_states_data_under_256_kib() {
    largest_input_stays_under_the_limit_whatever_fails(LargestShape::MostPaths).await;
}

/// The largest input byte for byte: every record rejected, so the report carries them all.
#[tokio::test]
async fn the_input_with_the_most_input_bytes_keeps_every_states_data_under_256_kib() {
    let input = LargestShape::MostInputBytes.input();
    let bytes = input.to_string().len();
    assert!(
        bytes > 190 * 1024,
        "the trigger's byte budget is used to the full: {bytes} bytes"
    );
    largest_input_stays_under_the_limit(LargestShape::MostInputBytes, Failure::EveryDelete).await;
}

/// The object keys of the largest inputs (what ValidateRecords makes of each record).
fn aws_keys(input: &Value, shape: LargestShape) -> Vec<String> {
    input["records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|record| match shape {
            LargestShape::MostRecords => Some(format!(
                "{}.jpeg",
                record["oldImage"]["photo_id"]["S"].as_str()?
            )),
            LargestShape::MostBytes | LargestShape::MostPaths | LargestShape::MostInputBytes => {
                record["oldImage"]["image_key"]["S"]
                    .as_str()
                    .map(str::to_owned)
            }
        })
        .collect()
}

fn describe_short(result: &purgeflow_asl::ExecutionResult) -> String {
    format!(
        "{:?} {:?} {:?} via {:?}",
        result.status,
        result.error,
        result.cause,
        purge::states_entered(result)
    )
}

/// Under a full distribution, the batch is deferred at the first refusal: sent once to
/// CloudFront, then to the deferral queue exactly as BatchPaths made it (never a folded one),
/// and the execution succeeds with it counted as deferred; nothing is reported.
#[tokio::test]
async fn a_full_distribution_gets_the_batch_deferred_as_planned_and_nothing_is_reported() {
    // 400 uploads, one photo each in its own directory under images/: 400 paths in one batch.
    let records: Vec<Value> = (0..400)
        .map(|i| {
            let upload = format!("u-{i:06}");
            json!({"eventID": format!("{i:032x}"), "eventName": "REMOVE", "eventVersion": "1.1",
                   "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                   "dynamodb": {"Keys": {"upload_id": {"S": upload}},
                                "OldImage": {"upload_id": {"S": upload}, "image_key": {"S": format!("images/{upload}/p.jpg")}},
                                "SequenceNumber": format!("4000000000315721{i:05}"), "SizeBytes": 100,
                                "StreamViewType": "NEW_AND_OLD_IMAGES"}})
        })
        .collect();
    let config = samples::config(IMAGE_KEY_TEMPLATE, "images/", &[]);
    let event = serde_json::from_value(json!({ "Records": records })).expect("a stream event");
    let inputs = samples::trigger_inputs(&event, &config);
    assert_eq!(inputs.len(), 1);
    let input = inputs[0].clone();
    let aws = FakeAws::new();
    aws.world().too_many_invalidations = 1;
    let (result, recording) = aws.run(config, input.clone(), &batch_id(&input)).await;
    assert_eq!(
        result.status,
        ExecutionStatus::Succeeded,
        "{}",
        describe(&result)
    );
    assert_eq!(contract_violations(&recording), Vec::<String>::new());
    let world = aws.world();
    assert!(world.published.is_empty(), "{:?}", world.published);
    assert!(world.invalidations.is_empty(), "CloudFront took nothing");
    let requests = &world.invalidation_requests;
    assert_eq!(requests.len(), 1, "refused once, not retried: {requests:?}");
    assert_eq!(requests[0].paths.len(), 400);

    // The deferral queue got one message: the DeferredBatch, as JSON text, holding the batch
    // exactly as it was sent the first time.
    let message = the_one_deferred_message(&world);
    assert_eq!(message.error, DeferralCause::TooManyInvalidationsInProgress);
    assert_eq!(message.batch.paths, requests[0].paths);
    assert_eq!(message.batch.caller_reference, requests[0].caller_reference);
    assert_eq!(message.batch.distribution_id, requests[0].distribution_id);
    assert_eq!(Value::from(message.batch_id), input["batchId"]);
    assert_eq!(Value::from(message.execution_name), input["batchId"]);
    assert_eq!(
        invalidated_and_deferred(&result),
        Some((json!(0), json!(1)))
    );
}

/// The deferral queue (as `purgeflow local` and the CDK stack configure it), for the backlog gate.
const DEFERRAL_QUEUE_URL: &str =
    "https://sqs.us-east-1.amazonaws.com/000000000000/purgeflow-deferred";

/// The one message the execution sent to the deferral queue: sent to that queue, and a
/// DeferredBatch that matches its schema.
fn the_one_deferred_message(world: &World) -> DeferredBatch {
    assert_eq!(world.deferred.len(), 1, "{:?}", world.deferred);
    let (queue_url, body) = &world.deferred[0];
    assert_eq!(queue_url, DEFERRAL_QUEUE_URL);
    purgeflow_tests::schemas::check(
        "deferred-batch.schema.json",
        &serde_json::from_str::<Value>(body).expect("JSON"),
    )
    .unwrap_or_else(|report| panic!("{report}"));
    serde_json::from_str(body).expect("a DeferredBatch")
}

/// PurgeComplete's counts: (invalidations, deferred).
fn invalidated_and_deferred(result: &purgeflow_asl::ExecutionResult) -> Option<(Value, Value)> {
    result
        .output
        .as_ref()
        .map(|o| (o["invalidations"].clone(), o["deferred"].clone()))
}

/// While batches wait on the deferral queue, the first attempt does not ask CloudFront: the
/// batch is deferred (PurgeFlow.BacklogWaiting) with the others, and the execution succeeds.
#[tokio::test]
async fn a_waiting_backlog_defers_the_batch_without_asking_cloudfront() {
    let input = repo::read_json("events/executions/photo-remove.json");
    let aws = FakeAws::new();
    aws.world().deferral_backlog = 3;
    let config = Sample::by_file("photo-remove.json")
        .config(&[("PURGE_DEFERRAL_QUEUE_URL", DEFERRAL_QUEUE_URL)]);
    assert_eq!(config.skip_direct_backlog, 1, "the default threshold");
    let (result, recording) = aws.run(config, input.clone(), &batch_id(&input)).await;
    assert_eq!(
        result.status,
        ExecutionStatus::Succeeded,
        "{}",
        describe(&result)
    );
    assert_eq!(contract_violations(&recording), Vec::<String>::new());
    let world = aws.world();
    assert_eq!(world.backlog_reads, 1);
    assert!(
        world.invalidation_requests.is_empty(),
        "CloudFront was not asked: {:?}",
        world.invalidation_requests
    );
    assert!(world.published.is_empty(), "{:?}", world.published);
    let message = the_one_deferred_message(&world);
    assert_eq!(message.error, DeferralCause::BacklogWaiting);
    assert_eq!(message.batch.paths, ["/p-20261101-0042.jpeg"]);
    assert_eq!(
        invalidated_and_deferred(&result),
        Some((json!(0), json!(1)))
    );
}

/// An empty deferral queue lets the batch through to CloudFront; `PURGE_SKIP_DIRECT_BACKLOG=0`
/// does not even look.
#[tokio::test]
async fn an_empty_queue_or_a_disabled_gate_asks_cloudfront_as_before() {
    let input = repo::read_json("events/executions/photo-remove.json");
    for (threshold, backlog, reads) in [("1", 0, 1), ("0", 5, 0)] {
        let aws = FakeAws::new();
        aws.world().deferral_backlog = backlog;
        let config = Sample::by_file("photo-remove.json").config(&[
            ("PURGE_DEFERRAL_QUEUE_URL", DEFERRAL_QUEUE_URL),
            ("PURGE_SKIP_DIRECT_BACKLOG", threshold),
        ]);
        let (result, _) = aws.run(config, input.clone(), &batch_id(&input)).await;
        assert_eq!(
            result.status,
            ExecutionStatus::Succeeded,
            "{}",
            describe(&result)
        );
        let world = aws.world();
        assert_eq!(world.backlog_reads, reads, "threshold {threshold}");
        assert_eq!(world.invalidation_requests.len(), 1);
        assert!(world.deferred.is_empty());
        assert_eq!(
            result.output.as_ref().map(|o| o["invalidations"].clone()),
            Some(json!(1))
        );
    }
}

/// A batch the gate held back whose deferral fails (SendMessage refused through every retry) is
/// reported for replay, exactly as a refused one: nothing is lost.
#[tokio::test]
async fn a_held_back_batch_that_cannot_be_deferred_is_reported() {
    let input = repo::read_json("events/executions/photo-remove.json");
    let aws = FakeAws::new();
    aws.world().deferral_backlog = 1;
    aws.world().send_message_failures = 4;
    let config = Sample::by_file("photo-remove.json")
        .config(&[("PURGE_DEFERRAL_QUEUE_URL", DEFERRAL_QUEUE_URL)]);
    let (result, recording) = aws.run(config, input.clone(), &batch_id(&input)).await;
    assert_eq!(
        result.status,
        ExecutionStatus::Failed,
        "{}",
        describe(&result)
    );
    assert_eq!(contract_violations(&recording), Vec::<String>::new());
    let world = aws.world();
    assert!(world.invalidation_requests.is_empty());
    assert!(world.deferred.is_empty());
    assert_eq!(world.published.len(), 1);
    let report = &world.published[0].body;
    let failed = &report["failedInvalidations"][0];
    assert!(
        failed["cause"]
            .as_str()
            .is_some_and(|c| c.starts_with("deferring after PurgeFlow.BacklogWaiting failed")),
        "{failed}"
    );
    assert_eq!(failed["batch"]["paths"], json!(["/p-20261101-0042.jpeg"]));
    assert_eq!(
        report["replayInput"]["batches"][0]["paths"],
        json!(["/p-20261101-0042.jpeg"])
    );
}

/// A throttled CreateInvalidation is deferred the same way, named as throttling.
#[tokio::test]
async fn a_throttled_invalidation_is_deferred_too() {
    let input = repo::read_json("events/executions/photo-remove.json");
    let aws = FakeAws::new();
    aws.world().throttled_invalidations = 1;
    let config = Sample::by_file("photo-remove.json").config(&[]);
    let (result, recording) = aws.run(config, input.clone(), &batch_id(&input)).await;
    assert_eq!(
        result.status,
        ExecutionStatus::Succeeded,
        "{}",
        describe(&result)
    );
    assert_eq!(contract_violations(&recording), Vec::<String>::new());
    let world = aws.world();
    assert_eq!(world.invalidation_requests.len(), 1);
    let message = the_one_deferred_message(&world);
    assert_eq!(message.error, DeferralCause::Throttled);
    assert_eq!(message.batch.paths, world.invalidation_requests[0].paths);
}
