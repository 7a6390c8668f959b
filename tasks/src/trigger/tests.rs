use super::cost::*;
use super::name::*;
use super::pack::*;
use super::*;
use crate::config::Config;
use crate::contract::RemovedRecord;
use crate::contract::{DeleteKind, ExecutionInput};
use crate::key_template::Template;
use crate::records::tests::stream_record;
use crate::records::{Classified, HandedOver};
use crate::schema_check::assert_valid;
use crate::validation::{Verdict, validate_record};
use serde_json::{Value, json};

fn projection() -> Projection {
    Projection::for_template(&Template::parse("{image_key}").expect("template"))
}

fn remove(seq: usize) -> Value {
    stream_record(
        "REMOVE",
        &format!("{seq:021}"),
        json!({"id": {"S": format!("id-{seq}")}}),
        Some(
            json!({"id": {"S": format!("id-{seq}")}, "image_key": {"S": format!("images/{seq}.jpg")}, "blob": {"S": "x".repeat(2000)}}),
        ),
    )
}

fn event(records: Vec<Value>) -> StreamEvent {
    serde_json::from_value(json!({ "Records": records })).expect("event")
}

fn inputs(plan: &Plan) -> Vec<ExecutionInput> {
    plan.executions
        .iter()
        .map(|e| {
            let value: Value = serde_json::from_str(&e.input).expect("input is JSON");
            assert_valid("execution-input.schema.json", &value);
            serde_json::from_value(value).expect("input is an ExecutionInput")
        })
        .collect()
}

#[test]
fn keeps_only_remove_records_in_order() {
    let records = vec![
        stream_record("INSERT", "1", json!({"id": {"S": "a"}}), None),
        remove(2),
        stream_record("MODIFY", "3", json!({"id": {"S": "c"}}), None),
        remove(4),
    ];
    let plan = plan(
        &event(records),
        &projection(),
        PackLimits {
            max_bytes: MAX_INPUT_BYTES,
            max_records: 500,
        },
    );
    assert_eq!(plan.stopped, None);
    let inputs = inputs(&plan);
    assert_eq!(inputs.len(), 1);
    let ids: Vec<&str> = inputs[0]
        .records
        .iter()
        .map(|r| r.event_id.as_str())
        .collect();
    assert_eq!(ids, [format!("evt-{:021}", 2), format!("evt-{:021}", 4)]);
    assert_eq!(inputs[0].batch_id, plan.executions[0].name);
    assert_eq!(plan.executions[0].first_record, 1);
    // The 2000-byte `blob` attribute was projected away.
    assert!(
        plan.executions[0].input.len() < 1000,
        "{}",
        plan.executions[0].input.len()
    );
    assert_eq!(inputs[0].records[0].delete_kind, DeleteKind::User);
}

#[test]
fn packs_within_the_record_limit() {
    let records: Vec<Value> = (0..25).map(remove).collect();
    let plan = plan(
        &event(records),
        &projection(),
        PackLimits {
            max_bytes: MAX_INPUT_BYTES,
            max_records: 10,
        },
    );
    let sizes: Vec<usize> = plan.executions.iter().map(|e| e.record_count).collect();
    assert_eq!(sizes, [10, 10, 5]);
    let firsts: Vec<usize> = plan.executions.iter().map(|e| e.first_record).collect();
    assert_eq!(firsts, [0, 10, 20]);
    let all: Vec<String> = inputs(&plan)
        .into_iter()
        .flat_map(|i| i.records)
        .map(|r| r.event_id)
        .collect();
    let expected: Vec<String> = (0..25).map(|i| format!("evt-{i:021}")).collect();
    assert_eq!(all, expected, "every record once, in order");
}

#[test]
fn packs_within_the_byte_limit() {
    let records: Vec<Value> = (0..40).map(remove).collect();
    let limit = 2_000;
    let plan = plan(
        &event(records),
        &projection(),
        PackLimits {
            max_bytes: limit,
            max_records: 500,
        },
    );
    assert_eq!(plan.stopped, None);
    assert!(plan.executions.len() > 1);
    for execution in &plan.executions {
        assert!(
            execution.input.len() <= limit,
            "{} > {limit}",
            execution.input.len()
        );
    }
    assert_eq!(
        plan.executions
            .iter()
            .map(|e| e.record_count)
            .sum::<usize>(),
        40
    );
    inputs(&plan);
}

/// The trigger's configuration for the too-large tests: `{image_key}`, under `images/`.
fn image_key_config() -> Config {
    config_with(&[
        ("PURGE_KEY_TEMPLATE", "{image_key}"),
        ("PURGE_KEY_PREFIX", "images/"),
    ])
}

/// The rejections an execution input carries, as (event id, reason).
fn rejections_of(inputs: &[ExecutionInput]) -> Vec<(String, crate::contract::RejectionReason)> {
    inputs
        .iter()
        .flat_map(|i| i.rejections.iter())
        .map(|r| (r.event_id.clone(), r.reason))
        .collect()
}

