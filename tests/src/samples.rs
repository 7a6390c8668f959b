//! The sample stream events (`events/stream/`) and the execution inputs the trigger makes of
//! them (`events/executions/`), with the configuration each sample is written for.

use std::collections::HashMap;

use purgeflow_tasks::config::Config;
use purgeflow_tasks::records::{Projection, StreamEvent};
use purgeflow_tasks::trigger::{PackLimits, plan};
use serde_json::Value;

use crate::repo;

/// The classic photo app: `photos` items keyed by `photo_id`, objects at `<id>.<subtype>`.
pub const PHOTO_TEMPLATE: &str = "{photo_id}.{type|subtype}";
/// Items that name their object directly.
pub const IMAGE_KEY_TEMPLATE: &str = "{image_key}";

pub const BUCKET: &str = "photo-bucket";
pub const DISTRIBUTION_ID: &str = "E2QWRUHEXAMPLE";
pub const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:purgeflow-failures";

/// One sample: a stream event and the key rules it is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// The file name, the same under `events/stream/` and `events/executions/`.
    pub file: &'static str,
    pub key_template: &'static str,
    pub key_prefix: &'static str,
}

/// Every stream sample (the same rules as the tasks crate's own sample tests use).
pub const SAMPLES: [Sample; 8] = [
    Sample {
        file: "image-key-remove.json",
        key_template: IMAGE_KEY_TEMPLATE,
        key_prefix: "images/",
    },
    Sample {
        file: "keys-only.json",
        key_template: PHOTO_TEMPLATE,
        key_prefix: "",
    },
    Sample {
        file: "malformed-attributes.json",
        key_template: PHOTO_TEMPLATE,
        key_prefix: "",
    },
    Sample {
        file: "mixed-batch.json",
        key_template: PHOTO_TEMPLATE,
        key_prefix: "",
    },
    Sample {
        file: "photo-remove.json",
        key_template: PHOTO_TEMPLATE,
        key_prefix: "",
    },
    Sample {
        file: "recreated-item.json",
        key_template: PHOTO_TEMPLATE,
        key_prefix: "",
    },
    Sample {
        file: "ttl-delete.json",
        key_template: PHOTO_TEMPLATE,
        key_prefix: "",
    },
    Sample {
        file: "unsafe-keys.json",
        key_template: IMAGE_KEY_TEMPLATE,
        key_prefix: "images/",
    },
];

impl Sample {
    pub fn by_file(file: &str) -> Sample {
        SAMPLES
            .iter()
            .copied()
            .find(|sample| sample.file == file)
            .unwrap_or_else(|| panic!("no sample named {file}"))
    }

    /// A complete configuration for these key rules; `extra` overrides or adds variables.
    pub fn config(&self, extra: &[(&str, &str)]) -> Config {
        config(self.key_template, self.key_prefix, extra)
    }

    /// The execution inputs the trigger's own transform makes of the stream event.
    pub fn execution_inputs(&self) -> Vec<Value> {
        let event: StreamEvent =
            serde_json::from_value(repo::read_json(&format!("events/stream/{}", self.file)))
                .unwrap_or_else(|e| {
                    panic!("events/stream/{} is not a stream event: {e}", self.file)
                });
        trigger_inputs(&event, &self.config(&[]))
    }
}

/// A complete configuration: every variable the five task handlers need.
pub fn config(key_template: &str, key_prefix: &str, extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<&str, &str> = HashMap::from([
        ("PURGE_TABLE_NAME", "photos"),
        ("PURGE_BUCKET", BUCKET),
        ("PURGE_KEY_TEMPLATE", key_template),
        ("PURGE_KEY_PREFIX", key_prefix),
        ("PURGE_DISTRIBUTION_ID", DISTRIBUTION_ID),
        ("PURGE_TOPIC_ARN", TOPIC_ARN),
        (
            "PURGE_STATE_MACHINE_ARN",
            "arn:aws:states:us-east-1:123456789012:stateMachine:purgeflow-purge",
        ),
        ("PURGE_CHECK_SUPERSEDED", "false"),
        // The fake KMS's key: signed inputs are verified for real (tests/tests/signing.rs).
        ("PURGE_MAC_KEY_ID", crate::fake_aws::FAKE_MAC_KEY),
        // The sample inputs in events/executions/ and the fixtures are written by hand, as an
        // operator would, so the shared configuration admits them unsigned (the opt-out). The
        // tests of the MAC itself set it back to `false` (tests/tests/signing.rs).
        ("PURGE_ALLOW_UNSIGNED_INPUTS", "true"),
    ]);
    vars.extend(extra.iter().copied());
    Config::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned()))
        .expect("a valid sample configuration")
}

/// Runs the trigger's transform (classify, project, pack) on `event`; panics if packing stopped.
pub fn trigger_inputs(event: &StreamEvent, config: &Config) -> Vec<Value> {
    let template = config
        .key_template()
        .expect("the sample configuration sets a key template");
    let plan = plan(
        event,
        &Projection::for_template(template),
        PackLimits::from_config(config),
    );
    assert_eq!(plan.stopped, None, "the trigger stopped packing");
    plan.executions
        .iter()
        .map(|execution| serde_json::from_str(&execution.input).expect("the trigger writes JSON"))
        .collect()
}

