//! Only inputs purgeflow made can delete: purge.asl.json on the engine with the real task
//! handlers against the fake AWS (whose KMS computes a keyed MAC, so an edit fails as with KMS),
//! with unsigned inputs NOT allowed (`PURGE_ALLOW_UNSIGNED_INPUTS=false`, the default).
//!
//! Each of the first two tests fails on the code before the MAC: the forged input deleted the
//! object, because a `tableKeys` of an item that does not exist passes the supersede check.

use purgeflow_asl::ExecutionStatus;
use purgeflow_tests::fake_aws::FakeAws;
use purgeflow_tests::purge::describe;
use purgeflow_tests::samples::{self, BUCKET, IMAGE_KEY_TEMPLATE};
use serde_json::{Value, json};

/// The shared sample configuration with the opt-out off and the supersede check on (the
/// deployed defaults), so the check can't be what saves the object.
fn strict() -> purgeflow_tasks::config::Config {
    samples::config(
        IMAGE_KEY_TEMPLATE,
        "images/",
        &[
            ("PURGE_ALLOW_UNSIGNED_INPUTS", "false"),
            ("PURGE_CHECK_SUPERSEDED", "true"),
        ],
    )
}

/// What anyone who may start an execution could write: a replay of a target whose item does
/// not exist, naming someone else's object inside the prefix.
fn forged() -> Value {
    json!({
        "batchId": "forged-1",
        "targets": [{
            "bucket": BUCKET,
            "key": "images/someone-elses.jpg",
            "paths": ["/images/someone-elses.jpg"],
            "eventId": "made-up",
            "tableKeys": {"image_key": {"S": "no-such-item"}}
        }]
    })
}

fn only_report(aws: &FakeAws) -> Value {
    let world = aws.world();
    assert_eq!(world.published.len(), 1, "one report");
    world.published[0].body.clone()
}

#[tokio::test]
async fn an_unsigned_input_for_a_missing_item_deletes_nothing_and_is_reported() {
    let aws = FakeAws::new().with_objects(BUCKET, ["images/someone-elses.jpg"]);
    let (result, _) = aws.run(strict(), forged(), "forged-1").await;
    assert_eq!(
        result.status,
        ExecutionStatus::Failed,
        "{}",
        describe(&result)
    );
    {
        let world = aws.world();
        assert!(world.delete_requests.is_empty(), "nothing was deleted");
        assert!(world.read_requests.is_empty(), "nothing was even looked up");
        assert!(world.invalidation_requests.is_empty());
    }
    let report = only_report(&aws);
    assert_eq!(report["caught"]["Error"], "PurgeFlow.UnsignedInput");
    assert_eq!(
        report["replayInput"],
        Value::Null,
        "no replay input to launder"
    );
    assert_eq!(report["unreplayableInput"]["reason"], "UnsignedInput");
    assert_eq!(report["unreplayableInput"]["input"], forged());
    purgeflow_tests::schemas::check("failure-report.schema.json", &report).expect("schema");
}

#[tokio::test]
async fn an_edited_signed_input_deletes_nothing_and_is_reported_as_a_bad_signature() {
    let aws = FakeAws::new().with_objects(BUCKET, ["images/a.jpg", "images/someone-elses.jpg"]);
    let mut signed = forged();
    signed["targets"][0]["key"] = json!("images/a.jpg");
    signed["targets"][0]["paths"] = json!(["/images/a.jpg"]);
    let mut edited = aws.sign(&signed);
    // Signed for a.jpg, then pointed at another object.
    edited["targets"][0]["key"] = json!("images/someone-elses.jpg");
    let (result, _) = aws.run(strict(), edited.clone(), "forged-1").await;
    assert_eq!(
        result.status,
        ExecutionStatus::Failed,
        "{}",
        describe(&result)
    );
    assert!(
        aws.world().delete_requests.is_empty(),
        "nothing was deleted"
    );
    let report = only_report(&aws);
    assert_eq!(report["caught"]["Error"], "PurgeFlow.BadSignature");
    assert_eq!(report["replayInput"], Value::Null);
    assert_eq!(report["unreplayableInput"]["reason"], "BadSignature");
}

#[tokio::test]
async fn a_signed_input_passes_and_its_report_is_signed_again() {
    // One object deletes, one is under a hold: the report's replayInput holds the second,
    // signed, and a replay of it verifies.
    let aws = FakeAws::new().with_objects(BUCKET, ["images/a.jpg", "images/held.jpg"]);
    aws.world().denied_keys.insert("images/held.jpg".to_owned());
    let target = |key: &str| {
        json!({"bucket": BUCKET, "key": key, "paths": [format!("/{key}")], "eventId": key,
               "tableKeys": {"image_key": {"S": key}}})
    };
    let input = aws.sign(&json!({
        "batchId": "signed-1",
        "targets": [target("images/a.jpg"), target("images/held.jpg")]
    }));
    let (result, _) = aws.run(strict(), input, "signed-1").await;
    assert_eq!(
        result.status,
        ExecutionStatus::Failed,
        "{}",
        describe(&result)
    );
    assert_eq!(
        aws.world().removed,
        vec![(BUCKET.to_owned(), "images/a.jpg".to_owned())]
    );
    let report = only_report(&aws);
    let replay = report["replayInput"].clone();
    assert_eq!(replay["targets"][0]["key"], "images/held.jpg");
    assert!(
        replay["mac"].is_object(),
        "the replay input is signed: {report}"
    );
    assert!(report.get("unsignedReplay").is_none());

    // Replaying the report's input runs (its MAC verifies) once the hold is gone.
    aws.world().denied_keys.clear();
    let (replayed, _) = aws.run(strict(), replay, "signed-1-replay").await;
    assert_eq!(
        replayed.status,
        ExecutionStatus::Succeeded,
        "{}",
        describe(&replayed)
    );
    assert!(
        aws.world()
            .removed
            .contains(&(BUCKET.to_owned(), "images/held.jpg".to_owned()))
    );
}

#[tokio::test]
async fn the_opt_out_admits_a_hand_written_input_and_its_report_stays_unsigned() {
    let aws = FakeAws::new().with_objects(BUCKET, ["images/held.jpg"]);
    aws.world().denied_keys.insert("images/held.jpg".to_owned());
    let mut input = forged();
    input["targets"][0]["key"] = json!("images/held.jpg");
    input["targets"][0]["paths"] = json!(["/images/held.jpg"]);
    let config = samples::config(
        IMAGE_KEY_TEMPLATE,
        "images/",
        &[("PURGE_ALLOW_UNSIGNED_INPUTS", "true")],
    );
    let (result, _) = aws.run(config, input, "hand-written").await;
    assert_eq!(
        result.status,
        ExecutionStatus::Failed,
        "{}",
        describe(&result)
    );
    let report = only_report(&aws);
    assert!(report["replayInput"].is_object());
    assert!(
        report["replayInput"].get("mac").is_none(),
        "not laundered: {report}"
    );
    assert_eq!(report["unsignedReplay"]["reason"], "InputNotVerified");
}