/// A key of 210,000 bytes can never be an S3 key (1,024 at most), and no execution can carry
/// its record (200 KiB). It used to stop the packing: the records after it became batch item
/// failures that the stream would retry until they expired. Now it is handed over as its
/// `UnsafeKey` rejection, named as ValidateRecords would, and the rest of the batch goes on.
#[test]
fn an_oversized_key_is_handed_over_as_its_unsafe_key_rejection() {
    use crate::contract::RejectionReason;
    let config = image_key_config();
    let huge = remove_with_key(3, &format!("images/{}.jpg", "k".repeat(210_000)));
    let records = vec![
        remove_with_key(1, "images/1.jpg"),
        remove_with_key(2, "images/2.jpg"),
        huge,
        remove_with_key(4, "images/4.jpg"),
    ];
    let plan = plan(
        &event(records),
        &projection(),
        PackLimits::from_config(&config),
    );
    assert_eq!(
        plan.stopped, None,
        "nothing is left for the stream to retry"
    );
    let inputs = inputs(&plan);
    let handed_over: Vec<String> = inputs
        .iter()
        .flat_map(|i| i.records.iter().map(|r| r.event_id.clone()))
        .collect();
    assert_eq!(
        handed_over,
        [1, 2, 4].map(|i| format!("evt-{i:021}")),
        "every other record is handed over"
    );
    assert_eq!(
        rejections_of(&inputs),
        [(format!("evt-{:021}", 3), RejectionReason::UnsafeKey)]
    );
    let rejection = &inputs[0].rejections[0];
    assert!(
        rejection.detail.contains("longer than 1024 bytes")
            && rejection.detail.contains("did not hand it over"),
        "{}",
        rejection.detail
    );
    assert!(rejection.detail.len() <= MAX_REJECTION_DETAIL_BYTES);
    assert_eq!(rejection.keys["upload_id"], json!({"S": "u-000003"}));
    assert_eq!(plan.rejected.len(), 1);
    assert_eq!(plan.rejected[0].0, 2, "by its index in the batch");
    assert_eq!(
        plan.executions
            .iter()
            .map(|e| e.record_count)
            .sum::<usize>(),
        4,
        "the rejected record counts as handed over"
    );
    assert!(
        plan.executions
            .iter()
            .all(|e| e.input.len() <= MAX_INPUT_BYTES)
    );
    // A redelivery of the same batch gets the same executions (names and inputs).
    let again = super::plan(
        &event(vec![
            remove_with_key(1, "images/1.jpg"),
            remove_with_key(2, "images/2.jpg"),
            remove_with_key(3, &format!("images/{}.jpg", "k".repeat(210_000))),
            remove_with_key(4, "images/4.jpg"),
        ]),
        &projection(),
        PackLimits::from_config(&config),
    );
    assert_eq!(again.executions, plan.executions);
}

/// Every permanent fault of a record too large to hand over gets its own name; only one no
/// rule rejects is `RecordTooLarge`, and its detail names the object that is kept.
#[test]
fn a_too_large_record_is_rejected_by_the_rule_it_breaks_else_as_record_too_large() {
    use crate::contract::RejectionReason;
    let big = "x".repeat(210_000);
    let typed = |seq: usize, image: Value| {
        stream_record(
            "REMOVE",
            &format!("{seq:021}"),
            json!({"photo_id": {"S": format!("p{seq}")}}),
            Some(image),
        )
    };
    let config = config_with(&[("PURGE_KEY_TEMPLATE", "{photo_id}.{type|subtype}")]);
    let projection = Projection::for_template(config.key_template().expect("template"));
    let records = vec![
        // A media type whose subtype is short: the key `p1.jpeg` is fine, the record is not.
        typed(
            1,
            json!({"photo_id": {"S": "p1"}, "type": {"S": format!("{big}/jpeg")}}),
        ),
        // A list where a string belongs.
        typed(
            2,
            json!({"photo_id": {"S": "p2"}, "type": {"L": [{"S": big}]}}),
        ),
        // Not a media type at all.
        typed(3, json!({"photo_id": {"S": "p3"}, "type": {"S": big}})),
        typed(
            4,
            json!({"photo_id": {"S": "p4"}, "type": {"S": "image/png"}}),
        ),
    ];
    let plan = plan(
        &event(records),
        &projection,
        PackLimits::from_config(&config),
    );
    assert_eq!(plan.stopped, None);
    let inputs = inputs(&plan);
    assert_eq!(
        rejections_of(&inputs),
        [
            (format!("evt-{:021}", 1), RejectionReason::RecordTooLarge),
            (
                format!("evt-{:021}", 2),
                RejectionReason::WrongAttributeType
            ),
            (
                format!("evt-{:021}", 3),
                RejectionReason::WrongAttributeType
            ),
        ]
    );
    let too_large = &inputs[0].rejections[0];
    assert!(
        too_large.detail.contains("its object p1.jpeg is kept"),
        "{}",
        too_large.detail
    );
    for rejection in inputs.iter().flat_map(|i| &i.rejections) {
        assert!(
            rejection.detail.len() <= MAX_REJECTION_DETAIL_BYTES,
            "{}",
            rejection.detail.len()
        );
    }
    let handed_over: Vec<&str> = inputs
        .iter()
        .flat_map(|i| i.records.iter().map(|r| r.event_id.as_str()))
        .collect();
    assert_eq!(handed_over, [format!("evt-{:021}", 4)]);
}

