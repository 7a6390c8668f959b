//! A restart of `purgeflow local` mid-stream loses no record: the first run is stopped after
//! one batch, a second run (a new poller, reading only the checkpoints file) carries on from
//! the checkpoint, and every deleted item's object ends up purged.

use purgeflow_cli::local::output::{OutputMode, Printer};
use purgeflow_cli::local::runner::RunOptions;
use purgeflow_cli::local::{ProvisionOptions, checkpoints_path, connect, run_connected};
use purgeflow_tests::local_env::{LocalEnv, PARTITION_KEY};

const TABLE: &str = "restart-photos";
const BUCKET: &str = "restart-bucket";
const PHOTOS: usize = 30;
const BATCH: i32 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_stream_loses_no_record() {
    let env = LocalEnv::start("local_restart").await;
    let config = LocalEnv::config(&[
        ("PURGE_TABLE_NAME", TABLE),
        ("PURGE_BUCKET", BUCKET),
        ("PURGE_KEY_TEMPLATE", "{image_key}"),
        ("PURGE_KEY_PREFIX", "images/"),
        (
            "PURGE_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:restart-failures",
        ),
    ]);
    let options = ProvisionOptions {
        partition_key: PARTITION_KEY.into(),
        queue_name: "restart-failures".into(),
        object_lock: false,
    };
    let connected = connect(&env.aws, config, Some(&options))
        .await
        .expect("provision");

    let photos: Vec<(String, String)> = (0..PHOTOS)
        .map(|n| (format!("p{n:02}"), format!("images/p{n:02}.jpg")))
        .collect();
    for (id, key) in &photos {
        env.put_object(BUCKET, key).await;
        env.put_item(TABLE, id, key).await;
    }
    // The puts are on the stream too: drain them first, so the deletes start a fresh batch.
    let quiet = Printer::new(OutputMode::Quiet);
    let inserts = run_connected(
        &env.aws,
        &connected,
        &env.state_dir,
        1000,
        2,
        &RunOptions::default(),
        &quiet,
    )
    .await
    .expect("the inserts are read");
    assert_eq!((inserts.stream_records, inserts.removed), (PHOTOS, 0));

    let ids: Vec<String> = photos.iter().map(|(id, _)| id.clone()).collect();
    env.delete_items(TABLE, &ids).await;

    // Stopped after one batch of BATCH records: as if the process were killed right after it.
    let stop_early = RunOptions {
        stop_after_batches: Some(1),
        ..RunOptions::default()
    };
    let first = run_connected(
        &env.aws,
        &connected,
        &env.state_dir,
        BATCH,
        2,
        &stop_early,
        &quiet,
    )
    .await
    .expect("first run");
    assert_eq!(first.stream_records, BATCH as usize, "{first:?}");
    assert_eq!(
        env.keys(BUCKET).await.len(),
        PHOTOS - BATCH as usize,
        "one batch purged before the stop"
    );
    assert!(checkpoints_path(&env.state_dir).exists());

    // The restart reads the rest, from the checkpoint: nothing lost, nothing read twice.
    let second = run_connected(
        &env.aws,
        &connected,
        &env.state_dir,
        BATCH,
        2,
        &RunOptions::default(),
        &quiet,
    )
    .await
    .expect("second run");
    assert_eq!(second.stream_records, PHOTOS - BATCH as usize, "{second:?}");
    assert_eq!(second.removed, PHOTOS - BATCH as usize);
    assert_eq!(second.failed, 0, "{:?}", second.reports);
    assert!(
        env.keys(BUCKET).await.is_empty(),
        "every deleted item's object is purged"
    );

    // A third run finds nothing new.
    let third = run_connected(
        &env.aws,
        &connected,
        &env.state_dir,
        BATCH,
        2,
        &RunOptions::default(),
        &quiet,
    )
    .await
    .expect("third run");
    assert_eq!(third.stream_records, 0, "{third:?}");
}
