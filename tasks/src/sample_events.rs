//! Tests over the sample stream events in `events/stream/`: each file is parsed exactly as the
//! Lambda receives it, run through the trigger's transform, and its execution inputs through
//! ValidateRecords, with the outcome every file is there to show.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::config::Config;
use crate::contract::{DeleteKind, ExecutionInput, RejectionReason, ValidationOutput};
use crate::records::{Projection, RecordCounts, StreamEvent};
use crate::schema_check::assert_valid;
use crate::trigger::{PackLimits, plan};
use crate::validate_records::validate_records;

const PHOTO_TEMPLATE: &str = "{photo_id}.{type|subtype}";
const IMAGE_KEY_TEMPLATE: &str = "{image_key}";

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events/stream")
}

fn config(template: &str, prefix: &str) -> Config {
    let vars = HashMap::from([
        ("PURGE_TABLE_NAME", "photos"),
        ("PURGE_BUCKET", "photo-bucket"),
        ("PURGE_KEY_TEMPLATE", template),
        ("PURGE_KEY_PREFIX", prefix),
        (
            "PURGE_STATE_MACHINE_ARN",
            "arn:aws:states:eu-west-1:123456789012:stateMachine:purge",
        ),
        ("PURGE_TTL_DELETES", "purge"),
    ]);
    Config::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned())).expect("valid config")
}

fn load(file: &str) -> StreamEvent {
    let path = events_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not a stream event: {e}", path.display()))
}

/// Transform, check every input against the schema, then validate (no supersede check).
async fn run(file: &str, config: &Config) -> (RecordCounts, Vec<ExecutionInput>, ValidationOutput) {
    let event = load(file);
    let projection = Projection::for_template(config.key_template().expect("template set"));
    let plan = plan(&event, &projection, PackLimits::from_config(config));
    assert_eq!(plan.stopped, None, "{file}: packing stopped");
    let inputs: Vec<ExecutionInput> = plan
        .executions
        .iter()
        .map(|e| {
            let value: Value = serde_json::from_str(&e.input).expect("input is JSON");
            assert_valid("execution-input.schema.json", &value);
            serde_json::from_value(value).expect("input is an ExecutionInput")
        })
        .collect();
    // One execution per sample file: they are all far below the limits.
    let input = inputs.first().cloned().unwrap_or_else(|| ExecutionInput {
        batch_id: "empty".into(),
        records: Vec::new(),
        targets: Vec::new(),
        batches: Vec::new(),
        rejections: Vec::new(),
        mac: None,
    });
    let output = validate_records(
        input,
        config,
        &crate::signing::MacPolicy::unsigned_allowed(),
        None,
    )
    .await
    .expect("validates");
    assert_valid(
        "validate-records.output.schema.json",
        &serde_json::to_value(&output).expect("serialisable"),
    );
    (plan.counts, inputs, output)
}

fn keys(output: &ValidationOutput) -> Vec<&str> {
    output.targets.iter().map(|t| t.key.as_str()).collect()
}

fn reasons(output: &ValidationOutput) -> Vec<RejectionReason> {
    output.rejections.iter().map(|r| r.reason).collect()
}

#[test]
fn every_file_in_events_stream_is_covered_here() {
    let mut files: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap_or_else(|e| panic!("{}: {e}", events_dir().display()))
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "image-key-remove.json",
            "keys-only.json",
            "malformed-attributes.json",
            "mixed-batch.json",
            "photo-remove.json",
            "recreated-item.json",
            "ttl-delete.json",
            "unsafe-keys.json",
        ],
        "a new sample event needs its own test below"
    );
}

#[tokio::test]
async fn photo_remove() {
    let (counts, inputs, output) = run("photo-remove.json", &config(PHOTO_TEMPLATE, "")).await;
    assert_eq!(
        counts,
        RecordCounts {
            removed: 1,
            ttl: 0,
            other: 0,
            malformed: 0
        }
    );
    let image = inputs[0].records[0].old_image.clone().expect("image");
    let names: Vec<&str> = image.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["photo_id", "type"],
        "projected to what the template reads"
    );
    assert_eq!(keys(&output), ["p-20261101-0042.jpeg"]);
    assert_eq!(output.targets[0].paths, ["/p-20261101-0042.jpeg"]);
}