/// Without a configuration to judge it by (bare limits), a record too large to hand over is
/// still a rejection, named `RecordTooLarge`.
#[test]
fn without_rules_a_too_large_record_is_record_too_large() {
    use crate::contract::RejectionReason;
    let mut huge = remove(3);
    huge["dynamodb"]["OldImage"]["image_key"] = json!({"S": "k".repeat(5_000)});
    let plan = plan(
        &event(vec![remove(1), huge, remove(4)]),
        &projection(),
        PackLimits {
            max_bytes: 4_000,
            max_records: 500,
        },
    );
    assert_eq!(plan.stopped, None);
    assert_eq!(
        rejections_of(&inputs(&plan)),
        [(format!("evt-{:021}", 3), RejectionReason::RecordTooLarge)]
    );
}

/// Only a record too large even as its rejection (table keys over the budget, which DynamoDB
/// never writes) still stops the packing: it and every later record are batch item failures,
/// for the event source mapping's bisect and on-failure queue.
#[test]
fn a_record_too_large_even_as_its_rejection_stops_packing_by_name() {
    let mut huge = remove(3);
    huge["dynamodb"]["Keys"]["id"] = json!({"S": "k".repeat(5_000)});
    huge["dynamodb"]["OldImage"]["id"] = json!({"S": "k".repeat(5_000)});
    let records = vec![remove(1), remove(2), huge, remove(4)];
    let plan = plan(
        &event(records),
        &projection(),
        PackLimits {
            max_bytes: 4_000,
            max_records: 500,
        },
    );
    let Some((
        index,
        PackError::RecordTooLarge {
            event_id,
            bytes,
            limit,
        },
    )) = &plan.stopped
    else {
        panic!("expected RecordTooLarge, got {:?}", plan.stopped)
    };
    assert_eq!(
        (*index, event_id.as_str(), *limit),
        (2, "evt-000000000000000000003", 4_000)
    );
    assert!(*bytes > 5_000);
    assert_eq!(
        plan.executions
            .iter()
            .map(|e| e.record_count)
            .sum::<usize>(),
        2
    );
    let failures: Vec<Option<String>> = failures_from(&plan.records, *index)
        .into_iter()
        .map(|f| f.item_identifier)
        .collect();
    assert_eq!(
        failures,
        [Some(format!("{:021}", 3)), Some(format!("{:021}", 4))]
    );
}

#[test]
fn batch_names_are_deterministic_and_valid() {
    let rec = |id: &str, seq: &str| RemovedRecord {
        event_id: id.into(),
        sequence_number: seq.into(),
        delete_kind: DeleteKind::User,
        keys: Default::default(),
        old_image: None,
    };
    let a = [
        rec("e1", "4000000000012345678901"),
        rec("e2", "4000000000012345678902"),
    ];
    let name = batch_name(&a);
    assert_eq!(name, batch_name(&a));
    assert!(name.starts_with("4000000000012345678901-2-"), "{name}");
    assert_ne!(name, batch_name(&a[..1]));
    let odd = [rec("e/1", "seq:with spaces/and\u{e9}")];
    for name in [
        name,
        batch_name(&odd),
        batch_name(&[]),
        batch_name(&[rec("x", &"9".repeat(200))]),
    ] {
        assert!(name.len() <= MAX_NAME_CHARS, "{name}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "{name}"
        );
    }
}

#[test]
fn failures_list_every_later_record_but_not_dropped_malformed_ones() {
    let records = vec![
        remove(1),
        stream_record("INSERT", "2", json!({"id": {"S": "b"}}), None),
        json!({"junk": 1}),
        remove(4),
    ];
    let plan = plan(
        &event(records),
        &projection(),
        PackLimits {
            max_bytes: MAX_INPUT_BYTES,
            max_records: 500,
        },
    );
    let ids: Vec<Option<String>> = failures_from(&plan.records, 0)
        .into_iter()
        .map(|f| f.item_identifier)
        .collect();
    assert_eq!(
        ids,
        [
            Some(format!("{:021}", 1)),
            Some("2".to_owned()),
            Some(format!("{:021}", 4))
        ]
    );
}

fn config_with(vars: &[(&str, &str)]) -> Config {
    let vars: std::collections::HashMap<&str, &str> = vars.iter().copied().collect();
    Config::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned())).expect("valid config")
}

/// A REMOVE record whose `image_key` is `key`.
fn remove_with_key(seq: usize, key: &str) -> Value {
    stream_record(
        "REMOVE",
        &format!("{seq:021}"),
        json!({"upload_id": {"S": format!("u-{seq:06}")}}),
        Some(json!({"upload_id": {"S": format!("u-{seq:06}")}, "image_key": {"S": key}})),
    )
}

#[test]
fn the_record_limit_follows_the_path_templates() {
    let config = config_with(&[
        ("PURGE_KEY_TEMPLATE", "{image_key}"),
        ("PURGE_PATH_TEMPLATES", "/{key},/thumbs/{key},/small/{key}"),
        ("PURGE_MAX_RECORDS_PER_EXECUTION", "10000"),
    ]);
    let packing = PackLimits::from_config(&config);
    assert_eq!(packing.limits.max_records, 995, "2985 paths / 3 templates");
    // A byte budget that can't bind, so the record limit decides.
    let records: Vec<Value> = (0..2_000)
        .map(|i| remove_with_key(i, &format!("i/{i}")))
        .collect();
    let plan = plan(
        &event(records),
        &projection(),
        PackLimits {
            max_bytes: 10 << 20,
            ..packing.limits
        },
    );
    assert_eq!(plan.stopped, None);
    let counts: Vec<usize> = plan.executions.iter().map(|e| e.record_count).collect();
    assert_eq!(counts, [995, 995, 10]);
}

