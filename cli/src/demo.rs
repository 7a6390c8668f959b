//! `purgeflow demo`: the whole story on one machine, in one command.
//!
//! 1. Starts moto (installing it into `.venv/moto` first if needed, and saying so).
//! 2. Provisions a photo table, bucket, distribution, topic and failure queue, and uploads N
//!    photos (objects plus items), one under a legal hold, and one private file outside
//!    `PURGE_KEY_PREFIX`.
//! 3. Deletes items through the DynamoDB API: half the photos, the private file's item, one bad
//!    record (a key with `..`), and one photo re-created right after its delete.
//! 4. Runs the pipeline (`purgeflow local --once`).
//! 5. Shows the outcome: which objects are gone or remain and why, the invalidations with their
//!    paths, the failure reports from the queue, and the replay file it wrote. Then releases the
//!    legal hold and replays that file, which purges what was left.
//! 6. Stops moto.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ObjectLockLegalHold, ObjectLockLegalHoldStatus};
use purgeflow_tasks::config::Config;
use serde_json::Value;

use crate::local::aws::{AwsClients, sdk_config};
use crate::local::moto::MotoServer;
use crate::local::output::{OutputMode, Printer};
use crate::local::pipeline::{Pipeline, purge_machine_for};
use crate::local::runner::{RunOptions, RunSummary};
use crate::local::{Connected, ProvisionOptions, connect, run_connected};
use crate::replay::{Target, collect_files, replay};

const TABLE: &str = "purgeflow-demo-photos";
const BUCKET: &str = "purgeflow-demo-photos";
const PARTITION_KEY: &str = "photo_id";
const KEY_PREFIX: &str = "images/";
const QUEUE: &str = "purgeflow-demo-failures";
/// moto's account and region; only the name matters, provisioning answers with the real ARN.
const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:purgeflow-demo-failures";
const PRIVATE_KEY: &str = "private/contract-scan.pdf";
/// A key ValidateRecords rejects as unsafe: it climbs out of the prefix.
const BAD_KEY: &str = "images/../private/contract-scan.pdf";

/// `purgeflow demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Photos to upload (at least 6); half of them are deleted.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(6..=500))]
    pub photos: u32,
    /// Where the checkpoints and the replay file go.
    #[arg(long, value_name = "DIR", default_value = ".local/demo")]
    pub state_dir: PathBuf,
}

/// What became of one uploaded object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectFate {
    pub key: String,
    pub present: bool,
    pub why: String,
}

/// Everything the demo showed.
#[derive(Debug, Clone)]
pub struct DemoOutcome {
    pub run: RunSummary,
    pub objects: Vec<ObjectFate>,
    /// Invalidation id → paths.
    pub invalidations: BTreeMap<String, Vec<String>>,
    pub reports: Vec<Value>,
    pub replay_file: PathBuf,
    /// Objects still present after the replay.
    pub remaining_after_replay: Vec<String>,
}

fn photo_id(n: u32) -> String {
    format!("photo-{n:03}")
}

fn photo_key(n: u32) -> String {
    format!("{KEY_PREFIX}{}.jpg", photo_id(n))
}

fn demo_config(distribution_id: Option<&str>) -> anyhow::Result<Config> {
    let vars: BTreeMap<&str, &str> = [
        ("PURGE_TABLE_NAME", TABLE),
        ("PURGE_BUCKET", BUCKET),
        ("PURGE_KEY_TEMPLATE", "{image_key}"),
        ("PURGE_KEY_PREFIX", KEY_PREFIX),
        ("PURGE_PATH_TEMPLATES", "/{key},/thumbs/{key}"),
        ("PURGE_TOPIC_ARN", TOPIC_ARN),
        // The bucket has Object Lock: `all` deletes every version, which a legal hold refuses.
        ("PURGE_VERSIONS", "all"),
        ("PURGE_CHECK_SUPERSEDED", "true"),
    ]
    .into_iter()
    .chain(distribution_id.map(|id| ("PURGE_DISTRIBUTION_ID", id)))
    .collect();
    Ok(Config::from_lookup(|name| {
        vars.get(name).map(|v| (*v).to_owned())
    })?)
}

