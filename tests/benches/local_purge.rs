//! Side by side against one local endpoint (moto): purge 1000 deleted items end to end, three
//! ways, in one run.
//!
//! - **classic**: what the classic hand-written handlers do, in Rust with the same SDK: for each
//!   REMOVE record, one DeleteObject, then one CreateInvalidation per path with a fresh
//!   CallerReference. No supersede check.
//! - **purgeflow (default)**: the default configuration, supersede check on: the trigger's
//!   packing, purge.asl.json on the engine with the real handlers (BatchGetItem 100 keys a
//!   request, DeleteObjects up to 1000 keys a request, batched and folded paths).
//! - **purgeflow, check off**: the same with `PURGE_CHECK_SUPERSEDED=false`.
//!
//! All three read the table's stream with the same poller (every shard at once, GetRecords'
//! largest page), so the stream reading is timed and counted apart: in AWS it is the event
//! source mapping's work, outside any handler. Each way runs on fresh resources every round;
//! medians over the rounds are printed: wall time end to end, the purge work alone (end to end
//! minus the stream reading), the stream reading, and the AWS calls by operation.
//!
//!     cargo bench -p purgeflow-tests --bench local_purge
//!     LOCAL_PURGE_RECORDS=200 LOCAL_PURGE_ROUNDS=1 LOCAL_PURGE_VERBOSE=1 cargo bench -p purgeflow-tests --bench local_purge
//!
//! (`LOCAL_PURGE_VERBOSE` prints each purgeflow execution with its states' wall times.)

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use purgeflow_cli::local::aws::Origin;
use purgeflow_cli::local::checkpoints::CheckpointStore;
use purgeflow_cli::local::output::{OutputMode, Printer};
use purgeflow_cli::local::runner::RunOptions;
use purgeflow_cli::local::stream::StreamPoller;
use purgeflow_cli::local::{Connected, ProvisionOptions, checkpoints_path, connect, run_connected};
use purgeflow_tests::local_env::{LocalEnv, PARTITION_KEY};
use purgeflow_tests::stats::{median, ms};
use serde_json::Value;

/// Stream records per GetRecords, for both ways.
const BATCH_SIZE: i32 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Way {
    Classic,
    PurgeflowDefault,
    PurgeflowCheckOff,
    /// The default configuration with the MAC's opt-out (`PURGE_ALLOW_UNSIGNED_INPUTS=true`, no
    /// key): what signing and verifying cost, side by side with the default.
    PurgeflowUnsigned,
}

impl Way {
    const ALL: [Way; 4] = [
        Way::Classic,
        Way::PurgeflowDefault,
        Way::PurgeflowCheckOff,
        Way::PurgeflowUnsigned,
    ];

    fn label(self) -> &'static str {
        match self {
            Way::Classic => "classic handlers",
            Way::PurgeflowDefault => "purgeflow (default, check on)",
            Way::PurgeflowCheckOff => "purgeflow, check off",
            Way::PurgeflowUnsigned => "purgeflow, unsigned (opt-out)",
        }
    }

    /// Names the way's table and bucket. purgeflow writes the bucket's name into every record
    /// it hands an execution, so the slugs are all as long as each other: the ways' records are
    /// then the same size and pack into the same executions (the check in `main` keeps it so).
    fn slug(self) -> &'static str {
        match self {
            Way::Classic => "cl",
            Way::PurgeflowDefault => "pf",
            Way::PurgeflowCheckOff => "po",
            Way::PurgeflowUnsigned => "pu",
        }
    }
}

/// One measured purge.
#[derive(Debug, Clone)]
struct Measure {
    wall: Duration,
    /// Of `wall`, the time spent reading the stream (the same work for every way).
    stream_read: Duration,
    /// The purge's requests (the handlers', the state machine's), per operation.
    purge_calls: BTreeMap<String, u64>,
    /// What event source mappings do in AWS (the stream's DescribeStream, GetShardIterator and
    /// GetRecords; the deferral queue's polling), and the local runner's own stop check, which
    /// has no counterpart in AWS; per operation.
    stream_calls: BTreeMap<String, u64>,
}

impl Measure {
    fn purge_work(&self) -> Duration {
        self.wall.saturating_sub(self.stream_read)
    }

    fn purge_total(&self) -> u64 {
        self.purge_calls.values().sum()
    }