/// The worst record for the byte budget: a 1024-byte key (the longest a target may have)
/// of characters CloudFront needs percent-encoded, under three path templates.
#[cfg(all(feature = "dynamodb", feature = "kms"))]
#[tokio::test]
async fn the_downstream_cost_bounds_every_form_a_record_takes() {
    use crate::contract::{
        BatchPathsInput, DeleteFailure, DeleteOutput, FailedInvalidation, ReportInput,
    };
    use crate::delete::{MAX_ERROR_CODE_BYTES, MAX_ERROR_MESSAGE_BYTES};
    use crate::paths::FoldPolicy;

    let config = config_with(&[
        ("PURGE_BUCKET", "photo-bucket"),
        ("PURGE_KEY_TEMPLATE", "{image_key}"),
        ("PURGE_KEY_PREFIX", "images/"),
        ("PURGE_PATH_TEMPLATES", "/{key},/thumbs/{key},/small/{key}"),
        ("PURGE_CHECK_SUPERSEDED", "false"),
        ("PURGE_MAX_RECORDS_PER_EXECUTION", "10000"),
    ]);
    let key = |i: usize| format!("images/{i:06} {}", "~".repeat(1024 - 14));
    assert_eq!(key(0).len(), 1024);
    // Every third record is rejected (outside the prefix), so every list is exercised.
    let records: Vec<Value> = (0..400)
        .map(|i| {
            if i % 3 == 0 {
                remove_with_key(i, &format!("private/{}", key(i)))
            } else {
                remove_with_key(i, &key(i))
            }
        })
        .collect();
    let packing = PackLimits::from_config(&config);
    let plan = plan(&event(records), &projection(), packing);
    assert_eq!(plan.stopped, None);
    assert!(
        plan.executions.len() > 1,
        "the byte budget must split this batch"
    );
    let full = plan.executions.len() - 1;
    for (index, (execution, input)) in plan.executions.iter().zip(inputs(&plan)).enumerate() {
        let budget = MAX_INPUT_BYTES;
        assert!(execution.input.len() <= budget);
        let validated = crate::validate_records::validate_records(
            input,
            &config,
            &crate::signing::MacPolicy::unsigned_allowed(),
            None,
        )
        .await
        .expect("validates");
        let validated_bytes = json_len(&validated);
        // Every target's delete failing, with a code and a message at their caps.
        let failed: Vec<DeleteFailure> = validated
            .targets
            .iter()
            .map(|target| DeleteFailure {
                target: target.clone(),
                code: "C".repeat(MAX_ERROR_CODE_BYTES),
                message: "m".repeat(MAX_ERROR_MESSAGE_BYTES),
            })
            .collect();
        let failure_bytes = json_len(&failed) + json_len(&validated.rejections);
        let deleted = DeleteOutput {
            deleted: Vec::new(),
            failed,
            requests: 1,
        };
        let batches = crate::batch_paths::batch_paths(
            BatchPathsInput {
                batch_id: validated.batch_id.clone(),
                deleted: validated.targets.clone(),
                batches: Vec::new(),
            },
            "E2QWRUHEXAMPLE",
            &FoldPolicy::NEVER,
        )
        .expect("batches");
        let batches_bytes = json_len(&batches) + json_len(&validated.rejections);
        for (what, bytes) in [
            ("ValidateRecords' result", validated_bytes),
            ("DeleteObjects' result", json_len(&deleted)),
            ("the failures", failure_bytes),
            ("BatchPaths' result", batches_bytes),
        ] {
            assert!(
                bytes <= budget,
                "{what}: {bytes} bytes for {} records",
                execution.record_count
            );
        }
        // A failed batch goes whole into one SNS message, twice (listed and in replayInput):
        // every batch failing, with an error and a cause as long as the definition lets
        // them be, still makes messages SNS takes.
        let report = ReportInput {
            execution_name: execution.name.clone(),
            execution_arn: Some(format!(
                "arn:aws:states:us-east-1:123456789012:express:purge:{}:x",
                execution.name
            )),
            execution_start_time: Some("2026-11-21T05:00:00.000Z".into()),
            batch_id: execution.name.clone(),
            rejections: validated.rejections.clone(),
            delete_failures: Vec::new(),
            failed_invalidations: batches
                .batches
                .iter()
                .map(|batch| FailedInvalidation {
                    batch: batch.clone(),
                    error: "E".repeat(256),
                    cause: "\u{1}".repeat(1000),
                })
                .collect(),
            dropped_batches: Vec::new(),
            caught: None,
            original_input: None,
            input_signature: None,
        };
        crate::report::build_messages(&report, crate::report::SNS_MAX_MESSAGE_BYTES)
            .expect("every batch fits a message");
        // The budget is used, not wasted: in every full execution the encoded paths, counted
        // twice, fill most of it.
        if index < full {
            assert!(
                2 * batches_bytes > budget * 3 / 4,
                "{batches_bytes} bytes of paths in execution {index}"
            );
        }
    }
}