#[tokio::test]
async fn image_key_remove() {
    let (counts, _, output) = run(
        "image-key-remove.json",
        &config(IMAGE_KEY_TEMPLATE, "images/"),
    )
    .await;
    assert_eq!(counts.removed, 1);
    assert_eq!(keys(&output), ["images/banana.jpg"]);
}

#[tokio::test]
async fn mixed_batch_keeps_only_removes() {
    let (counts, inputs, output) = run("mixed-batch.json", &config(PHOTO_TEMPLATE, "")).await;
    assert_eq!(
        counts,
        RecordCounts {
            removed: 2,
            ttl: 0,
            other: 3,
            malformed: 0
        }
    );
    assert_eq!(inputs.len(), 1);
    assert_eq!(
        keys(&output),
        ["p-20261101-0007.webp", "p-20261101-0008.png"]
    );
}

#[tokio::test]
async fn ttl_delete_is_told_apart_and_follows_the_policy() {
    let (counts, inputs, output) = run("ttl-delete.json", &config(PHOTO_TEMPLATE, "")).await;
    assert_eq!(counts.ttl, 1);
    assert_eq!(inputs[0].records[0].delete_kind, DeleteKind::Ttl);
    assert_eq!(
        keys(&output),
        ["p-20261015-0300.gif"],
        "PURGE_TTL_DELETES=purge"
    );
    let mut ignore = config(PHOTO_TEMPLATE, "");
    ignore.ttl_deletes = crate::config::TtlPolicy::Ignore;
    let output = validate_records(
        inputs[0].clone(),
        &ignore,
        &crate::signing::MacPolicy::unsigned_allowed(),
        None,
    )
    .await
    .expect("validates");
    assert!(output.targets.is_empty());
    assert_eq!(output.ignored.len(), 1);
}

#[tokio::test]
async fn keys_only_is_missing_old_image() {
    let (_, inputs, output) = run("keys-only.json", &config(PHOTO_TEMPLATE, "")).await;
    assert_eq!(inputs[0].records[0].old_image, None);
    assert_eq!(reasons(&output), [RejectionReason::MissingOldImage]);
}

#[tokio::test]
async fn malformed_attributes_are_named_and_the_rest_goes_on() {
    let (counts, _, output) = run("malformed-attributes.json", &config(PHOTO_TEMPLATE, "")).await;
    assert_eq!(
        counts,
        RecordCounts {
            removed: 6,
            ttl: 0,
            other: 0,
            malformed: 0
        },
        "all handed over"
    );
    assert_eq!(
        reasons(&output),
        [
            RejectionReason::WrongAttributeType, // BOOL
            RejectionReason::MissingAttribute,   // no `type`
            RejectionReason::MalformedRecord,    // {"S": 415}
            RejectionReason::WrongAttributeType, // "jpeg" is not type/subtype
            RejectionReason::WrongAttributeType, // L
        ]
    );
    assert_eq!(keys(&output), ["p-20261101-0600.jpeg"]);
}

#[tokio::test]
async fn unsafe_keys_delete_nothing_unsafe() {
    let (counts, _, output) = run("unsafe-keys.json", &config(IMAGE_KEY_TEMPLATE, "images/")).await;
    assert_eq!(counts.removed, 11);
    use RejectionReason::{KeyOutsidePrefix, UnsafeKey};
    assert_eq!(
        reasons(&output),
        [
            UnsafeKey,
            UnsafeKey,
            UnsafeKey,
            UnsafeKey,
            UnsafeKey,
            UnsafeKey,
            UnsafeKey,
            UnsafeKey,
            UnsafeKey,
            KeyOutsidePrefix
        ]
    );
    assert_eq!(
        keys(&output),
        ["images/ok-cherry.jpg"],
        "only the safe key, inside the prefix"
    );
}

