//! What a simulated storm is: the deletes, the stream, Step Functions and Lambda, the deferral
//! queue and its dispatcher, CloudFront. Every field is a `purgeflow simulate` flag; the defaults
//! are the deployed ones (CDK) and CloudFront's published limits, except where a field says it is
//! an assumption.

use clap::ValueEnum;

/// The deferral queue's event source mapping batching window in the CDK app
/// (`cdk/lib/purgeflow-stack.ts`, `dispatch.maxBatchingWindow` by default);
/// `tests::the_simulated_mappings_are_the_deployed_ones` keeps the two the same.
pub const DISPATCH_BATCHING_WINDOW_S: f64 = 20.0;

/// `PURGE_SKIP_DIRECT_BACKLOG` as deployed (invalidate-cache's default).
pub const DEFAULT_SKIP_DIRECT_BACKLOG: usize =
    purgeflow_tasks::config::DEFAULT_SKIP_DIRECT_BACKLOG as usize;

/// How stale the backlog gate's view of the queue is, by default. An assumption: SQS documents
/// its approximate counts as eventually consistent (they "may not achieve consistency until at
/// least 1 minute after the producers stop sending messages") and gives no figure while they
/// send.
pub const DEFAULT_BACKLOG_LAG_S: f64 = 60.0;

/// Where the deleted objects (and the live ones around them) sit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Layout {
    /// Many users, a photo or two each (`photos/u<user>/p<n>.jpg`).
    Spread,
    /// A few big directories (`photos/album<0..4>/p<n>.jpg`).
    Crowded,
}

/// How the paths of a storm become invalidations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Policy {
    /// Each execution on its own, every path on its own, no folding; retries resend the same
    /// batch; what is refused after the retries is reported.
    PerPath,
    /// Each execution on its own: one wildcard per path template over the whole purge area
    /// (`/photos/*`, ...).
    All,
    /// purgeflow before the deferral queue (issue 19): each execution on its own, BatchPaths'
    /// fold policy, folding harder on each of five retries after TooManyInvalidationsInProgress,
    /// then reported.
    PerExecution,
    /// What purgeflow deploys: each execution sends its own batch; a refusal defers the batch to
    /// the queue, and the dispatcher coalesces the queue into invalidations that fit CloudFront's
    /// free capacity.
    Purgeflow,
}