/// Every REMOVE record of `raw` (a stream event's JSON), as the trigger hands them over.
fn handed_over(raw: &str, projection: &Projection) -> Vec<HandedOver> {
    let event: StreamEvent = serde_json::from_str(raw).expect("a stream event");
    crate::records::classify_event(&event, projection)
        .into_iter()
        .filter_map(|r| match r.outcome {
            Classified::Removed(record) => Some(record),
            _ => None,
        })
        .collect()
}

fn photo_config() -> Config {
    photo_config_with_paths("/{key},/t/{key}")
}

fn photo_config_with_paths(path_templates: &str) -> Config {
    config_with(&[
        ("PURGE_KEY_TEMPLATE", "{photo_id}.{type|subtype}"),
        ("PURGE_KEY_PREFIX", ""),
        ("PURGE_PATH_TEMPLATES", path_templates),
    ])
}

#[test]
fn only_plain_path_templates_are_sized_without_rendering() {
    let config =
        photo_config_with_paths("/{key},/t/{key}.jpg,/{key|lower},/{key}/{key},/{{x}}/{key}");
    let cost = DownstreamCost::from_config(&config).expect("a key template");
    let plain: Vec<bool> = cost.path_shapes.iter().map(Option::is_some).collect();
    assert_eq!(plain, [true, true, false, false, false]);
    assert_eq!(
        cost.path_shapes[1],
        Some(PlainPath {
            before_json: r#""/t/""#.len(),
            after_json: r#"".jpg""#.len(),
            encoded: "/t/.jpg".len()
        })
    );
}

#[test]
fn the_quick_bound_covers_keys_copied_verbatim_with_whitespace_and_escapes() {
    let config = photo_config();
    let cost = DownstreamCost::from_config(&config).expect("a key template");
    let projection = Projection::for_template(config.key_template().expect("set"));
    // Keys and attributes as a stream may write them: spaces, escapes serde_json writes
    // shorter (`\u0070` is `p`, `\/` is `/`), and a malformed key attribute.
    let raw = r#"{"Records": [
        {"eventID": "e1", "eventName": "REMOVE", "dynamodb": {"SequenceNumber": "1",
          "Keys": { "photo_id" : { "S" : "\u0070-1\/a" } },
          "OldImage": { "photo_id" : { "S" : "p-1\/a" }, "type": {"S": "image/jpeg"} }}},
        {"eventID": "e2", "eventName": "REMOVE", "dynamodb": {"SequenceNumber": "2",
          "Keys": {"photo_id": {"S": 7}},
          "OldImage": {"photo_id": {"S": "p-2"}, "type": {"S": "image/jpeg"}}}},
        {"eventID": "e3", "eventName": "REMOVE", "dynamodb": {"SequenceNumber": "3",
          "Keys": {"photo_id": {"S": "q/../3"}},
          "OldImage": {"photo_id": {"S": "q/../3"}, "type": {"S": "image/jpeg"}}}},
        {"eventID": "e4", "eventName": "REMOVE", "dynamodb": {"SequenceNumber": "4",
          "Keys": {"photo_id": {"S": "p-4"}},
          "OldImage": {"photo_id": {"S": "p-4"}, "type": {"S": "not a media type \"quoted\""}}}}
    ]}"#;
    let records = handed_over(raw, &projection);
    assert_eq!(records.len(), 4);
    for record in &records {
        let exact = cost.verdict_bound(record);
        if let Some(quick) = cost.target_bound(record) {
            assert!(
                quick >= exact,
                "{}: quick {quick} < exact {exact}",
                record.event_id
            );
        }
        assert!(cost.cost(record) > exact, "{}", record.event_id);
    }
    // Only the safe keys take the quick path; the others (an unsafe key, a bad media type) are
    // costed by their real verdict.
    let quick: Vec<bool> = records
        .iter()
        .map(|r| cost.target_bound(r).is_some())
        .collect();
    assert_eq!(quick, [true, true, false, false]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// The quick bound never undercounts what ValidateRecords really makes of a record,
    /// and stays close to it (it only skips work, it does not guess).
    #[test]
    fn the_quick_bound_is_never_below_the_exact_one(
        id in "p[a-z0-9 ~%\"\\\\é/._\u{2028}\u{1F34C}-]{0,40}",
        subtype in "[a-z+\"é]{1,10}",
        extra_key in proptest::option::of("[a-z\"]{1,8}"),
        type_shape in 0usize..6,
        path_templates in proptest::sample::select(vec![
            "/{key},/t/{key}",
            "/{key}",
            "/a b/{key}.jpg^,/{key}",
            "/{key},/{key}",
            "/{key|lower},/t/{key}",
            "/{key}/{key}",
            "/{{x}}/{key}",
        ]),
    ) {
        let config = photo_config_with_paths(path_templates);
        let cost = DownstreamCost::from_config(&config).expect("a key template");
        let projection = Projection::for_template(config.key_template().expect("set"));
        let mut keys = json!({"photo_id": {"S": id}});
        if let Some(extra) = &extra_key {
            keys["sort"] = json!({"S": extra});
        }
        // The usual `{"S": ...}`, and the shapes the quick path hands to scalar_attribute.
        let media_type = format!("image/{subtype}");
        let type_value = match type_shape {
            0 | 1 => json!({"S": media_type}),
            2 => json!({"N": "42"}),
            3 => json!({"S": 5}),
            4 => json!({"SS": [media_type]}),
            _ => json!({"S": media_type, "N": "1"}),
        };
        let image = json!({"photo_id": {"S": id}, "type": type_value});
        let raw = json!({"Records": [stream_record("REMOVE", "1", keys, Some(image))]}).to_string();
        let records = handed_over(&raw, &projection);
        proptest::prop_assert_eq!(records.len(), 1);
        let record = &records[0];
        let exact = cost.verdict_bound(record);
        let is_target = record.record().ok().is_some_and(|r| matches!(validate_record(&r, &cost.rules), Verdict::Target(_)));
        match cost.target_bound(record) {
            Some(quick) => {
                proptest::prop_assert!(is_target);
                proptest::prop_assert!(quick >= exact, "quick {} < exact {}", quick, exact);
                proptest::prop_assert!(quick <= exact + 3 * record.json.len() + 200, "quick {} far above exact {}", quick, exact);
            }
            None => proptest::prop_assert!(!is_target),
        }
    }
}

