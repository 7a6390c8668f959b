//! `purgeflow local`: the purge pipeline on one machine, against a local endpoint (moto) or an
//! AWS account.
//!
//! It reads the same `PURGE_*` variables as the Lambdas, plus the standard `AWS_ENDPOINT_URL`,
//! polls the table's stream ([`stream`]) with checkpoints ([`checkpoints`]), runs each batch
//! through the trigger's code and the purge state machine on the engine ([`pipeline`],
//! [`runner`]), and prints each execution as it finishes ([`output`]). `--provision`
//! ([`provision()`]) creates whatever is missing first.

pub mod aws;
pub mod checkpoints;
pub mod cloudfront_limits;
pub mod delivery;
pub mod dispatcher;
pub mod moto;
pub mod on_failure;
pub mod output;
pub mod pipeline;
pub mod provision;
pub mod provisioned_file;
pub mod runner;
pub mod stream;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use purgeflow_tasks::config::{Config, Var};

use crate::local::aws::AwsClients;
use crate::local::checkpoints::CheckpointStore;
use crate::local::cloudfront_limits::CloudFrontLimits;
use crate::local::dispatcher::{LocalDispatcher, Running};
use crate::local::on_failure::OnFailureStore;
use crate::local::output::{OutputMode, Printer};
use crate::local::pipeline::{Pipeline, TimeMode, purge_machine_for};
use crate::local::provision::{Provisioned, Wanted, provision, topic_name};
use crate::local::runner::{RunOptions, RunSummary, run_stream};
use crate::local::stream::StreamPoller;
use purgeflow_tasks::dispatch::Dispatcher;

/// The topic created by `--provision` when `PURGE_TOPIC_ARN` is unset.
pub const DEFAULT_TOPIC_NAME: &str = "purgeflow-failures";
/// The deferral queue `--provision` creates, and a run without `PURGE_DEFERRAL_QUEUE_URL` uses.
pub const DEFAULT_DEFERRAL_QUEUE_NAME: &str = "purgeflow-deferred";

/// `purgeflow local`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Create whatever is missing first: the table (with a NEW_AND_OLD_IMAGES stream), the
    /// bucket, a distribution, the topic, a failure queue subscribed to it, and the deferral
    /// queue (`purgeflow-deferred`, unless PURGE_DEFERRAL_QUEUE_URL names one). Safe to repeat.
    #[arg(long)]
    pub provision: bool,
    /// Drain what is in the stream, wait for every execution to finish, and exit.
    #[arg(long)]
    pub once: bool,
    /// Print one JSON object per line instead of readable lines.
    #[arg(long)]
    pub json: bool,
    /// Where checkpoints (`checkpoints.json`) and what `--provision` made (`provisioned.json`)
    /// are kept.
    #[arg(long, value_name = "DIR", default_value = ".local")]
    pub state_dir: PathBuf,
    /// Where a new state directory starts reading the stream: `now` (deletes from its first
    /// run on, a minute's margin for clock skew) or `oldest` (everything the stream still holds,
    /// up to 24 hours, including what another state directory may have purged already). A state
    /// directory that has read the stream resumes from its checkpoints either way.
    #[arg(long, value_enum, default_value_t = StartAt::Now)]
    pub start_at: StartAt,
    /// The endpoint to call (default: `AWS_ENDPOINT_URL`, else AWS itself).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Simulate Retry backoffs and Wait states instead of waiting them out. By default they
    /// are waited out for real against AWS itself (no endpoint set), so throttling and
    /// CloudFront's TooManyInvalidationsInProgress are retried as Step Functions would, and
    /// simulated against an endpoint such as a local stand-in.
    #[arg(long)]
    pub virtual_time: bool,
    /// Records per GetRecords call (1-1000), as an event source mapping's batch size.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub batch_size: i32,
    /// Pause between polls that found nothing, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub poll_interval_ms: u64,
    /// Executions of one batch run side by side.
    #[arg(long, default_value_t = pipeline::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// `--provision`: the new table's partition key (a string attribute).
    #[arg(long, value_name = "NAME", default_value = "id")]
    pub partition_key: String,
    /// `--provision`: the failure queue's name.
    #[arg(long, value_name = "NAME", default_value = "purgeflow-failures")]
    pub queue_name: String,
    /// `--provision`: create the bucket with S3 Object Lock (versioned).
    #[arg(long)]
    pub object_lock: bool,
    /// Enforce CloudFront's in-progress limits in front of the endpoint, which moto does not:
    /// an invalidation stays in progress `--invalidation-seconds`, and one that would put more
    /// than 3,000 file paths or 15 wildcards in progress is refused with
    /// TooManyInvalidationsInProgress (`local/cloudfront_limits.rs`).
    #[arg(long)]
    pub cloudfront_limits: bool,
    /// With `--cloudfront-limits`: how long an invalidation stays in progress.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 25,
        requires = "cloudfront_limits"
    )]
    pub invalidation_seconds: u64,
}

