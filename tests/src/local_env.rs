//! A local AWS for the `local_*` integration tests and the `local_purge` benchmark: a moto
//! server of its own (started here, stopped when dropped), SDK clients pointing at it, and
//! helpers that set up and read back the end state through the AWS APIs.
//!
//! Each test process starts its own moto on a free port, so nextest's parallel processes never
//! share state.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;
use purgeflow_cli::local::aws::{AwsClients, CallCounter, sdk_config};
use purgeflow_cli::local::moto::MotoServer;
use purgeflow_tasks::config::Config;
use serde_json::Value;

/// The partition key of the tables the tests create.
pub const PARTITION_KEY: &str = "photo_id";

/// One moto server and clients for it.
#[derive(Debug)]
pub struct LocalEnv {
    pub aws: AwsClients,
    /// Counts every request the clients send.
    pub calls: CallCounter,
    pub endpoint_url: String,
    /// This test's own state directory (checkpoints, replay files), emptied at start.
    pub state_dir: PathBuf,
    // Last, so the clients are dropped before the server stops.
    pub moto: MotoServer,
}

/// A passing test leaves nothing behind; a failing one keeps its state directory to look at.
impl Drop for LocalEnv {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.state_dir);
        }
    }
}

impl LocalEnv {
    /// Starts moto (installing it first when missing). Panics with what to do when it can't.
    pub async fn start(test_name: &str) -> LocalEnv {
        let moto = tokio::task::spawn_blocking(MotoServer::start)
            .await
            .expect("the moto start-up thread")
            .unwrap_or_else(|error| {
                panic!(
                    "the local_* tests need moto (PyPI moto[server]) in .venv/moto, installed with python3 -m venv and pip; \
                     it could not be installed or started: {error:#}"
                )
            });
        let endpoint_url = moto.endpoint_url();
        let sdk = sdk_config(Some(&endpoint_url)).await;
        let calls = CallCounter::new();
        let aws = AwsClients::with_interceptor(&sdk, Some(calls.shared()));
        let state_dir =
            crate::repo::path(&format!(".local/tests/{test_name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state_dir);
        LocalEnv {
            aws,
            calls,
            endpoint_url,
            state_dir,
            moto,
        }
    }

    /// A configuration from `PURGE_*` pairs.
    pub fn config(vars: &[(&str, &str)]) -> Config {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned()).expect("a valid test configuration")
    }

    pub async fn put_object(&self, bucket: &str, key: &str) {
        self.aws
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(format!("bytes of {key}").into_bytes()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutObject {key}: {e:?}"));
    }

    /// An item `{photo_id: id, image_key: key}`.
    pub async fn put_item(&self, table: &str, id: &str, image_key: &str) {
        self.aws
            .dynamodb
            .put_item()
            .table_name(table)
            .item(PARTITION_KEY, AttributeValue::S(id.to_owned()))
            .item("image_key", AttributeValue::S(image_key.to_owned()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutItem {id}: {e:?}"));
    }

    /// The object and its item.
    pub async fn put_photo(&self, table: &str, bucket: &str, id: &str, key: &str) {
        self.put_object(bucket, key).await;
        self.put_item(table, id, key).await;
    }

    pub async fn delete_item(&self, table: &str, id: &str) {
        self.aws
            .dynamodb
            .delete_item()
            .table_name(table)
            .key(PARTITION_KEY, AttributeValue::S(id.to_owned()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("DeleteItem {id}: {e:?}"));
    }

    /// Deletes items 25 at a time (BatchWriteItem), as a bulk delete by an application would.
    pub async fn delete_items(&self, table: &str, ids: &[String]) {
        use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
        for chunk in ids.chunks(25) {
            let requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|id| {
                    WriteRequest::builder()
                        .delete_request(
                            DeleteRequest::builder()
                                .key(PARTITION_KEY, AttributeValue::S(id.clone()))
                                .build()
                                .expect("a delete request"),
                        )
                        .build()
                })
                .collect();
            let answer = self
                .aws
                .dynamodb
                .batch_write_item()
                .request_items(table, requests)
                .send()
                .await
                .unwrap_or_else(|e| panic!("BatchWriteItem: {e:?}"));
            assert!(
                answer.unprocessed_items().is_none_or(|u| u.is_empty()),
                "moto left items unprocessed: {answer:?}"
            );
        }
    }

    /// Puts items 25 at a time.
    pub async fn put_items(&self, table: &str, items: &[(String, String)]) {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        for chunk in items.chunks(25) {
            let requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|(id, key)| {
                    WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .item(PARTITION_KEY, AttributeValue::S(id.clone()))
                                .item("image_key", AttributeValue::S(key.clone()))
                                .build()
                                .expect("a put request"),
                        )
                        .build()
                })
                .collect();
            self.aws
                .dynamodb
                .batch_write_item()
                .request_items(table, requests)
                .send()
                .await
                .unwrap_or_else(|e| panic!("BatchWriteItem: {e:?}"));
        }
    }

    /// The keys of the objects in `bucket` now (current versions).
    pub async fn keys(&self, bucket: &str) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        let mut pages = self
            .aws
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.unwrap_or_else(|e| panic!("ListObjectsV2 {bucket}: {e:?}"));
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        keys
    }

    /// Every invalidation of the distribution, each as its paths (every page of
    /// ListInvalidations, then GetInvalidation for each).
    pub async fn invalidations(&self, distribution_id: &str) -> Vec<Vec<String>> {
        let mut ids = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let listed = self
                .aws
                .cloudfront
                .list_invalidations()
                .distribution_id(distribution_id)
                .max_items(1000)
                .set_marker(marker.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("ListInvalidations: {e:?}"));
            let Some(list) = listed.invalidation_list() else {
                break;
            };
            ids.extend(list.items().iter().map(|summary| summary.id().to_owned()));
            let next = list.next_marker().map(str::to_owned);
            if !list.is_truncated() || next.is_none() || next == marker {
                break;
            }
            marker = next;
        }
        let mut all = Vec::new();
        for id in ids {
            let invalidation = self
                .aws
                .cloudfront
                .get_invalidation()
                .distribution_id(distribution_id)
                .id(id)
                .send()
                .await
                .unwrap_or_else(|e| panic!("GetInvalidation: {e:?}"))
                .invalidation
                .expect("an invalidation");
            let mut paths: Vec<String> = invalidation
                .invalidation_batch()
                .and_then(|b| b.paths())
                .map(|p| p.items().to_vec())
                .unwrap_or_default();
            paths.sort();
            all.push(paths);
        }
        all
    }