/// Records whose paths BatchPaths turns into at most two batches and 3000 paths: the bound
/// the InvalidateCache Map's single wave relies on.
fn keys_for(count: usize, directories: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("images/d{}/{i}.jpg", i % directories.max(1)))
        .collect()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    #[test]
    fn an_executions_paths_make_at_most_two_batches_and_3000_paths(
        templates in 1usize..=8,
        max_records in 1usize..=10_000,
        fill in 0.0f64..=1.0,
        directories in 1usize..=60,
        min_paths in 2usize..=200,
    ) {
        use crate::paths::{BatchPlan, CLOUDFRONT_MAX_PATHS_PER_BATCH, CLOUDFRONT_MAX_WILDCARD_PATHS, FoldPolicy, is_wildcard, plan_batches};
        let path_templates: Vec<String> = (0..templates).map(|t| format!("/v{t}/{{key}}")).collect();
        let max = max_records.to_string();
        let joined = path_templates.join(",");
        let config = config_with(&[("PURGE_PATH_TEMPLATES", &joined), ("PURGE_MAX_RECORDS_PER_EXECUTION", &max)]);
        let limit = config.max_records_per_execution_for_paths();
        proptest::prop_assert!(limit <= max_records && limit * templates <= crate::config::MAX_PATHS_PER_EXECUTION);
        // Any execution the trigger packs holds at most `limit` records; the full one is the worst.
        let records = ((limit as f64 * fill).ceil() as usize).clamp(1, limit);
        let keys = keys_for(records, directories);
        let paths: Vec<String> =
            keys.iter().flat_map(|key| crate::validation::paths_for(key, &config.path_templates)).collect();
        let policy = FoldPolicy { min_paths, min_depth: 1, max_wildcards: CLOUDFRONT_MAX_WILDCARD_PATHS, within: None };
        let plan = BatchPlan { batch_id: "b", distribution_id: "E1", policy: &policy, wildcards_in_use: 0, max_paths_per_batch: CLOUDFRONT_MAX_PATHS_PER_BATCH };
        let (batches, _) = plan_batches(paths.iter().map(String::as_str), &plan);
        let total: usize = batches.iter().map(|b| b.paths.len()).sum();
        let wildcards = batches.iter().flat_map(|b| &b.paths).filter(|p| is_wildcard(p)).count();
        proptest::prop_assert!(batches.len() <= 2, "{} batches", batches.len());
        proptest::prop_assert!(total <= CLOUDFRONT_MAX_PATHS_PER_BATCH, "{total} paths");
        proptest::prop_assert!(wildcards <= CLOUDFRONT_MAX_WILDCARD_PATHS);
    }
}

#[cfg(feature = "sfn")]
mod with_sfn {
    use super::*;
    use aws_sdk_sfn::Client;
    use aws_sdk_sfn::config::retry::RetryConfig;
    use aws_sdk_sfn::operation::start_execution::{StartExecutionError, StartExecutionOutput};
    use aws_sdk_sfn::types::error::ExecutionAlreadyExists;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    const ARN: &str = "arn:aws:states:eu-west-1:123456789012:stateMachine:purge";

    fn client(rules: &[&Rule]) -> Client {
        mock_client!(aws_sdk_sfn, RuleMode::Sequential, rules, |conf| conf
            .retry_config(RetryConfig::disabled()))
    }

    fn started() -> Rule {
        mock!(Client::start_execution).then_output(|| {
            StartExecutionOutput::builder()
                .execution_arn(format!("{ARN}:x"))
                .start_date(aws_smithy_types::DateTime::from_secs(0))
                .build()
                .expect("complete output")
        })
    }

    /// StartExecution answered for every input, each kept (parsed) in the returned list.
    fn recording_starts() -> (Rule, Arc<Mutex<Vec<ExecutionInput>>>) {
        let inputs = Arc::new(Mutex::new(Vec::new()));
        let seen = inputs.clone();
        let rule = mock!(Client::start_execution).then_compute_output(move |req| {
            let input: ExecutionInput =
                serde_json::from_str(req.input().unwrap_or_default()).expect("input");
            seen.lock().expect("lock").push(input);
            StartExecutionOutput::builder()
                .execution_arn("arn:x")
                .start_date(aws_smithy_types::DateTime::from_secs(0))
                .build()
                .expect("complete output")
        });
        (rule, inputs)
    }