impl Policy {
    pub const ALL: [Policy; 4] = [
        Policy::PerPath,
        Policy::All,
        Policy::PerExecution,
        Policy::Purgeflow,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Policy::PerPath => "per-path",
            Policy::All => "all",
            Policy::PerExecution => "per-execution",
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
    /// Live (not deleted) cached objects per deleted one, in the same directories: what a
    /// wildcard invalidates besides the deletes (collateral).
    pub live_per_delete: usize,
    /// Stream shards.
    pub shards: usize,
    /// Event source mapping: records per trigger invocation at most.
    pub batch_size: usize,
    /// Event source mapping: how long it gathers records before invoking with fewer.
    pub batching_window_s: f64,
    /// Event source mapping: concurrent batches per shard.
    pub parallelization_factor: usize,
    /// How often the event source mappings poll (each shard, and the deferral queue).
    pub poll_interval_s: f64,
    /// `PURGE_MAX_RECORDS_PER_EXECUTION`.
    pub max_records_per_execution: usize,
    /// `PURGE_PRESSURE_MAX_LEVEL` (the `per-execution` policy folds under pressure by it; the
    /// `purgeflow` policy too when it retries before deferring).
    pub pressure_max_level: u32,
    /// Lambda concurrency available to the task functions.
    pub lambda_concurrency: usize,
    /// The trigger's run time per invocation.
    pub trigger_s: f64,
    /// ValidateRecords + DeleteObjects + BatchPaths, before the invalidations start.
    pub tasks_s: f64,
    /// One invalidate-cache invocation, up to its CreateInvalidation call.
    pub invalidate_s: f64,
    /// CloudFront: an invalidation's time in progress is log-normal with this median...
    pub invalidation_median_s: f64,
    /// ...and this sigma (0: always the median).
    pub invalidation_sigma: f64,
    /// CloudFront's CreateInvalidation call rate, per second per account (a token bucket).
    /// Unpublished; see `throttle.rs` for where the default comes from. 0: no throttle.
    pub create_rate: f64,
    /// The token bucket's size: calls that may go at once after a quiet spell.
    pub create_burst: f64,
    /// Attempts the SDK makes on a throttled call inside one invocation (standard retry mode).
    pub sdk_attempts: u32,
    /// `purgeflow`: TooManyInvalidationsInProgress / throttling retries in the execution before
    /// the batch is deferred (0: defer at the first refusal, the state machine's default).
    pub defer_after_retries: u32,
    /// `purgeflow`: `PURGE_SKIP_DIRECT_BACKLOG`, invalidate-cache's backlog gate. On a batch's
    /// first attempt, while the deferral queue's backlog (messages waiting, held by a dispatcher
    /// or returned and invisible) is at least this many, the batch is deferred without trying
    /// CloudFront (`PurgeFlow.BacklogWaiting`). 0: never (every batch tries CloudFront first).
    pub skip_direct_backlog: usize,
    /// How late the backlog gate sees the queue: SQS's approximate counts are eventually
    /// consistent, so the gate reads the backlog as it was this many seconds ago.
    pub backlog_lag_s: f64,
    /// The DeferBatch state: Step Functions' SendMessage integration.
    pub defer_s: f64,
    /// Dispatcher event source mapping: messages per invocation at most (SQS allows 10,000).
    pub dispatch_batch_size: usize,
    /// Dispatcher event source mapping: batching window.
    pub dispatch_window_s: f64,
    /// Dispatcher event source mapping: MaximumConcurrency.
    pub dispatch_concurrency: usize,
    /// One dispatcher invocation: reading the free capacity (ListInvalidations,
    /// GetInvalidation) and planning, up to its CreateInvalidation calls.
    pub dispatch_s: f64,
    /// `PURGE_DISPATCH_RESERVED_WILDCARDS`: wildcard slots the dispatcher leaves free.
    pub reserved_wildcards: usize,
    /// `PURGE_DISPATCH_MAX_AGE_SECONDS`: older messages are reported, not dispatched.
    pub dispatch_max_age_s: f64,
    /// How long a message the dispatcher could not cover stays invisible before it is received
    /// again.
    pub requeue_delay_s: f64,
    /// `PURGE_DISPATCH_EXTRA_MESSAGES`: messages one invocation receives straight from the queue
    /// beyond its event (when its event held any), planned with it.
    pub dispatch_extra_messages: usize,
    /// One ReceiveMessage call of those (10 messages at most).
    pub receive_s: f64,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            seed: 1,
            deletes: 1_000_000,
            duration_s: 600.0,
            layout: Layout::Spread,
            paths_per_object: 2,
            live_per_delete: 10,
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
            create_rate: 0.5,
            create_burst: 10.0,
            sdk_attempts: 3,
            defer_after_retries: 0,
            skip_direct_backlog: DEFAULT_SKIP_DIRECT_BACKLOG,
            backlog_lag_s: DEFAULT_BACKLOG_LAG_S,
            defer_s: 0.05,
            dispatch_batch_size: 10_000,
            dispatch_window_s: DISPATCH_BATCHING_WINDOW_S,
            dispatch_concurrency: 2,
            dispatch_s: 0.5,
            reserved_wildcards: 2,
            dispatch_max_age_s: 3600.0,
            requeue_delay_s: f64::from(purgeflow_tasks::config::DEFAULT_DISPATCH_RETRY_SECONDS),
            dispatch_extra_messages: purgeflow_tasks::config::DEFAULT_DISPATCH_EXTRA_MESSAGES,
            // SQS answers a ReceiveMessage of 10 messages in tens of milliseconds (an assumption).
            receive_s: 0.03,
        }
    }
}