/// Where a new state directory starts reading the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StartAt {
    /// Records made from the first run on (pinned in the checkpoints file).
    Now,
    /// The trim horizon: every record the stream still holds.
    Oldest,
}

/// How far before the first run a `now` start reaches back: stream records carry the server's
/// clock, rounded down to the second, and this machine's clock may differ. Records in the
/// margin are purged again at worst, which every step tolerates; none is skipped.
pub const START_CLOCK_MARGIN: Duration = Duration::from_secs(60);

/// What `--provision` creates besides what `PURGE_*` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionOptions {
    pub partition_key: String,
    pub queue_name: String,
    pub object_lock: bool,
}

/// The resources a run uses, found or provisioned.
#[derive(Debug, Clone)]
pub struct Connected {
    /// The configuration, completed with what was provisioned.
    pub config: Config,
    pub stream_arn: String,
    /// Set when `--provision` ran.
    pub provisioned: Option<Provisioned>,
}

/// Finds the table's stream, provisioning first when asked; fills `config`'s distribution and
/// topic from what was provisioned when they were unset.
pub async fn connect(
    aws: &AwsClients,
    mut config: Config,
    provision_options: Option<&ProvisionOptions>,
) -> anyhow::Result<Connected> {
    // Every variable the run needs is checked before anything is described or created.
    config.require(Config::local_requirements(provision_options.is_some()))?;
    if provision_options.is_none() {
        config.require_mac_key()?;
    }
    let table = config.table_name()?.to_owned();
    let Some(options) = provision_options else {
        let endpoint = aws.endpoint();
        let described = aws
            .dynamodb
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .with_context(|| format!("cannot describe table {table} at {endpoint} (is the endpoint up, the table there? --provision creates it)"))?;
        let stream_arn = described
            .table
            .and_then(|t| t.latest_stream_arn)
            .with_context(|| {
                format!(
                    "table {table} has no stream; --provision enables a NEW_AND_OLD_IMAGES stream"
                )
            })?;
        if config.deferral_queue_url.is_none() {
            config.deferral_queue_url = Some(find_deferral_queue(aws).await?);
        }
        return Ok(Connected {
            config,
            stream_arn,
            provisioned: None,
        });
    };
    let wanted = Wanted {
        table,
        partition_key: options.partition_key.clone(),
        bucket: config.bucket()?.to_owned(),
        object_lock: options.object_lock,
        distribution_id: config.distribution_id.clone(),
        topic_name: config
            .topic_arn
            .as_deref()
            .and_then(topic_name)
            .unwrap_or(DEFAULT_TOPIC_NAME)
            .to_owned(),
        queue_name: options.queue_name.clone(),
        deferral_queue_name: config
            .deferral_queue_url
            .as_deref()
            .and_then(|url| url.rsplit('/').next())
            .unwrap_or(DEFAULT_DEFERRAL_QUEUE_NAME)
            .to_owned(),
        mac_key_id: config.mac_key_id.clone(),
    };
    let provisioned = provision(aws, &wanted).await?;
    config.mac_key_id = Some(provisioned.mac_key_id.clone());
    config.distribution_id = Some(provisioned.distribution_id.clone());
    config.topic_arn = Some(provisioned.topic_arn.clone());
    config.deferral_queue_url = Some(provisioned.deferral_queue_url.clone());
    Ok(Connected {
        config,
        stream_arn: provisioned.stream_arn.clone(),
        provisioned: Some(provisioned),
    })
}

