//! What a simulated storm is: the deletes, the stream, Step Functions and Lambda, CloudFront.
//! Every field is a `purgeflow simulate` flag; the defaults are the deployed ones (CDK) and
//! CloudFront's published limits.

use clap::ValueEnum;

/// Where the deleted objects sit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Layout {
    /// Many users, a photo or two each (`photos/u<user>/p<i>.jpg`).
    Spread,
    /// A few big directories (`photos/album<0..4>/p<i>.jpg`).
    Crowded,
}

/// How an execution's paths become invalidations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Policy {
    /// Every path on its own, no folding, retries resend the same batch.
    PerPath,
    /// One wildcard per path template over the whole purge area (`/photos/*`, ...), per
    /// execution.
    All,
    /// What purgeflow deploys: BatchPaths' fold policy, and folding harder under pressure.
    Purgeflow,
}

impl Policy {
    pub const ALL: [Policy; 3] = [Policy::PerPath, Policy::All, Policy::Purgeflow];

    pub fn name(self) -> &'static str {
        match self {
            Policy::PerPath => "per-path",
            Policy::All => "all",
            Policy::Purgeflow => "purgeflow",
        }
    }
}

/// One storm.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub seed: u64,
    pub deletes: usize,
    /// The deletes are spread evenly over this many seconds.
    pub duration_s: f64,
    pub layout: Layout,
    /// CDN paths per object (`/{key}`, `/thumbs/{key}`, ...).
    pub paths_per_object: usize,
    /// Stream shards.
    pub shards: usize,
    /// Event source mapping: records per trigger invocation at most.
    pub batch_size: usize,
    /// Event source mapping: how long it gathers records before invoking with fewer.
    pub batching_window_s: f64,
    /// Event source mapping: concurrent batches per shard.
    pub parallelization_factor: usize,
    /// How often the event source mapping polls each shard.
    pub poll_interval_s: f64,
    /// `PURGE_MAX_RECORDS_PER_EXECUTION`.
    pub max_records_per_execution: usize,
    /// `PURGE_PRESSURE_MAX_LEVEL` (the `purgeflow` policy).
    pub pressure_max_level: u32,
    /// Lambda concurrency available to the task functions.
    pub lambda_concurrency: usize,
    /// The trigger's run time per invocation.
    pub trigger_s: f64,
    /// ValidateRecords + DeleteObjects + BatchPaths, before the invalidations start.
    pub tasks_s: f64,
    /// One invalidate-cache invocation.
    pub invalidate_s: f64,
    /// CloudFront: an invalidation's time in progress is log-normal with this median...
    pub invalidation_median_s: f64,
    /// ...and this sigma (0: always the median).
    pub invalidation_sigma: f64,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            seed: 1,
            deletes: 1_000_000,
            duration_s: 600.0,
            layout: Layout::Spread,
            paths_per_object: 2,
            shards: 4,
            // The CDK app's event source mapping: batch size 100, 5 s window, factor 1.
            batch_size: 100,
            batching_window_s: 5.0,
            parallelization_factor: 1,
            poll_interval_s: 0.25,
            max_records_per_execution: 500,
            pressure_max_level: purgeflow_tasks::pressure::DEFAULT_MAX_LEVEL,
            lambda_concurrency: 1000,
            trigger_s: 0.05,
            tasks_s: 0.6,
            invalidate_s: 0.15,
            invalidation_median_s: 60.0,
            invalidation_sigma: 0.5,
        }
    }
}
