//! `purgeflow local` against moto, end to end through the real AWS wire protocols: items deleted
//! in the table purge their objects and invalidate their paths; a re-created item keeps its
//! object; objects outside `PURGE_KEY_PREFIX` are untouched; a bad record is reported on the
//! failure queue with its reason; a delete refused by a legal hold is reported with a
//! `replayInput`, and replaying the report (twice) completes what was left and nothing more.

use std::collections::BTreeSet;

use aws_sdk_s3::types::{ObjectLockLegalHold, ObjectLockLegalHoldStatus};
use purgeflow_cli::local::output::{OutputMode, Printer};
use purgeflow_cli::local::pipeline::{Pipeline, purge_machine_for};
use purgeflow_cli::local::runner::RunOptions;
use purgeflow_cli::local::{ProvisionOptions, connect, run_connected};
use purgeflow_cli::replay::{Target, collect_files, replay};
use purgeflow_tests::local_env::{LocalEnv, PARTITION_KEY};
use serde_json::Value;

const TABLE: &str = "photos";
const BUCKET: &str = "photo-bucket";
const QUEUE: &str = "purge-failures";

fn photo(n: u32) -> (String, String) {
    (format!("p{n}"), format!("images/p{n}.jpg"))
}

fn paths_of(key: &str) -> [String; 2] {
    [format!("/{key}"), format!("/thumbs/{key}")]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_purge_objects_invalidate_paths_report_bad_records_and_replay_completes() {
    let env = LocalEnv::start("local_purge").await;
    let config = LocalEnv::config(&[
        ("PURGE_TABLE_NAME", TABLE),
        ("PURGE_BUCKET", BUCKET),
        ("PURGE_KEY_TEMPLATE", "{image_key}"),
        ("PURGE_KEY_PREFIX", "images/"),
        ("PURGE_PATH_TEMPLATES", "/{key},/thumbs/{key}"),
        (
            "PURGE_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:purge-failures",
        ),
        ("PURGE_VERSIONS", "all"),
    ]);
    let options = ProvisionOptions {
        partition_key: PARTITION_KEY.into(),
        queue_name: QUEUE.into(),
        object_lock: true,
    };
    let connected = connect(&env.aws, config.clone(), Some(&options))
        .await
        .expect("provision");
    // Provisioning again changes nothing.
    let again = connect(&env.aws, config, Some(&options))
        .await
        .expect("provision twice");
    assert_eq!(again.provisioned, connected.provisioned);
    let provisioned = connected.provisioned.clone().expect("provisioned");

    for n in 1..=6 {
        let (id, key) = photo(n);
        env.put_photo(TABLE, BUCKET, &id, &key).await;
    }
    env.put_photo(TABLE, BUCKET, "contract", "private/contract.pdf")
        .await;
    env.put_item(TABLE, "broken", "images/../private/contract.pdf")
        .await;
    let (_, held) = photo(3);
    env.aws
        .s3
        .put_object_legal_hold()
        .bucket(BUCKET)
        .key(&held)
        .legal_hold(
            ObjectLockLegalHold::builder()
                .status(ObjectLockLegalHoldStatus::On)
                .build(),
        )
        .send()
        .await
        .expect("legal hold");

    for n in 1..=4 {
        env.delete_item(TABLE, &photo(n).0).await;
    }
    let (recreated_id, recreated_key) = photo(4);
    env.put_item(TABLE, &recreated_id, &recreated_key).await;
    env.delete_item(TABLE, "contract").await;
    env.delete_item(TABLE, "broken").await;

    let summary = run_connected(
        &env.aws,
        &connected,
        &env.state_dir,
        100,
        2,
        &RunOptions::default(),
        &Printer::new(OutputMode::Quiet),
    )
    .await
    .expect("the pipeline ran");
    // 4 + 1 + 1 deletes, plus the inserts and the re-creation on the same stream.
    assert_eq!(summary.removed, 6, "{summary:?}");
    assert_eq!(
        summary.failed, 1,
        "the execution reports its failures: {:?}",
        summary.reports
    );

    // Purged: p1, p2. Held: p3. Re-created: p4. Never deleted: p5, p6. Outside the prefix: untouched.
    let keys = env.keys(BUCKET).await;
    let expected: BTreeSet<String> = [
        photo(3).1,
        photo(4).1,
        photo(5).1,
        photo(6).1,
        "private/contract.pdf".to_owned(),
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, expected);

    let invalidations = env.invalidations(&provisioned.distribution_id).await;
    let invalidated: BTreeSet<String> = invalidations.iter().flatten().cloned().collect();
    let expected_paths: BTreeSet<String> = [photo(1).1, photo(2).1]
        .iter()
        .flat_map(|k| paths_of(k))
        .collect();
    assert_eq!(
        invalidated, expected_paths,
        "invalidations: {invalidations:?}"
    );

    let reports = env.drain_reports(&provisioned.queue_url).await;
    assert_eq!(
        reports.len(),
        1,
        "one execution failed, one report: {reports:#?}"
    );
    let report = &reports[0];
    let rejections: BTreeSet<(String, String)> = report["rejections"]
        .as_array()
        .expect("rejections")
        .iter()
        .map(|r| {
            (
                r["keys"][PARTITION_KEY]["S"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                r["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rejections,
        [
            ("broken".to_owned(), "UnsafeKey".to_owned()),
            ("contract".to_owned(), "KeyOutsidePrefix".to_owned())
        ]
        .into_iter()
        .collect()
    );
    let failures = report["deleteFailures"].as_array().expect("deleteFailures");
    assert_eq!(failures.len(), 1, "{failures:#?}");
    assert_eq!(failures[0]["target"]["key"], held.as_str());
    assert_eq!(failures[0]["code"], "AccessDenied");
    let replay_input = &report["replayInput"];
    let targets: Vec<&str> = replay_input["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .filter_map(|t| t["key"].as_str())
        .collect();
    assert_eq!(
        targets,
        [held.as_str()],
        "only what is left: {replay_input}"
    );

    // The replay, from the report file, once the hold is released: completes what was left.
    env.aws
        .s3
        .put_object_legal_hold()
        .bucket(BUCKET)
        .key(&held)
        .legal_hold(
            ObjectLockLegalHold::builder()
                .status(ObjectLockLegalHoldStatus::Off)
                .build(),
        )
        .send()
        .await
        .expect("release the hold");
    std::fs::create_dir_all(&env.state_dir).expect("state dir");
    let file = env.state_dir.join("failure-reports.json");
    std::fs::write(&file, Value::Array(reports.clone()).to_string()).expect("write the reports");
    let collected = collect_files(std::slice::from_ref(&file)).expect("read the reports");
    assert_eq!(collected.inputs.len(), 1);
    let pipeline = Pipeline::new(
        purge_machine_for(&connected.config).expect("definition"),
        env.aws.task_clients(true),
        connected.config.clone(),
    )
    .expect("handlers");
    let first = replay(&collected, &Target::Local(&pipeline))
        .await
        .expect("replay");
    assert_eq!(first.succeeded(), 1, "{first:?}");
    let after_replay: BTreeSet<String> = [
        photo(4).1,
        photo(5).1,
        photo(6).1,
        "private/contract.pdf".to_owned(),
    ]
    .into_iter()
    .collect();
    assert_eq!(env.keys(BUCKET).await, after_replay);
    let invalidated: BTreeSet<String> = env
        .invalidations(&provisioned.distribution_id)
        .await
        .iter()
        .flatten()
        .cloned()
        .collect();
    assert!(
        paths_of(&held).iter().all(|p| invalidated.contains(p)),
        "{invalidated:?}"
    );

    // Twice is harmless: it succeeds, deletes nothing else, reports nothing.
    let second = replay(&collected, &Target::Local(&pipeline))
        .await
        .expect("replay again");
    assert_eq!(second.succeeded(), 1, "{second:?}");
    assert_eq!(env.keys(BUCKET).await, after_replay);
    assert_eq!(
        env.drain_reports(&provisioned.queue_url).await,
        Vec::<Value>::new()
    );
}
