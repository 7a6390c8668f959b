//! `purgeflow local` never checkpoints past a record it did not run or report (issue #20 §2).
//! Against moto, started and stopped (by PID, when dropped) by each test; the `purgeflow`
//! binary itself runs, so its output and exit code are what a user sees.
//!
//! - An oversized record (an `image_key` of 210,000 bytes: its key could never be an S3 key)
//!   among good ones: the good ones are purged, the bad one is reported by name on the failure
//!   queue, and nothing is left unread behind the checkpoint. It used to stop its batch there:
//!   the records after it were checkpointed past, never purged, never reported, exit 0.
//! - A record whose execution can't report its failure (the topic does not exist): retried,
//!   bisected out of its batch and kept in the state dir's on-failure store, the rest purged;
//!   the summary names the file, the exit code is 3, and a restart does not store it twice.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;
use purgeflow_cli::local::aws::{AwsClients, sdk_config};
use purgeflow_cli::local::moto::MotoServer;
use purgeflow_cli::local::provision::Provisioned;
use purgeflow_cli::local::{ProvisionOptions, connect};
use purgeflow_tasks::config::Config;
use serde_json::Value;

const TABLE: &str = "poison-photos";
const BUCKET: &str = "poison-bucket";
const KEY: &str = "photo_id";

struct Env {
    runtime: tokio::runtime::Runtime,
    aws: AwsClients,
    endpoint: String,
    state_dir: PathBuf,
    provisioned: Provisioned,
    // Last: the clients are dropped before moto stops.
    _moto: MotoServer,
}

impl Env {
    fn start(name: &str) -> Env {
        let moto = MotoServer::start().expect("moto starts (installed into .venv/moto if missing)");
        let endpoint = moto.endpoint_url();
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let aws = runtime.block_on(async { AwsClients::new(&sdk_config(Some(&endpoint)).await) });
        let config = config(&[
            ("PURGE_TABLE_NAME", TABLE),
            ("PURGE_BUCKET", BUCKET),
            ("PURGE_KEY_TEMPLATE", "{image_key}"),
        ]);
        let options = ProvisionOptions {
            partition_key: KEY.into(),
            queue_name: "poison-failures".into(),
            object_lock: false,
        };
        let provisioned = runtime
            .block_on(connect(&aws, config, Some(&options)))
            .expect("provision")
            .provisioned
            .expect("provisioned");
        let state_dir = std::env::temp_dir().join(format!(
            "purgeflow-local-poison-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&state_dir);
        Env {
            runtime,
            aws,
            endpoint,
            state_dir,
            provisioned,
            _moto: moto,
        }
    }

    fn put_photo(&self, id: &str, key: &str, with_object: bool) {
        self.runtime.block_on(async {
            if with_object {
                self.aws
                    .s3
                    .put_object()
                    .bucket(BUCKET)
                    .key(key)
                    .body(ByteStream::from(b"bytes".to_vec()))
                    .send()
                    .await
                    .expect("PutObject");
            }
            self.aws
                .dynamodb
                .put_item()
                .table_name(TABLE)
                .item(KEY, AttributeValue::S(id.to_owned()))
                .item("image_key", AttributeValue::S(key.to_owned()))
                .send()
                .await
                .expect("PutItem");
        });
    }

    /// One DeleteItem each, in this order: the stream holds them in this order.
    fn delete_items(&self, ids: &[&str]) {
        self.runtime.block_on(async {
            for id in ids {
                self.aws
                    .dynamodb
                    .delete_item()
                    .table_name(TABLE)
                    .key(KEY, AttributeValue::S((*id).to_owned()))
                    .send()
                    .await
                    .expect("DeleteItem");
            }
        });
    }

    fn keys(&self) -> BTreeSet<String> {
        self.runtime.block_on(async {
            self.aws
                .s3
                .list_objects_v2()
                .bucket(BUCKET)
                .send()
                .await
                .expect("ListObjectsV2")
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .collect()
        })
    }

    /// Every failure report on the failure queue, received and deleted.
    fn reports(&self) -> Vec<Value> {
        self.runtime.block_on(async {
            let mut reports = Vec::new();
            loop {
                let page = self
                    .aws
                    .sqs
                    .receive_message()
                    .queue_url(&self.provisioned.queue_url)
                    .max_number_of_messages(10)
                    .wait_time_seconds(1)
                    .send()
                    .await
                    .expect("ReceiveMessage");
                let messages = page.messages.unwrap_or_default();
                if messages.is_empty() {
                    return reports;
                }
                for message in messages {
                    reports.push(
                        serde_json::from_str(message.body().unwrap_or_default())
                            .expect("a report is JSON"),
                    );
                    self.aws
                        .sqs
                        .delete_message()
                        .queue_url(&self.provisioned.queue_url)
                        .receipt_handle(message.receipt_handle().unwrap_or_default())
                        .send()
                        .await
                        .expect("DeleteMessage");
                }
            }
        })
    }

    /// `purgeflow local --once` with this state dir, `extra` flags and `topic_arn`.
    fn run(&self, topic_arn: &str, extra: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_purgeflow"))
            .args(["local", "--once", "--batch-size", "100", "--state-dir"])
            .arg(&self.state_dir)
            .args(extra)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("PURGE_TABLE_NAME", TABLE)
            .env("PURGE_BUCKET", BUCKET)
            .env("PURGE_KEY_TEMPLATE", "{image_key}")
            .env("PURGE_KEY_PREFIX", "images/")
            .env("PURGE_DISTRIBUTION_ID", &self.provisioned.distribution_id)
            .env("PURGE_TOPIC_ARN", topic_arn)
            .env(
                "PURGE_DEFERRAL_QUEUE_URL",
                &self.provisioned.deferral_queue_url,
            )
            .env("PURGE_MAC_KEY_ID", &self.provisioned.mac_key_id)
            .output()
            .expect("the purgeflow binary runs")
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.state_dir);
        }
    }
}

