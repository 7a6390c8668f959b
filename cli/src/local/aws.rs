//! The SDK clients of a local run, built once from one SDK configuration.
//!
//! Against AWS the configuration is the default chain (environment, profile, instance role),
//! and `AWS_ENDPOINT_URL` is honoured by aws-config itself. Against a local endpoint (moto)
//! any credentials are accepted, so fixed test credentials are used when none are set, and S3
//! is addressed path-style (a local endpoint has no per-bucket host names).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// The region used when none is configured: moto's default.
pub const LOCAL_REGION: &str = "us-east-1";

/// Loads the SDK configuration. `endpoint_url`, when given, overrides `AWS_ENDPOINT_URL` and
/// means "a local endpoint": missing credentials and region get local defaults.
pub async fn sdk_config(endpoint_url: Option<&str>) -> SdkConfig {
    let endpoint_url = endpoint_url.map(str::to_owned).or_else(|| {
        std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .filter(|v| !v.is_empty())
    });
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = &endpoint_url {
        loader = loader.endpoint_url(url);
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(Credentials::new(
                "test",
                "test",
                None,
                None,
                "purgeflow-local",
            ));
        }
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            loader = loader.region(Region::new(LOCAL_REGION));
        }
    }
    loader.load().await
}

/// Whether the configuration points at a local endpoint rather than AWS.
pub fn is_local(config: &SdkConfig) -> bool {
    config.endpoint_url().is_some()
}

/// Every client a local run uses.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sfn: aws_sdk_sfn::Client,
    /// The MAC key's KMS (GenerateMac / VerifyMac; `--provision` creates the key).
    pub kms: aws_sdk_kms::Client,
    /// The endpoint every client calls; `None`: AWS.
    pub endpoint_url: Option<String>,
}

impl AwsClients {
    pub fn new(config: &SdkConfig) -> Self {
        Self::with_interceptor(config, None)
    }

    /// Clients that all report to `interceptor` (e.g. a [`CallCounter`]).
    pub fn with_interceptor(config: &SdkConfig, interceptor: Option<SharedInterceptor>) -> Self {
        macro_rules! client {
            ($sdk:ident $(, $extra:ident ($value:expr))*) => {{
                let mut builder = $sdk::config::Builder::from(config);
                $( builder = builder.$extra($value); )*
                if let Some(interceptor) = &interceptor {
                    builder.push_interceptor(interceptor.clone());
                }
                $sdk::Client::from_conf(builder.build())
            }};
        }
        AwsClients {
            s3: client!(aws_sdk_s3, force_path_style(is_local(config))),
            dynamodb: client!(aws_sdk_dynamodb),
            streams: client!(aws_sdk_dynamodbstreams),
            cloudfront: client!(aws_sdk_cloudfront),
            sns: client!(aws_sdk_sns),
            sqs: client!(aws_sdk_sqs),
            sfn: client!(aws_sdk_sfn),
            kms: client!(aws_sdk_kms),
            endpoint_url: config.endpoint_url().map(str::to_owned),
        }
    }

    /// Where requests go, for messages.
    pub fn endpoint(&self) -> &str {
        self.endpoint_url.as_deref().unwrap_or("AWS")
    }

    /// The clients the task handlers call.
    pub fn task_clients(&self, check_superseded: bool) -> crate::in_process::Clients {
        crate::in_process::Clients {
            s3: self.s3.clone(),
            cloudfront: self.cloudfront.clone(),
            sns: self.sns.clone(),
            sqs: self.sqs.clone(),
            dynamodb: check_superseded.then(|| self.dynamodb.clone()),
            kms: Some(self.kms.clone()),
        }
    }
}

/// Counts the HTTP requests every client sends, per `service:Operation` (retries count: each
/// is a request AWS bills and answers).
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    counts: Arc<Mutex<BTreeMap<(Origin, String), u64>>>,
}