/// `purgeflow demo`.
pub async fn run(args: Args) -> anyhow::Result<DemoOutcome> {
    let started = Instant::now();
    println!("== 1. Starting the local AWS endpoint (moto)");
    let moto = tokio::task::spawn_blocking(MotoServer::start)
        .await
        .context("the moto start-up thread failed")??;
    println!(
        "   moto listening on {} (PID {})",
        moto.endpoint_url(),
        moto.pid()
    );
    let outcome = run_against(&moto.endpoint_url(), &args).await;
    drop(moto);
    println!(
        "\n== 6. moto stopped. Demo took {:.1} s.",
        started.elapsed().as_secs_f64()
    );
    outcome
}

/// Steps 2 to 5 against a running endpoint.
pub async fn run_against(endpoint_url: &str, args: &Args) -> anyhow::Result<DemoOutcome> {
    let sdk = sdk_config(Some(endpoint_url)).await;
    let aws = AwsClients::new(&sdk);

    println!("\n== 2. Provisioning and uploading {} photos", args.photos);
    let options = ProvisionOptions {
        partition_key: PARTITION_KEY.into(),
        queue_name: QUEUE.into(),
        object_lock: true,
    };
    let connected = connect(&aws, demo_config(None)?, Some(&options)).await?;
    let provisioned = connected.provisioned.clone().context("provisioning ran")?;
    println!(
        "   table {TABLE} (NEW_AND_OLD_IMAGES stream), bucket {BUCKET} (Object Lock), distribution {}, topic {}, queue {QUEUE}",
        provisioned.distribution_id, provisioned.topic_arn
    );
    for n in 1..=args.photos {
        put_photo(&aws, &photo_id(n), &photo_key(n)).await?;
    }
    put_photo(&aws, "contract", PRIVATE_KEY).await?;
    put_item(&aws, "broken", BAD_KEY).await?;
    let held = photo_key(3);
    aws.s3
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
        .with_context(|| format!("cannot put a legal hold on {held}"))?;
    println!(
        "   {} photos under {KEY_PREFIX}, plus {PRIVATE_KEY}; legal hold on {held}",
        args.photos
    );

    let deleted_photos: Vec<u32> = (1..=args.photos / 2).collect();
    let recreated = 4;
    println!("\n== 3. Deleting items through the DynamoDB API");
    for n in &deleted_photos {
        delete_item(&aws, &photo_id(*n)).await?;
    }
    put_item(&aws, &photo_id(recreated), &photo_key(recreated)).await?;
    delete_item(&aws, "contract").await?;
    delete_item(&aws, "broken").await?;
    println!(
        "   deleted {} to {} ({} re-created right after its delete), `contract` (its file is outside {KEY_PREFIX}) and `broken` (image_key {BAD_KEY:?})",
        photo_id(1),
        photo_id(args.photos / 2),
        photo_id(recreated)
    );

    println!("\n== 4. Running the pipeline (purgeflow local --once)");
    let run = run_connected(
        &aws,
        &connected,
        &args.state_dir,
        100,
        crate::local::pipeline::DEFAULT_CONCURRENCY,
        &RunOptions::default(),
        &Printer::new(OutputMode::Human),
    )
    .await?;

    println!("\n== 5. Outcome");
    let reports = drain_reports(&aws, &provisioned.queue_url).await?;
    let objects = object_fates(&aws, args.photos, &deleted_photos, recreated, &reports).await?;
    println!("   Objects:");
    for fate in &objects {
        println!(
            "     {} {:<32} {}",
            if fate.present { "KEPT" } else { "GONE" },
            fate.key,
            fate.why
        );
    }
    let invalidations = invalidations(&aws, &provisioned.distribution_id).await?;
    println!("   Invalidations on {}:", provisioned.distribution_id);
    for (id, paths) in &invalidations {
        println!("     {id}: {}", paths.join(" "));
    }
    println!("   Failure reports on the queue: {}", reports.len());
    for report in &reports {
        describe_report(report);
    }
    let replay_file = args.state_dir.join("failure-reports.json");
    write_reports(&replay_file, &reports)?;
    println!(
        "   Replay file: {} (purgeflow replay {0} --dry-run)",
        replay_file.display()
    );

    println!("\n   Releasing the legal hold on {held} and replaying the file:");
    aws.s3
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
        .with_context(|| format!("cannot release the legal hold on {held}"))?;
    let collected = collect_files(std::slice::from_ref(&replay_file))?;
    let pipeline = replay_pipeline(&aws, &connected)?;
    let summary = replay(&collected, &Target::Local(&pipeline)).await?;
    println!("   {}", summary.line());
    let remaining_after_replay = present_keys(&aws).await?;
    println!(
        "   Objects left in the bucket: {}",
        remaining_after_replay.join(", ")
    );
    Ok(DemoOutcome {
        run,
        objects,
        invalidations,
        reports,
        replay_file,
        remaining_after_replay,
    })
}

