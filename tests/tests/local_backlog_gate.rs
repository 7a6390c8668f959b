//! The backlog gate on a `purgeflow local` run against moto, in the local_purge benchmark's
//! configuration (1,000 deletes, the default configuration: supersede check on, inputs signed,
//! 1,000 records per execution, one path template). Nothing is deferred (moto enforces no
//! CloudFront limit), so the deferral queue stays empty: each invalidation batch's first attempt
//! reads the queue's counts once (SQS GetQueueAttributes) and then calls CloudFront as before.
//! With `PURGE_SKIP_DIRECT_BACKLOG=0` the gate makes no call. The local dispatcher's check that
//! the queue is empty before it stops reads the same counts; it marks its calls
//! (`Origin::LocalStopCheck`), so the two are told apart by who made them, as the benchmark files
//! them (the gate's as purge work, the stop check as the local runner's).

use std::collections::BTreeMap;
use std::time::Duration;

use purgeflow_cli::local::aws::Origin;
use purgeflow_cli::local::checkpoints::CheckpointStore;
use purgeflow_cli::local::output::{OutputMode, Printer};
use purgeflow_cli::local::runner::RunOptions;
use purgeflow_cli::local::stream::StreamPoller;
use purgeflow_cli::local::{ProvisionOptions, checkpoints_path, connect, run_connected};
use purgeflow_tests::local_env::{LocalEnv, PARTITION_KEY};

/// As the local_purge benchmark.
const DELETES: usize = 1000;
const BATCH_SIZE: i32 = 1000;
const GET_QUEUE_ATTRIBUTES: &str = "SQS:GetQueueAttributes";
const CREATE_INVALIDATION: &str = "CloudFront:CreateInvalidation";

/// One purge of [`DELETES`] items on fresh resources named `name`; the AWS requests of the run.
async fn purge(
    env: &LocalEnv,
    name: &str,
    skip_direct_backlog: &str,
) -> BTreeMap<(Origin, String), u64> {
    let config = LocalEnv::config(&[
        ("PURGE_TABLE_NAME", name),
        ("PURGE_BUCKET", name),
        ("PURGE_KEY_TEMPLATE", "{image_key}"),
        ("PURGE_KEY_PREFIX", "images/"),
        (
            "PURGE_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:gate-failures",
        ),
        ("PURGE_CHECK_SUPERSEDED", "true"),
        ("PURGE_MAX_RECORDS_PER_EXECUTION", "1000"),
        ("PURGE_ALLOW_UNSIGNED_INPUTS", "false"),
        ("PURGE_SKIP_DIRECT_BACKLOG", skip_direct_backlog),
    ]);
    let options = ProvisionOptions {
        partition_key: PARTITION_KEY.into(),
        queue_name: "gate-failures".into(),
        object_lock: false,
    };
    let connected = connect(&env.aws, config, Some(&options))
        .await
        .expect("provision");
    let state_dir = env.state_dir.join(name);
    let photos: Vec<(String, String)> = (0..DELETES)
        .map(|n| (format!("p{n:05}"), format!("images/p{n:05}.jpg")))
        .collect();
    for (_, key) in &photos {
        env.put_object(name, key).await;
    }
    env.put_items(name, &photos).await;
    // As the benchmark: read past the inserts, so the run reads only the deletes and packs them
    // as the benchmark does.
    let mut poller = StreamPoller::new(
        env.aws.streams.clone(),
        &connected.stream_arn,
        CheckpointStore::load(&checkpoints_path(&state_dir)).expect("checkpoints"),
        BATCH_SIZE,
    );
    loop {
        let batches = poller.poll().await.expect("poll");
        if batches.iter().all(|b| b.records.is_empty()) {
            break;
        }
        for batch in &batches {
            poller.commit(batch).expect("commit");
        }
    }
    let ids: Vec<String> = photos.iter().map(|(id, _)| id.clone()).collect();
    env.delete_items(name, &ids).await;

    env.calls.reset();
    let summary = run_connected(
        &env.aws,
        &connected,
        &state_dir,
        BATCH_SIZE,
        purgeflow_cli::local::pipeline::DEFAULT_CONCURRENCY,
        &RunOptions {
            poll_interval: Duration::from_millis(20),
            ..RunOptions::default()
        },
        &Printer::new(OutputMode::Quiet),
    )
    .await
    .expect("purgeflow ran");
    assert_eq!(summary.failed, 0, "{:?}", summary.reports);
    assert_eq!(summary.removed, DELETES);
    assert!(env.keys(name).await.is_empty(), "every object was deleted");
    env.calls.snapshot_by_origin()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_reads_the_deferral_queue_once_per_batch_and_not_at_all_when_off() {
    let env = LocalEnv::start("local_backlog_gate").await;
    let on = purge(&env, "gate-on", "1").await;
    let off = purge(&env, "gate-off", "0").await;
    let count = |calls: &BTreeMap<(Origin, String), u64>, origin: Origin, operation: &str| {
        calls
            .get(&(origin, operation.to_owned()))
            .copied()
            .unwrap_or(0)
    };
    let gate = |calls| count(calls, Origin::Unmarked, GET_QUEUE_ATTRIBUTES);
    let stop_checks = |calls| count(calls, Origin::LocalStopCheck, GET_QUEUE_ATTRIBUTES);
    let batches = count(&on, Origin::Unmarked, CREATE_INVALIDATION);
    println!(
        "{DELETES} deletes: gate on: {} GetQueueAttributes by the gate, {} by the stop check, {batches} CreateInvalidation; gate off: {} by the gate, {} by the stop check, {} CreateInvalidation",
        gate(&on),
        stop_checks(&on),
        gate(&off),
        stop_checks(&off),
        count(&off, Origin::Unmarked, CREATE_INVALIDATION),
    );
    assert!(batches > 0, "{on:?}");
    // Nothing waited, so nothing was held back: every batch went to CloudFront either way.
    assert_eq!(
        count(&off, Origin::Unmarked, CREATE_INVALIDATION),
        batches,
        "{off:?}"
    );
    // The gate's reads: one per batch's first attempt, none when it is off.
    assert_eq!(gate(&on), batches, "on: {on:?}");
    assert_eq!(gate(&off), 0, "off: {off:?}");
    // The local dispatcher checks the queue before it stops, gate or no gate, and nothing else
    // of the run is marked as its stop check.
    for calls in [&on, &off] {
        assert!(stop_checks(calls) >= 1, "{calls:?}");
        assert!(
            calls
                .keys()
                .all(|(origin, operation)| *origin == Origin::Unmarked
                    || operation == GET_QUEUE_ATTRIBUTES),
            "{calls:?}"
        );
    }
    // Nothing else changed.
    let without = |calls: &BTreeMap<(Origin, String), u64>| {
        let mut calls = calls.clone();
        calls.retain(|(_, operation), _| operation != GET_QUEUE_ATTRIBUTES);
        calls
    };
    assert_eq!(
        without(&on).keys().collect::<Vec<_>>(),
        without(&off).keys().collect::<Vec<_>>()
    );
}