#[tokio::test]
async fn recreated_item_is_superseded() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use aws_smithy_mocks::RuleMode;

    let config = config(PHOTO_TEMPLATE, "");
    let (counts, inputs, unchecked) = run("recreated-item.json", &config).await;
    assert_eq!(
        counts,
        RecordCounts {
            removed: 1,
            ttl: 0,
            other: 1,
            malformed: 0
        }
    );
    assert_eq!(
        keys(&unchecked),
        ["p-20261101-0777.jpeg"],
        "without the check it would be deleted"
    );

    // The INSERT that follows the REMOVE in the file is what the consistent read now sees.
    let event = load("recreated-item.json");
    let insert: Value = serde_json::from_str(event.records[1].get()).expect("record");
    let new_image = insert["dynamodb"]["NewImage"].clone();
    let item: std::collections::HashMap<String, AttributeValue> = new_image
        .as_object()
        .expect("image")
        .iter()
        .filter_map(|(name, value)| {
            Some((
                name.clone(),
                AttributeValue::S(value.get("S")?.as_str()?.to_owned()),
            ))
        })
        .collect();
    let table = crate::supersede::tests::FakeTable::new(vec![item], crate::supersede::tests::never);
    let rule = table.rule();
    let dynamodb = crate::supersede::tests::client_with_mode(RuleMode::Sequential, &[&rule]);
    let output = validate_records(
        inputs[0].clone(),
        &config,
        &crate::signing::MacPolicy::unsigned_allowed(),
        Some(&dynamodb),
    )
    .await
    .expect("validates");
    assert_valid(
        "validate-records.output.schema.json",
        &serde_json::to_value(&output).expect("serialisable"),
    );
    assert!(
        output.targets.is_empty(),
        "a re-created item's object is never deleted"
    );
    assert_eq!(output.superseded.len(), 1);
    assert_eq!(output.superseded[0].key, "p-20261101-0777.jpeg");
}

/// The lean record reader agrees with `aws_lambda_events`' full model on every sample event it
/// can read (it can't read `malformed-attributes.json`: `{"S": 415}` fails serde_dynamo, which is
/// why the trigger does not depend on it to hand records over).
#[test]
fn lean_reader_agrees_with_aws_lambda_events() {
    use aws_lambda_events::event::dynamodb::Event;

    use crate::records::{Classified, classify_event};

    let projection = Projection::for_template(
        &crate::key_template::Template::parse("{photo_id}.{type|subtype}{image_key}")
            .expect("template"),
    );
    let mut compared = 0;
    for file in [
        "image-key-remove.json",
        "keys-only.json",
        "malformed-attributes.json",
        "mixed-batch.json",
        "photo-remove.json",
        "recreated-item.json",
        "ttl-delete.json",
        "unsafe-keys.json",
    ] {
        let text = std::fs::read_to_string(events_dir().join(file)).expect("readable");
        let full: Event = match serde_json::from_str(&text) {
            Ok(event) => event,
            Err(err) => {
                assert_eq!(
                    file, "malformed-attributes.json",
                    "aws_lambda_events can't read {file}: {err}"
                );
                continue;
            }
        };
        let lean = classify_event(&load(file), &projection);
        assert_eq!(full.records.len(), lean.len(), "{file}");
        for (record, classified) in full.records.iter().zip(&lean) {
            assert_eq!(
                record.change.sequence_number, classified.sequence_number,
                "{file}"
            );
            match &classified.outcome {
                Classified::Removed(handed_over) => {
                    let removed = handed_over
                        .record()
                        .expect("handed-over JSON is a RemovedRecord");
                    assert_eq!(record.event_name, "REMOVE", "{file}");
                    assert_eq!(record.event_id, removed.event_id, "{file}");
                    let ttl = record.user_identity.as_ref().is_some_and(|u| {
                        u.type_ == "Service" && u.principal_id == "dynamodb.amazonaws.com"
                    });
                    assert_eq!(ttl, removed.delete_kind == DeleteKind::Ttl, "{file}");
                    let keys = serde_json::to_value(&record.change.keys).expect("keys");
                    assert_eq!(keys, Value::Object(removed.keys.clone()), "{file}");
                    let image = serde_json::to_value(&record.change.old_image).expect("image");
                    match &removed.old_image {
                        None => assert_eq!(image, serde_json::json!({}), "{file}"),
                        Some(projected) => {
                            for (name, value) in projected {
                                assert_eq!(image.get(name), Some(value), "{file}: {name}");
                            }
                        }
                    }
                }
                Classified::Other { event_name } => {
                    assert_eq!(&record.event_name, event_name, "{file}")
                }
                Classified::Malformed { reason, .. } => {
                    panic!("{file}: lean reader rejected a valid record: {reason}")
                }
            }
            compared += 1;
        }
    }
    assert!(compared >= 20, "compared only {compared} records");
}