fn replay_pipeline(aws: &AwsClients, connected: &Connected) -> anyhow::Result<Pipeline> {
    Pipeline::new(
        purge_machine_for(&connected.config)?,
        aws.task_clients(connected.config.check_superseded),
        connected.config.clone(),
    )
}

async fn put_photo(aws: &AwsClients, id: &str, key: &str) -> anyhow::Result<()> {
    aws.s3
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .content_type("image/jpeg")
        .body(ByteStream::from(
            format!("pretend JPEG bytes of {id}").into_bytes(),
        ))
        .send()
        .await
        .with_context(|| format!("cannot upload {key}"))?;
    put_item(aws, id, key).await
}

async fn put_item(aws: &AwsClients, id: &str, image_key: &str) -> anyhow::Result<()> {
    aws.dynamodb
        .put_item()
        .table_name(TABLE)
        .item(PARTITION_KEY, AttributeValue::S(id.to_owned()))
        .item("image_key", AttributeValue::S(image_key.to_owned()))
        .item("title", AttributeValue::S(format!("Demo photo {id}")))
        .send()
        .await
        .with_context(|| format!("cannot put item {id}"))?;
    Ok(())
}

async fn delete_item(aws: &AwsClients, id: &str) -> anyhow::Result<()> {
    aws.dynamodb
        .delete_item()
        .table_name(TABLE)
        .key(PARTITION_KEY, AttributeValue::S(id.to_owned()))
        .send()
        .await
        .with_context(|| format!("cannot delete item {id}"))?;
    Ok(())
}

/// Every failure report on the queue (raw delivery: each body is one report).
async fn drain_reports(aws: &AwsClients, queue_url: &str) -> anyhow::Result<Vec<Value>> {
    let mut reports = Vec::new();
    loop {
        let page = aws
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .context("cannot receive from the failure queue")?;
        let messages = page.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(reports);
        }
        for message in messages {
            if let Some(body) = &message.body {
                reports.push(serde_json::from_str(body).context("a failure report is not JSON")?);
            }
            if let Some(receipt) = &message.receipt_handle {
                aws.sqs
                    .delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .context("cannot delete a report")?;
            }
        }
    }
}

/// Keys of the objects currently in the bucket.
async fn present_keys(aws: &AwsClients) -> anyhow::Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut pages = aws
        .s3
        .list_objects_v2()
        .bucket(BUCKET)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.context("cannot list the bucket")?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    Ok(keys)
}