    fn config(max_records: &str) -> Config {
        let vars = HashMap::from([
            ("PURGE_KEY_TEMPLATE", "{image_key}"),
            ("PURGE_STATE_MACHINE_ARN", ARN),
            ("PURGE_MAX_RECORDS_PER_EXECUTION", max_records),
        ]);
        Config::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned())).expect("valid config")
    }

    #[tokio::test]
    async fn all_started_means_no_failures_and_names_match_batch_ids() {
        let names = Arc::new(Mutex::new(Vec::new()));
        let seen = names.clone();
        let rule = mock!(Client::start_execution)
            .match_requests(|req| req.state_machine_arn() == Some(ARN))
            .then_compute_output(move |req| {
                let input: ExecutionInput =
                    serde_json::from_str(req.input().unwrap_or_default()).expect("input");
                assert_eq!(Some(input.batch_id.as_str()), req.name());
                seen.lock().expect("lock").push(input.records.len());
                StartExecutionOutput::builder()
                    .execution_arn("arn:x")
                    .start_date(aws_smithy_types::DateTime::from_secs(0))
                    .build()
                    .expect("complete output")
            });
        let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &[&rule], |conf| conf
            .retry_config(RetryConfig::disabled()));
        let records: Vec<Value> = (0..7).map(remove).collect();
        let response = handle_stream_event(event(records), &config("3"), &sfn, None)
            .await
            .expect("handled");
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(*names.lock().expect("lock"), [3, 3, 1]);
    }

    #[tokio::test]
    async fn every_input_is_started_with_a_mac_that_verifies() {
        use crate::signing::tests::fake;
        let (rule, inputs) = recording_starts();
        let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &[&rule], |conf| conf
            .retry_config(RetryConfig::disabled()));
        let (generate, verify) = (fake::generate_rule(), fake::verify_rule());
        let key = fake::key(&[&generate, &verify]);
        let records: Vec<Value> = (0..7).map(remove).collect();
        let response = handle_stream_event(event(records), &config("3"), &sfn, Some(&key))
            .await
            .expect("handled");
        assert!(response.batch_item_failures.is_empty());
        let inputs = inputs.lock().expect("lock").clone();
        assert_eq!(inputs.len(), 3);
        assert_eq!(generate.num_calls(), 3, "one GenerateMac per execution");
        for input in &inputs {
            assert!(input.mac.is_some(), "{} is signed", input.batch_id);
            key.verify(input).await.expect("the MAC verifies");
        }
    }

    #[tokio::test]
    async fn a_signing_failure_hands_over_nothing_from_that_execution_on() {
        use aws_sdk_kms::operation::generate_mac::GenerateMacError;
        let started = started();
        let sfn = client(&[&started]);
        let denied = mock!(aws_sdk_kms::Client::generate_mac).then_error(|| {
            GenerateMacError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("not allowed")
                    .build(),
            )
        });
        let key = crate::signing::tests::fake::key(&[&denied]);
        let records: Vec<Value> = (0..4).map(remove).collect();
        let response = handle_stream_event(event(records), &config("3"), &sfn, Some(&key))
            .await
            .expect("handled");
        assert_eq!(
            response.batch_item_failures.len(),
            4,
            "the stream retries them all"
        );
        assert_eq!(started.num_calls(), 0, "nothing unsigned is started");
    }

    #[tokio::test]
    async fn the_handler_packs_by_what_records_become_downstream() {
        let rule = mock!(Client::start_execution).then_output(|| {
            StartExecutionOutput::builder()
                .execution_arn("arn:x")
                .start_date(aws_smithy_types::DateTime::from_secs(0))
                .build()
                .expect("complete output")
        });
        let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &[&rule], |conf| conf
            .retry_config(RetryConfig::disabled()));
        // 60 records of ~1.1 KB: 66 KB of input, one execution by input bytes alone; but each
        // key's path is 3 KB percent-encoded, counted twice for a failure report.
        let records: Vec<Value> = (0..60)
            .map(|i| remove_with_key(i, &format!("images/{i:04}/{}", "~".repeat(1000))))
            .collect();
        let response = handle_stream_event(event(records), &config("10000"), &sfn, None)
            .await
            .expect("handled");
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(
            rule.num_calls(),
            2,
            "the byte budget splits the batch in two"
        );
    }

    /// A record that can never succeed is no batch item failure: the handler starts its
    /// rejection with the rest, and the stream retries nothing.
    #[tokio::test]
    async fn an_oversized_record_is_started_as_its_rejection_not_retried() {
        let (rule, inputs) = recording_starts();
        let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &[&rule], |conf| conf
            .retry_config(RetryConfig::disabled()));
        let records = vec![
            remove(1),
            remove_with_key(2, &"k".repeat(210_000)),
            remove(3),
        ];
        let response = handle_stream_event(event(records), &config("500"), &sfn, None)
            .await
            .expect("handled");
        assert!(
            response.batch_item_failures.is_empty(),
            "{:?}",
            response.batch_item_failures
        );
        let inputs = inputs.lock().expect("lock");
        assert_eq!(
            rejections_of(&inputs),
            [(
                format!("evt-{:021}", 2),
                crate::contract::RejectionReason::UnsafeKey
            )]
        );
        assert_eq!(
            inputs.iter().map(|i| i.records.len()).sum::<usize>(),
            2,
            "the others are handed over"
        );
    }

    #[tokio::test]
    async fn start_execution_failure_midway_returns_failures_from_that_batch_on() {
        let throttled = mock!(Client::start_execution).then_error(|| {
            StartExecutionError::generic(
                ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .message("Rate exceeded")
                    .build(),
            )
        });
        let first = started();
        let never = started();
        let sfn = client(&[&first, &throttled, &never]);
        // 3 records per execution: [0,1,2] started, [3,4,5] throttled, [6] never attempted.
        let mut records: Vec<Value> = (0..6).map(remove).collect();
        records.insert(
            4,
            stream_record(
                "MODIFY",
                "000000000000000000000099",
                json!({"id": {"S": "m"}}),
                None,
            ),
        );
        records.push(remove(6));
        let response = handle_stream_event(event(records), &config("3"), &sfn, None)
            .await
            .expect("handled");
        let ids: Vec<String> = response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier.expect("identifier"))
            .collect();
        let mut expected: Vec<String> =
            vec![format!("{:021}", 3), "000000000000000000000099".into()];
        expected.extend([4, 5, 6].map(|i| format!("{i:021}")));
        assert_eq!(ids, expected);
        assert_eq!(first.num_calls(), 1);
        assert_eq!(throttled.num_calls(), 1);
        assert_eq!(never.num_calls(), 0, "nothing after a failure is started");
    }

    #[tokio::test]
    async fn first_start_failure_fails_every_record() {
        let denied = mock!(Client::start_execution).then_error(|| {
            StartExecutionError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .build(),
            )
        });
        let sfn = client(&[&denied]);
        let records: Vec<Value> = (0..4).map(remove).collect();
        let response = handle_stream_event(event(records), &config("500"), &sfn, None)
            .await
            .expect("handled");
        assert_eq!(response.batch_item_failures.len(), 4);
        assert_eq!(
            response.batch_item_failures[0].item_identifier.as_deref(),
            Some(format!("{:021}", 0).as_str())
        );
    }

    #[tokio::test]
    async fn an_existing_execution_counts_as_handed_over() {
        let exists = mock!(Client::start_execution).then_error(|| {
            StartExecutionError::ExecutionAlreadyExists(
                ExecutionAlreadyExists::builder().message("exists").build(),
            )
        });
        let sfn = client(&[&exists]);
        let response = handle_stream_event(event(vec![remove(1)]), &config("500"), &sfn, None)
            .await
            .expect("handled");
        assert!(response.batch_item_failures.is_empty());
    }

    #[tokio::test]
    async fn missing_configuration_fails_at_the_handler() {
        let sfn = client(&[]);
        let config = Config::from_lookup(|_| None).expect("defaults");
        let err = handle_stream_event(event(vec![remove(1)]), &config, &sfn, None)
            .await
            .expect_err("no template");
        assert_eq!(err.error_type(), crate::error::names::INVALID_CONFIG);
    }

    #[tokio::test]
    async fn an_empty_batch_starts_nothing() {
        let sfn = client(&[]);
        let response = handle_stream_event(StreamEvent::default(), &config("500"), &sfn, None)
            .await
            .expect("handled");
        assert!(response.batch_item_failures.is_empty());
    }
}