/// The ways an execution input reaches the trigger's limits: the worst inputs for the state
/// machine's data sizes and for its invalidation batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LargestShape {
    /// Photo records with realistic ids under the largest `PURGE_MAX_RECORDS_PER_EXECUTION`
    /// (10000): the most records the trigger puts in one execution.
    MostRecords,
    /// Records whose keys are as long as a target's key may be (1024 bytes), made of a
    /// character CloudFront needs percent-encoded (`~` → `%7E`, 3 bytes per key byte), until
    /// the trigger's byte budget stops packing.
    MostBytes,
    /// As [`LargestShape::MostBytes`], with four path templates: the most CDN path bytes per
    /// record.
    MostPaths,
    /// Records whose keys are too long to be targets (UnsafeKey): they become small rejections,
    /// so they cost only their input bytes and the trigger packs them up to its whole byte
    /// budget. The largest execution input, byte for byte.
    MostInputBytes,
}

/// The key length of [`LargestShape::MostInputBytes`]' records: over S3's limit, so rejected.
const REJECTED_KEY_BYTES: usize = 4000;

/// The longest key a record may have and still become a purge target (S3's limit).
pub const LONGEST_KEY_BYTES: usize = 1024;

impl LargestShape {
    pub const ALL: [LargestShape; 4] = [
        LargestShape::MostRecords,
        LargestShape::MostBytes,
        LargestShape::MostPaths,
        LargestShape::MostInputBytes,
    ];

    /// The configuration the shape is packed under (defaults otherwise).
    pub fn config(self) -> Config {
        match self {
            LargestShape::MostRecords => config(
                PHOTO_TEMPLATE,
                "",
                &[("PURGE_MAX_RECORDS_PER_EXECUTION", "10000")],
            ),
            LargestShape::MostBytes | LargestShape::MostInputBytes => {
                config(IMAGE_KEY_TEMPLATE, "images/", &[])
            }
            LargestShape::MostPaths => config(
                IMAGE_KEY_TEMPLATE,
                "images/",
                &[(
                    "PURGE_PATH_TEMPLATES",
                    "/{key},/thumbs/{key},/small/{key},/large/{key}",
                )],
            ),
        }
    }

    /// The first (fullest) execution input the trigger packs from a stream batch of such records.
    pub fn input(self) -> Value {
        let config = self.config();
        // More records than fit, so the trigger's own limits decide what one input holds.
        let count = config.max_records_per_execution_for_paths() + 100;
        let records: Vec<Value> = (0..count).map(|i| self.record(i)).collect();
        let event: StreamEvent = serde_json::from_value(serde_json::json!({ "Records": records }))
            .expect("a synthetic stream event");
        trigger_inputs(&event, &config)
            .into_iter()
            .next()
            .expect("the trigger packs at least one input")
    }

    /// The object key of record `i`, as ValidateRecords computes it.
    pub fn object_key(self, i: usize) -> String {
        match self {
            LargestShape::MostRecords => format!("{}.jpeg", photo_id(i)),
            LargestShape::MostBytes | LargestShape::MostPaths | LargestShape::MostInputBytes => {
                let head = format!("images/u-{i:06}/");
                let tail = ".jpg";
                let length = if self == LargestShape::MostInputBytes {
                    REJECTED_KEY_BYTES
                } else {
                    LONGEST_KEY_BYTES
                };
                format!(
                    "{head}{}{tail}",
                    "~".repeat(length - head.len() - tail.len())
                )
            }
        }
    }

    fn record(self, i: usize) -> Value {
        let (keys, old_image) = match self {
            LargestShape::MostRecords => {
                let id = photo_id(i);
                (
                    serde_json::json!({"photo_id": {"S": id}}),
                    // Attributes the key template doesn't read are projected away by the trigger;
                    // they are here so the projection is exercised as in a real photos item.
                    serde_json::json!({"photo_id": {"S": id}, "type": {"S": "image/jpeg"}, "owner": {"S": "user-7f3a"},
                                       "title": {"S": "t".repeat(2000)}, "uploaded_at": {"N": "1793021400"}}),
                )
            }
            LargestShape::MostBytes | LargestShape::MostPaths | LargestShape::MostInputBytes => {
                let upload = format!("u-{i:06}");
                (
                    serde_json::json!({"upload_id": {"S": upload}}),
                    serde_json::json!({"upload_id": {"S": upload}, "image_key": {"S": self.object_key(i)}, "content_type": {"S": "image/jpeg"}}),
                )
            }
        };
        serde_json::json!({
            "eventID": format!("{i:032x}"),
            "eventName": "REMOVE",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1794130200.0,
                "Keys": keys,
                "OldImage": old_image,
                "SequenceNumber": format!("4000000000315721{i:05}"),
                "SizeBytes": 2300,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            },
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/photos/stream/2026-11-01T09:30:12.345"
        })
    }
}

fn photo_id(i: usize) -> String {
    format!("p-20261101-{i:06}")
}