    /// Receives and deletes every message on the queue: the failure reports, parsed.
    /// Messages on a queue, visible or in flight (SQS's approximate counts).
    pub async fn queue_depth(&self, queue_url: &str) -> u64 {
        let attributes = self
            .aws
            .sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names("ApproximateNumberOfMessages".into())
            .attribute_names("ApproximateNumberOfMessagesNotVisible".into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetQueueAttributes: {e:?}"))
            .attributes
            .unwrap_or_default();
        attributes
            .values()
            .filter_map(|v| v.parse::<u64>().ok())
            .sum()
    }

    pub async fn drain_reports(&self, queue_url: &str) -> Vec<Value> {
        let mut reports = Vec::new();
        loop {
            let page = self
                .aws
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap_or_else(|e| panic!("ReceiveMessage: {e:?}"));
            let messages = page.messages.unwrap_or_default();
            if messages.is_empty() {
                return reports;
            }
            for message in messages {
                let body = message.body.as_deref().unwrap_or_default();
                reports.push(
                    serde_json::from_str(body)
                        .unwrap_or_else(|e| panic!("report is not JSON ({e}): {body}")),
                );
                if let Some(receipt) = &message.receipt_handle {
                    self.aws
                        .sqs
                        .delete_message()
                        .queue_url(queue_url)
                        .receipt_handle(receipt)
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("DeleteMessage: {e:?}"));
                }
            }
        }
    }
}