fn config(vars: &[(&str, &str)]) -> Config {
    Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .expect("a valid configuration")
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The `--json` run's summary line.
fn summary(output: &Output) -> Value {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["event"] == "summary")
        .unwrap_or_else(|| panic!("no summary line: {}", text(output)))
}

/// The on-failure store's file in a state dir, and its records.
struct OnFailure;

impl OnFailure {
    fn path(state_dir: &std::path::Path) -> PathBuf {
        state_dir.join("on-failure").join("records.jsonl")
    }

    fn records(state_dir: &std::path::Path) -> Vec<Value> {
        std::fs::read_to_string(Self::path(state_dir))
            .expect("the on-failure store exists")
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object a line"))
            .collect()
    }
}

fn photo(n: u32) -> (String, String) {
    (format!("p{n:02}"), format!("images/p{n:02}.jpg"))
}

#[test]
fn an_oversized_record_is_reported_by_name_and_the_rest_of_its_batch_is_purged() {
    let env = Env::start("oversized");
    // 210,000 bytes of key: far over S3's 1,024, and over the 200 KiB an execution input may
    // hold, so no execution can carry the record as it is.
    let oversized = format!("images/{}.jpg", "k".repeat(210_000));
    for n in 1..=10 {
        let (id, key) = photo(n);
        env.put_photo(&id, &key, true);
    }
    env.put_photo("oversized", &oversized, false);
    let order: Vec<String> = (1..=5)
        .map(|n| photo(n).0)
        .chain(["oversized".to_owned()])
        .chain((6..=10).map(|n| photo(n).0))
        .collect();
    env.delete_items(&order.iter().map(String::as_str).collect::<Vec<_>>());

    let first = env.run(&env.provisioned.topic_arn, &["--json"]);
    assert_eq!(
        env.keys(),
        BTreeSet::new(),
        "every good record of the batch is purged, before and after the oversized one: {}",
        text(&first)
    );
    assert_eq!(
        first.status.code(),
        Some(0),
        "nothing went to the on-failure store: {}",
        text(&first)
    );
    let reports = env.reports();
    let rejections: Vec<(String, String)> = reports
        .iter()
        .flat_map(|r| r["rejections"].as_array().cloned().unwrap_or_default())
        .map(|r| {
            (
                r["keys"][KEY]["S"].as_str().unwrap_or_default().to_owned(),
                r["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rejections,
        [("oversized".to_owned(), "UnsafeKey".to_owned())],
        "the oversized record is reported by name: {reports:#?}\n{}",
        text(&first)
    );
    let detail = reports[0]["rejections"][0]["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(detail.contains("longer than 1024 bytes"), "{detail}");
    assert!(detail.len() < 2_000, "the detail is cut: {}", detail.len());

    let counted = summary(&first);
    assert_eq!(
        (&counted["rejectedTooLarge"], &counted["onFailure"]),
        (&Value::from(1), &Value::from(0)),
        "{counted}"
    );
    assert!(
        !OnFailure::path(&env.state_dir).exists(),
        "nothing was kept in the on-failure store"
    );

    // Nothing was left unread behind the checkpoint: a restart finds nothing new.
    let second = env.run(&env.provisioned.topic_arn, &["--json"]);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    assert_eq!(summary(&second)["streamRecords"], 0, "{}", text(&second));
}

/// The execution holding a `..` key can't publish its failure report (the topic does not
/// exist), so that record would be neither purged nor reported. It is retried, bisected out of
/// its batch and kept in the on-failure store with its error, shard and sequence number; the
/// good records are purged; the summary names the file and the exit code is 3. A restart that
/// reads the batch again (its checkpoint lost) does not store the record twice.
#[test]
fn a_record_that_cannot_be_reported_is_kept_in_the_on_failure_store_once() {
    let env = Env::start("unreported");
    for n in 1..=6 {
        let (id, key) = photo(n);
        env.put_photo(&id, &key, true);
    }
    env.put_photo("escape", "images/../private/x.jpg", false);
    env.delete_items(&["p01", "p02", "p03", "escape", "p04", "p05", "p06"]);
    let no_topic = "arn:aws:sns:us-east-1:123456789012:no-such-topic";

    let first = env.run(no_topic, &[]);
    let out = text(&first);
    assert_eq!(first.status.code(), Some(3), "{out}");
    assert_eq!(
        env.keys(),
        BTreeSet::new(),
        "the good records are purged: {out}"
    );
    let store = OnFailure::path(&env.state_dir);
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        stdout.contains(&format!(
            "1 record(s) could not be handed over after 2 retries and bisection: kept in the on-failure store {}",
            store.display()
        )),
        "{out}"
    );
    let stored = OnFailure::records(&env.state_dir);
    assert_eq!(stored.len(), 1, "{stored:#?}");
    let kept = &stored[0];
    assert_eq!(
        kept["record"]["dynamodb"]["Keys"][KEY]["S"], "escape",
        "{kept}"
    );
    assert_eq!(
        kept["sequenceNumber"], kept["record"]["dynamodb"]["SequenceNumber"],
        "{kept}"
    );
    assert_eq!(kept["eventId"], kept["record"]["eventID"], "{kept}");
    assert!(
        kept["shardId"].as_str().is_some_and(|s| !s.is_empty()),
        "{kept}"
    );
    assert!(
        kept["streamArn"]
            .as_str()
            .is_some_and(|s| s.contains(TABLE)),
        "{kept}"
    );
    let error = kept["error"].as_str().unwrap_or_default();
    assert!(
        !error.is_empty() && error != "PurgeIncomplete",
        "the error is named: {kept}"
    );
    assert_eq!(kept["attempts"], 3, "{kept}");
    assert!(
        chrono::DateTime::parse_from_rfc3339(kept["storedAt"].as_str().unwrap_or_default()).is_ok(),
        "{kept}"
    );

    // As if the run had stopped between storing the record and moving the checkpoint: the
    // batch is read again, and the record is found in the store, not written twice.
    std::fs::remove_file(env.state_dir.join("checkpoints.json")).expect("checkpoints");
    let again = env.run(no_topic, &["--start-at", "oldest", "--json"]);
    assert_eq!(again.status.code(), Some(3), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("already in the on-failure store"),
        "{}",
        text(&again)
    );
    assert_eq!(summary(&again)["onFailure"], 1, "{}", text(&again));
    assert_eq!(OnFailure::records(&env.state_dir), stored);

    // With its checkpoint in place, nothing is read again and nothing is kept: exit 0.
    let third = env.run(no_topic, &["--json"]);
    assert_eq!(third.status.code(), Some(0), "{}", text(&third));
    assert_eq!(summary(&third)["streamRecords"], 0, "{}", text(&third));
    assert_eq!(OnFailure::records(&env.state_dir), stored);
}