/// Who made a call, where that matters for what it is counted as. Calls are marked by the code
/// that makes them ([`made_by`]), not guessed afterwards from their operation: the local
/// dispatcher's stop check and invalidate-cache's backlog gate both call SQS GetQueueAttributes
/// on the same queue, and only the gate's is purge work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Origin {
    /// Not marked: the task handlers, the engine's integrations, the stream poller, the tests.
    #[default]
    Unmarked,
    /// The local dispatcher's check that the deferral queue is empty before it stops: the local
    /// runner's bookkeeping, which the deployed dispatcher (an event source mapping) never does.
    LocalStopCheck,
}

tokio::task_local! {
    static ORIGIN: Origin;
}

/// Runs `future` with every AWS call it makes counted as `origin`'s (the counter's interceptor
/// runs inside the call's own future, so the mark follows the call wherever it is awaited).
pub async fn made_by<F: std::future::Future>(origin: Origin, future: F) -> F::Output {
    ORIGIN.scope(origin, future).await
}

impl CallCounter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn shared(&self) -> SharedInterceptor {
        SharedInterceptor::new(self.clone())
    }

    /// Requests so far, per operation, whoever made them.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        let mut totals = BTreeMap::new();
        for ((_, operation), n) in self.snapshot_by_origin() {
            *totals.entry(operation).or_default() += n;
        }
        totals
    }

    /// Requests so far, per origin and operation.
    pub fn snapshot_by_origin(&self) -> BTreeMap<(Origin, String), u64> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }

    pub fn reset(&self) {
        if let Ok(mut counts) = self.counts.lock() {
            counts.clear();
        }
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "purgeflow::CallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg.load::<Metadata>().map_or_else(
            || "unknown".to_owned(),
            |m| format!("{}:{}", m.service(), m.name()),
        );
        let origin = ORIGIN.try_with(|origin| *origin).unwrap_or_default();
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry((origin, operation)).or_default() += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_explicit_endpoint_is_local_with_a_region() {
        let config = sdk_config(Some("http://127.0.0.1:1")).await;
        assert!(is_local(&config));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:1"));
        assert!(config.region().is_some());
    }

    #[test]
    fn the_counter_starts_empty_and_resets() {
        let counter = CallCounter::new();
        assert_eq!(counter.total(), 0);
        if let Ok(mut counts) = counter.counts.lock() {
            counts.insert((Origin::Unmarked, "S3:DeleteObjects".into()), 2);
        }
        assert_eq!(counter.total(), 2);
        counter.reset();
        assert!(counter.snapshot().is_empty());
    }

    /// The mark follows the call: one GetQueueAttributes made inside `made_by` is the stop
    /// check's, one made outside is unmarked, and the per-operation totals hold both.
    #[tokio::test]
    async fn calls_are_counted_by_who_made_them() {
        use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesOutput;
        use aws_smithy_mocks::{RuleMode, mock, mock_client};
        let counter = CallCounter::new();
        let answer = || {
            mock!(aws_sdk_sqs::Client::get_queue_attributes)
                .then_output(|| GetQueueAttributesOutput::builder().build())
        };
        let (first, second) = (answer(), answer());
        let sqs = mock_client!(
            aws_sdk_sqs,
            RuleMode::Sequential,
            [&first, &second],
            |conf| conf.interceptor(counter.clone())
        );
        let read = || sqs.get_queue_attributes().queue_url("q").send();
        read().await.expect("answered");
        made_by(Origin::LocalStopCheck, read())
            .await
            .expect("answered");
        let operation = "SQS:GetQueueAttributes".to_owned();
        assert_eq!(
            counter.snapshot_by_origin(),
            BTreeMap::from([
                ((Origin::Unmarked, operation.clone()), 1),
                ((Origin::LocalStopCheck, operation.clone()), 1),
            ])
        );
        assert_eq!(counter.snapshot(), BTreeMap::from([(operation, 2)]));
    }
}