    fn stream_total(&self) -> u64 {
        self.stream_calls.values().sum()
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let records = env_number("LOCAL_PURGE_RECORDS", 1000);
    let rounds = env_number("LOCAL_PURGE_ROUNDS", 3).max(1);
    let slug_length = Way::PurgeflowDefault.slug().len();
    for way in Way::ALL {
        assert_eq!(
            way.slug().len(),
            slug_length,
            "{}'s resources would be named longer or shorter than the default's, so its records \
             would pack differently and the ways would not be compared alike",
            way.label()
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(bench(records, rounds));
}

async fn bench(records: usize, rounds: usize) {
    let env = LocalEnv::start("local_purge_bench").await;
    println!(
        "local_purge: {records} deletes, {rounds} round(s) per way, moto at {}",
        env.endpoint_url
    );
    let mut results: BTreeMap<Way, Vec<Measure>> = BTreeMap::new();
    for round in 0..rounds {
        for way in Way::ALL {
            let measure = one_round(&env, way, round, records).await;
            println!(
                "  round {} {:<30} {:>9.1} ms (stream {:>6.1} ms)  {:>5} purge calls  {:>3} stream reads",
                round + 1,
                way.label(),
                ms(measure.wall),
                ms(measure.stream_read),
                measure.purge_total(),
                measure.stream_total()
            );
            results.entry(way).or_default().push(measure);
        }
    }
    report(&results, records);
}

/// Provisions fresh resources, uploads and deletes `records` photos, then times the purge.
async fn one_round(env: &LocalEnv, way: Way, round: usize, records: usize) -> Measure {
    let name = format!("bench-{}-{round}", way.slug());
    let check = if way == Way::PurgeflowCheckOff {
        "false"
    } else {
        "true"
    };
    let config = LocalEnv::config(&[
        ("PURGE_TABLE_NAME", &name),
        ("PURGE_BUCKET", &name),
        ("PURGE_KEY_TEMPLATE", "{image_key}"),
        ("PURGE_KEY_PREFIX", "images/"),
        (
            "PURGE_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:bench-failures",
        ),
        ("PURGE_CHECK_SUPERSEDED", check),
        ("PURGE_MAX_RECORDS_PER_EXECUTION", "1000"),
        (
            "PURGE_ALLOW_UNSIGNED_INPUTS",
            if way == Way::PurgeflowUnsigned {
                "true"
            } else {
                "false"
            },
        ),
    ]);
    let options = ProvisionOptions {
        partition_key: PARTITION_KEY.into(),
        queue_name: "bench-failures".into(),
        object_lock: false,
    };
    let mut connected = connect(&env.aws, config, Some(&options))
        .await
        .expect("provision");
    if way == Way::PurgeflowUnsigned {
        // The opt-out without a key: nothing signs, nothing verifies.
        connected.config.mac_key_id = None;
    }
    let state_dir = env.state_dir.join(&name);
    let photos: Vec<(String, String)> = (0..records)
        .map(|n| (format!("p{n:05}"), format!("images/p{n:05}.jpg")))
        .collect();
    for (_, key) in &photos {
        env.put_object(&name, key).await;
    }
    env.put_items(&name, &photos).await;
    // Read past the inserts, so the timed part reads only the deletes.
    skip_to_end(env, &connected, &state_dir).await;
    let ids: Vec<String> = photos.iter().map(|(id, _)| id.clone()).collect();
    env.delete_items(&name, &ids).await;

    env.calls.reset();
    let started = Instant::now();
    let stream_read = match way {
        Way::Classic => classic(env, &connected, &state_dir).await,
        Way::PurgeflowDefault | Way::PurgeflowCheckOff | Way::PurgeflowUnsigned => {
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
                &Printer::new(if std::env::var_os("LOCAL_PURGE_VERBOSE").is_some() {
                    OutputMode::Human
                } else {
                    OutputMode::Quiet
                }),
            )
            .await
            .expect("purgeflow ran");
            assert_eq!(summary.failed, 0, "{:?}", summary.reports);
            assert_eq!(summary.removed, records);
            Duration::from_secs_f64(summary.stream_ms / 1000.0)
        }
    };
    let wall = started.elapsed();
    // Before the check below, whose ListObjectsV2 is the bench's, not the purge's.
    let (purge, stream) = attribute(env.calls.snapshot_by_origin());
    let left = env.keys(&name).await.len();
    assert_eq!(left, 0, "{} left {left} objects", way.label());
    if way != Way::Classic {
        check_attribution(way, &purge, &stream);
    }
    Measure {
        wall,
        stream_read,
        purge_calls: purge,
        stream_calls: stream,
    }
}

/// The stop check's calls, as they are listed on the stream side.
const STOP_CHECK: &str = "SQS:GetQueueAttributes (local stop check)";

/// Splits a round's calls into the purge's and the rest (see [`Measure`]), by who made them: the
/// local dispatcher marks its stop check ([`Origin::LocalStopCheck`]), so invalidate-cache's
/// backlog gate, which reads the same queue with the same operation, stays purge work.
fn attribute(
    calls: BTreeMap<(Origin, String), u64>,
) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let mut purge = BTreeMap::new();
    let mut stream = BTreeMap::new();
    for ((origin, operation), n) in calls {
        let (side, name) = match origin {
            Origin::LocalStopCheck => (&mut stream, STOP_CHECK.to_owned()),
            Origin::Unmarked
                if operation.starts_with("DynamoDB Streams")
                    || operation == "SQS:ReceiveMessage"
                    || operation == "SQS:DeleteMessageBatch" =>
            {
                (&mut stream, operation)
            }
            Origin::Unmarked => (&mut purge, operation),
        };
        *side.entry(name).or_default() += n;
    }
    (purge, stream)
}

/// What every purgeflow round must show if the calls are filed right: moto refuses nothing, so
/// each invalidation batch's first attempt reads the backlog once (the gate, purge work) and
/// then invalidates; the local dispatcher checks the queue before it stops (the runner's).
fn check_attribution(way: Way, purge: &BTreeMap<String, u64>, stream: &BTreeMap<String, u64>) {
    let count =
        |calls: &BTreeMap<String, u64>, operation: &str| calls.get(operation).copied().unwrap_or(0);
    let invalidations = count(purge, "CloudFront:CreateInvalidation");
    assert!(invalidations > 0, "{}: {purge:?}", way.label());
    assert_eq!(
        count(purge, "SQS:GetQueueAttributes"),
        invalidations,
        "{}: the backlog gate reads the queue once per invalidation batch\npurge: {purge:?}\nstream: {stream:?}",
        way.label()
    );
    assert!(
        count(stream, STOP_CHECK) >= 1,
        "{}: the local dispatcher checks the queue before it stops\nstream: {stream:?}",
        way.label()
    );
}

/// Reads the stream to its end without purging anything, checkpointing as it goes.
async fn skip_to_end(env: &LocalEnv, connected: &Connected, state_dir: &std::path::Path) {
    let checkpoints = CheckpointStore::load(&checkpoints_path(state_dir)).expect("checkpoints");
    let mut poller = StreamPoller::new(
        env.aws.streams.clone(),
        &connected.stream_arn,
        checkpoints,
        BATCH_SIZE,
    );
    loop {
        let started = Instant::now();
        let batches = poller.poll().await.expect("poll");
        if std::env::var_os("LOCAL_PURGE_VERBOSE").is_some() {
            let records: usize = batches.iter().map(|b| b.records.len()).sum();
            println!(
                "  (setup: one poll of {records} insert records took {:.1} ms)",
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
        if batches.iter().all(|b| b.records.is_empty()) {
            return;
        }
        for batch in &batches {
            poller.commit(batch).expect("commit");
        }
    }
}

/// The classic handlers: per REMOVE record, one DeleteObject and one CreateInvalidation per path.
/// Returns the time spent reading the stream.
async fn classic(env: &LocalEnv, connected: &Connected, state_dir: &std::path::Path) -> Duration {
    let bucket = connected.config.bucket().expect("bucket").to_owned();
    let distribution_id = connected
        .config
        .distribution_id()
        .expect("distribution")
        .to_owned();
    let checkpoints = CheckpointStore::load(&checkpoints_path(state_dir)).expect("checkpoints");
    let mut poller = StreamPoller::new(
        env.aws.streams.clone(),
        &connected.stream_arn,
        checkpoints,
        BATCH_SIZE,
    );
    let mut empty_rounds = 0;
    let mut reading = Duration::ZERO;
    while empty_rounds < 2 {
        let poll_started = Instant::now();
        let batches = poller.poll().await.expect("poll");
        reading += poll_started.elapsed();
        if batches.iter().all(|b| b.records.is_empty()) {
            empty_rounds += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        empty_rounds = 0;
        for batch in &batches {
            for record in &batch.records {
                if record["eventName"] != "REMOVE" {
                    continue;
                }
                let Some(key) = record["dynamodb"]["OldImage"]["image_key"]["S"].as_str() else {
                    continue;
                };
                env.aws
                    .s3
                    .delete_object()
                    .bucket(&bucket)
                    .key(key)
                    .send()
                    .await
                    .expect("DeleteObject");
                invalidate_one(env, &distribution_id, &format!("/{key}"), record).await;
            }
            poller.commit(batch).expect("commit");
        }
    }
    reading
}

async fn invalidate_one(env: &LocalEnv, distribution_id: &str, path: &str, record: &Value) {
    use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
    // Classic handlers make the reference unique with the time: every call is a new invalidation.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let reference = format!(
        "{}-{}",
        record["eventID"].as_str().unwrap_or("record"),
        now.as_nanos()
    );
    env.aws
        .cloudfront
        .create_invalidation()
        .distribution_id(distribution_id)
        .invalidation_batch(
            InvalidationBatch::builder()
                .caller_reference(reference)
                .paths(
                    Paths::builder()
                        .quantity(1)
                        .items(path)
                        .build()
                        .expect("paths"),
                )
                .build()
                .expect("an invalidation batch"),
        )
        .send()
        .await
        .expect("CreateInvalidation");
}

/// The median of each operation's count over the rounds.
fn median_calls(
    measures: &[Measure],
    calls: impl Fn(&Measure) -> &BTreeMap<String, u64>,
) -> BTreeMap<String, f64> {
    let operations: std::collections::BTreeSet<&String> =
        measures.iter().flat_map(|m| calls(m).keys()).collect();
    operations
        .into_iter()
        .map(|operation| {
            let counts = measures
                .iter()
                .map(|m| calls(m).get(operation).copied().unwrap_or(0) as f64)
                .collect();
            (operation.clone(), median(counts))
        })
        .collect()
}

fn by_operation(calls: &BTreeMap<String, f64>) -> String {
    calls
        .iter()
        .map(|(operation, n)| format!("{operation} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn report(results: &BTreeMap<Way, Vec<Measure>>, records: usize) {
    let median_of = |way: Way, value: &dyn Fn(&Measure) -> f64| {
        median(results[&way].iter().map(value).collect())
    };
    let wall = |way: Way| median_of(way, &|m| ms(m.wall));
    let purge_work = |way: Way| median_of(way, &|m| ms(m.purge_work()));
    let stream = |way: Way| median_of(way, &|m| ms(m.stream_read));
    let calls = |way: Way| median_of(way, &|m| m.purge_total() as f64);
    println!(
        "\nmedians over {} round(s), {records} deletes:",
        results[&Way::Classic].len()
    );
    println!(
        "  {:<30} {:>9} {:>11} {:>13} {:>11}",
        "way", "wall ms", "purge ms", "stream ms", "AWS calls"
    );
    for way in Way::ALL {
        println!(
            "  {:<30} {:>9.1} {:>11.1} {:>13.1} {:>11}",
            way.label(),
            wall(way),
            purge_work(way),
            stream(way),
            calls(way),
        );
        println!(
            "  {:<30} purge: {}",
            "",
            by_operation(&median_calls(&results[&way], |m| &m.purge_calls))
        );
        println!(
            "  {:<30} stream: {}",
            "",
            by_operation(&median_calls(&results[&way], |m| &m.stream_calls))
        );
    }
    println!(
        "  signed (default) - unsigned (opt-out): {:+.1} ms purge work, {:+.1} ms wall time, {:+} AWS calls",
        purge_work(Way::PurgeflowDefault) - purge_work(Way::PurgeflowUnsigned),
        wall(Way::PurgeflowDefault) - wall(Way::PurgeflowUnsigned),
        calls(Way::PurgeflowDefault) - calls(Way::PurgeflowUnsigned),
    );
    for way in [
        Way::PurgeflowDefault,
        Way::PurgeflowCheckOff,
        Way::PurgeflowUnsigned,
    ] {
        println!(
            "  classic / {}: {:.1}x wall time end to end, {:.1}x purge work, {:.0}x AWS calls",
            way.label(),
            wall(Way::Classic) / wall(way),
            purge_work(Way::Classic) / purge_work(way),
            calls(Way::Classic) / calls(way).max(1.0),
        );
    }
}