/// The URL of the queue named [`DEFAULT_DEFERRAL_QUEUE_NAME`], for a run that neither names a
/// deferral queue nor provisions one: without it, a batch CloudFront refuses could not be deferred.
pub async fn find_deferral_queue(aws: &AwsClients) -> anyhow::Result<String> {
    aws.sqs
        .get_queue_url()
        .queue_name(DEFAULT_DEFERRAL_QUEUE_NAME)
        .send()
        .await
        .with_context(|| {
            format!(
                "no deferral queue: set PURGE_DEFERRAL_QUEUE_URL, or run with --provision to create {DEFAULT_DEFERRAL_QUEUE_NAME} at {}",
                aws.endpoint()
            )
        })?
        .queue_url
        .context("GetQueueUrl answered without a QueueUrl")
}

/// The checkpoints file inside a state directory.
pub fn checkpoints_path(state_dir: &Path) -> PathBuf {
    state_dir.join("checkpoints.json")
}

/// Everything after [`connect`]: handlers, poller, loop.
pub async fn run_connected(
    aws: &AwsClients,
    connected: &Connected,
    state_dir: &Path,
    batch_size: i32,
    concurrency: usize,
    options: &RunOptions,
    printer: &Printer,
) -> anyhow::Result<RunSummary> {
    let pipeline = Pipeline::new(
        purge_machine_for(&connected.config)?,
        aws.task_clients(connected.config.check_superseded),
        connected.config.clone(),
    )?
    .with_concurrency(concurrency)
    .with_time_mode(options.time_mode);
    let checkpoints = CheckpointStore::load(&checkpoints_path(state_dir))?;
    let mut poller = StreamPoller::new(
        aws.streams.clone(),
        &connected.stream_arn,
        checkpoints,
        batch_size,
    );
    // The dispatcher drains the deferral queue beside the executions, as its Lambda does in
    // AWS; with --once it goes on until the queue is empty, so a run ends with nothing deferred.
    let dispatching = match &connected.config.deferral_queue_url {
        Some(queue_url) => Some(Running::start(
            LocalDispatcher {
                aws: aws.clone(),
                queue_url: queue_url.clone(),
                dispatcher: Dispatcher::from_config(&connected.config, Some(aws.kms.clone()))
                    .context("the dispatcher needs PURGE_DISTRIBUTION_ID, PURGE_TOPIC_ARN and PURGE_MAC_KEY_ID")?,
                retry_seconds: connected.config.dispatch.retry_seconds,
                extra_messages: connected.config.dispatch.extra_messages,
            },
            *printer,
            options.poll_interval,
        )),
        None => None,
    };
    let mut store = OnFailureStore::load(state_dir)?;
    let summary = run_stream(&mut poller, &pipeline, &mut store, options, printer).await?;
    if let Some(dispatching) = dispatching {
        let totals = dispatching.drain().await?;
        printer.note(&format!(
            "dispatcher: {} round(s), {} invalidation(s) covering {} deferred batch(es), {} refused by CloudFront, {} reported as too old, {} malformed",
            totals.rounds, totals.invalidations, totals.covered, totals.refused, totals.expired, totals.malformed
        ));
    }
    Ok(summary)
}

/// On a state directory new to this stream, pins where reading starts (`--start-at`).
fn pin_start(args: &Args, stream_arn: &str, printer: &Printer) -> anyhow::Result<()> {
    let mut checkpoints = CheckpointStore::load(&checkpoints_path(&args.state_dir))?;
    if !checkpoints.is_new(stream_arn) {
        return Ok(());
    }
    match args.start_at {
        StartAt::Oldest => {
            // Pinned too, at the epoch: a later run does not start over at "now".
            checkpoints.pin_start(stream_arn, 0.0)?;
            printer.note(
                "new state dir: reading the stream from its oldest record (--start-at oldest)",
            );
        }
        StartAt::Now => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .context("the clock is before 1970")?;
            let start = now.saturating_sub(START_CLOCK_MARGIN);
            checkpoints.pin_start(stream_arn, start.as_secs_f64())?;
            printer.note(&format!(
                "new state dir: purging deletes from {} on (a minute before this first run); --start-at oldest also reads what the stream held before",
                chrono::DateTime::<chrono::Utc>::from(std::time::UNIX_EPOCH + start)
                    .format("%Y-%m-%d %H:%M:%S UTC")
            ));
        }
    }
    Ok(())
}