/// Why each uploaded object is gone or still there, from the bucket, the table and the reports.
async fn object_fates(
    aws: &AwsClients,
    photos: u32,
    deleted: &[u32],
    recreated: u32,
    reports: &[Value],
) -> anyhow::Result<Vec<ObjectFate>> {
    let present = present_keys(aws).await?;
    let delete_failure = |key: &str| {
        reports
            .iter()
            .flat_map(|r| r["deleteFailures"].as_array().cloned().unwrap_or_default())
            .find_map(|f| {
                (f["target"]["key"] == key).then(|| {
                    format!(
                        "{} {}",
                        f["code"].as_str().unwrap_or("?"),
                        f["message"].as_str().unwrap_or("")
                    )
                })
            })
    };
    let mut fates = Vec::new();
    for n in 1..=photos {
        let key = photo_key(n);
        let is_present = present.contains(&key);
        let why = if !deleted.contains(&n) {
            "item still in the table: nothing to purge".to_owned()
        } else if n == recreated {
            "item re-created right after its delete: the record was superseded, the object kept"
                .to_owned()
        } else if let Some(failure) = delete_failure(&key) {
            format!("delete failed ({failure}): reported, replayable")
        } else if is_present {
            "item deleted, object still there: unexpected".to_owned()
        } else {
            "item deleted: object purged, paths invalidated".to_owned()
        };
        fates.push(ObjectFate {
            key,
            present: is_present,
            why,
        });
    }
    let rejection = |id: &str| {
        reports
            .iter()
            .flat_map(|r| r["rejections"].as_array().cloned().unwrap_or_default())
            .find_map(|r| {
                (r["keys"][PARTITION_KEY]["S"] == id).then(|| {
                    format!(
                        "{}: {}",
                        r["reason"].as_str().unwrap_or("?"),
                        r["detail"].as_str().unwrap_or("")
                    )
                })
            })
    };
    fates.push(ObjectFate {
        key: PRIVATE_KEY.to_owned(),
        present: present.iter().any(|k| k == PRIVATE_KEY),
        why: format!(
            "outside {KEY_PREFIX}: `contract` rejected ({}); `broken` rejected ({})",
            rejection("contract").unwrap_or_else(|| "not reported".into()),
            rejection("broken").unwrap_or_else(|| "not reported".into())
        ),
    });
    Ok(fates)
}

async fn invalidations(
    aws: &AwsClients,
    distribution_id: &str,
) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let listed = aws
        .cloudfront
        .list_invalidations()
        .distribution_id(distribution_id)
        .send()
        .await
        .context("cannot list invalidations")?;
    let mut found = BTreeMap::new();
    for summary in listed
        .invalidation_list()
        .map(|l| l.items())
        .unwrap_or_default()
    {
        let invalidation = aws
            .cloudfront
            .get_invalidation()
            .distribution_id(distribution_id)
            .id(summary.id())
            .send()
            .await
            .context("cannot read an invalidation")?
            .invalidation
            .context("GetInvalidation answered without an invalidation")?;
        let paths = invalidation
            .invalidation_batch()
            .and_then(|b| b.paths())
            .map(|p| p.items().to_vec())
            .unwrap_or_default();
        found.insert(invalidation.id().to_owned(), paths);
    }
    Ok(found)
}

fn describe_report(report: &Value) {
    let count = |field: &str| report[field].as_array().map_or(0, Vec::len);
    println!(
        "     execution {}: {} rejected, {} delete failure(s), {} failed invalidation(s); replayInput: {}",
        report["executionName"].as_str().unwrap_or("?"),
        count("rejections"),
        count("deleteFailures"),
        count("failedInvalidations"),
        if report["replayInput"].is_object() {
            "yes"
        } else {
            "none (a replay would reject them again)"
        }
    );
    for rejection in report["rejections"].as_array().into_iter().flatten() {
        println!(
            "       rejected {}: {} ({})",
            rejection["keys"],
            rejection["reason"].as_str().unwrap_or("?"),
            rejection["detail"].as_str().unwrap_or("")
        );
    }
    for failure in report["deleteFailures"].as_array().into_iter().flatten() {
        println!(
            "       delete failed {}: {} ({})",
            failure["target"]["key"].as_str().unwrap_or("?"),
            failure["code"].as_str().unwrap_or("?"),
            failure["message"].as_str().unwrap_or("")
        );
    }
}

fn write_reports(file: &Path, reports: &[Value]) -> anyhow::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(reports).context("cannot serialise the reports")?;
    std::fs::write(file, text).with_context(|| format!("cannot write {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_configuration_is_valid() {
        let config = demo_config(Some("E123")).expect("valid");
        assert_eq!(config.key_prefix, KEY_PREFIX);
        assert_eq!(config.distribution_id.as_deref(), Some("E123"));
        assert!(config.check_superseded);
    }

    #[test]
    fn photo_keys_sit_under_the_prefix() {
        assert_eq!(photo_key(7), "images/photo-007.jpg");
        assert!(!BAD_KEY.starts_with(PRIVATE_KEY));
    }
}