#[test]
fn a_malformed_record_is_handed_over_as_its_rejection_and_the_rest_goes_on() {
    // An OldImage of the wrong JSON type: DynamoDB never writes it, no retry can fix it.
    let mut broken = stream_record("REMOVE", "2", json!({"id": {"S": "b"}}), None);
    broken["dynamodb"]["OldImage"] = json!([1, 2]);
    // Not a stream record at all, and nothing names it.
    let records = vec![remove(1), broken, json!({"junk": 1}), remove(4)];
    let plan = plan(
        &event(records),
        &projection(),
        PackLimits {
            max_bytes: MAX_INPUT_BYTES,
            max_records: 500,
        },
    );
    let inputs = inputs(&plan);
    assert_eq!(inputs.len(), 1);
    let keys: Vec<String> = inputs[0]
        .records
        .iter()
        .map(|r| r.old_image.as_ref().expect("image")["image_key"]["S"].to_string())
        .collect();
    assert_eq!(keys, ["\"images/1.jpg\"", "\"images/4.jpg\""]);
    let rejections = &inputs[0].rejections;
    assert_eq!(rejections.len(), 2, "{rejections:?}");
    for rejection in rejections {
        assert_eq!(
            rejection.reason,
            crate::contract::RejectionReason::MalformedRecord
        );
        assert!(
            rejection
                .detail
                .starts_with("the stream record could not be read"),
            "{}",
            rejection.detail
        );
    }
    assert_eq!(rejections[1].event_id, NO_EVENT_ID);
    assert_eq!(plan.executions[0].record_count, 4);
    assert!(plan.stopped.is_none());
}