/// `purgeflow local`: exits 0 when the pipeline ran, failures reported or not; an error when the
/// configuration or the endpoint is broken.
pub async fn run(args: Args) -> anyhow::Result<RunSummary> {
    let mut config = Config::from_env().context("the PURGE_* configuration is invalid")?;
    let filled_in = match provisioned_file::load(&args.state_dir)? {
        Some(remembered) => provisioned_file::fill_in(&mut config, &remembered),
        None => None,
    };
    // Every unset variable at once, before any call; --provision makes the distribution and
    // the topic when they are unset.
    let mut required = vec![Var::TableName, Var::Bucket, Var::KeyTemplate];
    if !args.provision {
        required.extend([Var::DistributionId, Var::TopicArn]);
    }
    // The MAC key: PURGE_MAC_KEY_ID, or what --provision creates (alias/purgeflow-mac).
    if !args.provision && !config.allow_unsigned_inputs {
        required.push(Var::MacKeyId);
    }
    config.require(&required).with_context(|| {
        if args.provision {
            "the PURGE_* configuration is incomplete".to_owned()
        } else {
            format!(
                "the PURGE_* configuration is incomplete (--provision creates the distribution and topic and remembers them in {})",
                provisioned_file::provisioned_path(&args.state_dir).display()
            )
        }
    })?;
    let sdk = aws::sdk_config(args.endpoint_url.as_deref()).await;
    // Every request is counted and listed at the end, stream reads included.
    let calls = aws::CallCounter::new();
    let mut aws = AwsClients::with_interceptor(&sdk, Some(calls.shared()));
    let limits = args
        .cloudfront_limits
        .then(|| CloudFrontLimits::new(Duration::from_secs(args.invalidation_seconds)));
    if let Some(limits) = &limits {
        aws.cloudfront = limits.client(&sdk, Some(calls.shared()))?;
    }
    let provision_options = args.provision.then(|| ProvisionOptions {
        partition_key: args.partition_key.clone(),
        queue_name: args.queue_name.clone(),
        object_lock: args.object_lock,
    });
    let connected = connect(&aws, config, provision_options.as_ref()).await?;
    let printer = Printer::new(if args.json {
        OutputMode::Json
    } else {
        OutputMode::Human
    });
    if let Some(note) = &filled_in {
        printer.note(&format!(
            "using {note}, provisioned earlier ({})",
            provisioned_file::provisioned_path(&args.state_dir).display()
        ));
    }
    if let Some(p) = &connected.provisioned {
        printer.note(&format!(
            "provisioned: table {} (stream {}), bucket {}, distribution {}, topic {}, failure queue {}, deferral queue {}",
            p.table, p.stream_arn, p.bucket, p.distribution_id, p.topic_arn, p.queue_url, p.deferral_queue_url
        ));
        let saved = provisioned_file::save(&args.state_dir, p)?;
        printer.note(&format!(
            "remembered in {}: the next `purgeflow local` with this state dir uses them; elsewhere, set\n{}",
            saved.display(),
            provisioned_file::export_lines(p)
        ));
    }
    pin_start(&args, &connected.stream_arn, &printer)?;
    printer.note(&format!(
        "reading {} from {}; checkpoints in {}",
        connected.stream_arn,
        sdk.endpoint_url().unwrap_or("AWS"),
        checkpoints_path(&args.state_dir).display()
    ));
    let time_mode = TimeMode::decide(args.virtual_time, sdk.endpoint_url());
    printer.note(time_mode.describe());
    let options = RunOptions {
        once: args.once,
        poll_interval: Duration::from_millis(args.poll_interval_ms),
        stop_after_batches: None,
        time_mode,
    };
    let summary = run_connected(
        &aws,
        &connected,
        &args.state_dir,
        args.batch_size,
        args.concurrency,
        &options,
        &printer,
    )
    .await?;
    if let Some(limits) = &limits {
        printer.note(&format!(
            "CloudFront limits: {} CreateInvalidation request(s) refused as TooManyInvalidationsInProgress",
            limits.refused()
        ));
    }
    printer.calls(&calls.snapshot());
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .expect("a valid configuration")
    }

    async fn unreachable_endpoint() -> AwsClients {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        AwsClients::new(&aws::sdk_config(Some("http://127.0.0.1:1")).await)
    }

    #[tokio::test]
    async fn a_broken_endpoint_is_named_with_what_to_check() {
        let aws = unreachable_endpoint().await;
        let complete = config(&[
            ("PURGE_TABLE_NAME", "photos"),
            ("PURGE_BUCKET", "photo-bucket"),
            ("PURGE_KEY_TEMPLATE", "{image_key}"),
            ("PURGE_DISTRIBUTION_ID", "E2QWRUHEXAMPLE"),
            (
                "PURGE_TOPIC_ARN",
                "arn:aws:sns:us-east-1:000000000000:purge-failures",
            ),
            (
                "PURGE_MAC_KEY_ID",
                "arn:aws:kms:us-east-1:000000000000:key/beef",
            ),
        ]);
        let error = connect(&aws, complete, None)
            .await
            .expect_err("nothing listens there");
        let message = format!("{error:#}");
        assert!(
            message.contains("cannot describe table photos at http://127.0.0.1:1"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_missing_table_name_is_named_before_any_call() {
        let aws = unreachable_endpoint().await;
        let error = connect(&aws, config(&[]), None)
            .await
            .expect_err("no table");
        assert!(
            format!("{error:#}").contains("PURGE_TABLE_NAME"),
            "{error:#}"
        );
    }

    /// `--provision` used to create the table, bucket, distribution, topic and queue, and only
    /// then fail on a missing key template. Nothing listens on the endpoint here: an error that
    /// names the variable proves no call was tried.
    #[tokio::test]
    async fn provision_checks_every_required_variable_before_creating_anything() {
        let aws = unreachable_endpoint().await;
        let options = ProvisionOptions {
            partition_key: "image_key".to_owned(),
            queue_name: "purge-failures".to_owned(),
            object_lock: false,
        };
        for (vars, missing) in [
            (
                &[
                    ("PURGE_TABLE_NAME", "photos"),
                    ("PURGE_BUCKET", "photo-bucket"),
                ][..],
                "PURGE_KEY_TEMPLATE",
            ),
            (
                &[
                    ("PURGE_TABLE_NAME", "photos"),
                    ("PURGE_KEY_TEMPLATE", "{image_key}"),
                ][..],
                "PURGE_BUCKET",
            ),
        ] {
            let error = connect(&aws, config(vars), Some(&options))
                .await
                .expect_err("a variable is missing");
            let message = format!("{error:#}");
            assert!(
                message.contains(&format!("{missing} is not set")),
                "{message}"
            );
        }
        // Without --provision the distribution and the topic are needed too, before any call.
        let error = connect(
            &aws,
            config(&[
                ("PURGE_TABLE_NAME", "photos"),
                ("PURGE_BUCKET", "photo-bucket"),
                ("PURGE_KEY_TEMPLATE", "{image_key}"),
            ]),
            None,
        )
        .await
        .expect_err("no distribution");
        let message = format!("{error:#}");
        assert!(
            message.contains("PURGE_DISTRIBUTION_ID") && message.contains("PURGE_TOPIC_ARN"),
            "{message}"
        );
    }

    #[test]
    fn checkpoints_live_in_the_state_directory() {
        assert_eq!(
            checkpoints_path(Path::new(".local")),
            Path::new(".local/checkpoints.json")
        );
    }
}
