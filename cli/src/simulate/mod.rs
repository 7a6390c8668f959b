//! `purgeflow simulate`: a deterministic discrete-event simulation of a delete storm against
//! CloudFront's limits, run side by side for each batching policy. Seeded, in virtual time: the
//! same flags give the same numbers. See `model.rs` for what is modelled and what is purgeflow's
//! own code.

mod cloudfront;
mod collateral;
mod dispatcher;
mod model;
mod outcome;
mod retry;
mod scenario;
mod storm;
mod svg;
mod throttle;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

pub use outcome::Outcome;
pub use scenario::{Layout, Policy, Scenario};

/// `purgeflow simulate` flags. The defaults are the 1M-deletes-in-10-minutes storm against the
/// deployed configuration.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Seed of every random choice (jitter, CloudFront's completion times).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Items deleted.
    #[arg(long, default_value_t = 1_000_000, value_parser = count_in(1, usize::MAX))]
    pub deletes: usize,
    /// Seconds the deletes are spread over.
    #[arg(long, default_value_t = 600.0, value_parser = seconds_in(0.001, 1e9))]
    pub duration: f64,
    #[arg(long, value_enum, default_value_t = Layout::Spread)]
    pub layout: Layout,
    /// CDN paths per object: `/{key}`, then `/thumbs/{key}`, `/small/{key}`, ... (1-6)
    #[arg(long, default_value_t = 2, value_parser = count_in(1, storm::MAX_PATHS_PER_OBJECT))]
    pub paths_per_object: usize,
    /// Live cached objects per deleted one, in the same directories: what wildcards
    /// invalidate besides the deletes (collateral).
    #[arg(long, default_value_t = 10)]
    pub live_per_delete: usize,
    /// Batching policies to compare (default: all four).
    #[arg(long = "policy", value_enum)]
    pub policies: Vec<Policy>,
    /// Stream shards.
    #[arg(long, default_value_t = 4, value_parser = count_in(1, usize::from(u16::MAX)))]
    pub shards: usize,
    /// Event source mapping batch size (1-10000, as for a DynamoDB stream).
    #[arg(long, default_value_t = 100, value_parser = count_in(1, 10_000))]
    pub batch_size: usize,
    /// Event source mapping batching window, seconds (0-300).
    #[arg(long, default_value_t = 5.0, value_parser = seconds_in(0.0, 300.0))]
    pub batching_window: f64,
    /// Event source mapping parallelization factor (1-10).
    #[arg(long, default_value_t = 1, value_parser = count_in(1, 10))]
    pub parallelization_factor: usize,
    /// PURGE_MAX_RECORDS_PER_EXECUTION (1-10000).
    #[arg(long, default_value_t = 500, value_parser = count_in(1, purgeflow_tasks::config::MAX_MAX_RECORDS_PER_EXECUTION))]
    pub max_records_per_execution: usize,
    /// PURGE_PRESSURE_MAX_LEVEL for the `purgeflow` policy (0-6).
    #[arg(long, default_value_t = purgeflow_tasks::pressure::DEFAULT_MAX_LEVEL,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(purgeflow_tasks::pressure::MAX_LEVEL)))]
    pub pressure_max_level: u32,
    /// Lambda concurrency for invalidate-cache.
    #[arg(long, default_value_t = 1000, value_parser = count_in(1, usize::MAX))]
    pub lambda_concurrency: usize,
    /// Median seconds an invalidation stays in progress (log-normal).
    #[arg(long, default_value_t = 60.0, value_parser = seconds_in(0.001, 1e9))]
    pub invalidation_median: f64,
    /// Sigma of the log-normal time in progress (0: always the median).
    #[arg(long, default_value_t = 0.5, value_parser = seconds_in(0.0, 10.0))]
    pub invalidation_sigma: f64,
    /// CreateInvalidation calls a second per account (token bucket). Unpublished: 0.5 is the
    /// figure an AWS SDK maintainer relayed in aws/aws-sdk-js#3983 (an assumption; 0: none).
    #[arg(long, default_value_t = 0.5)]
    pub create_rate: f64,
    /// Token bucket size for CreateInvalidation (an assumption).
    #[arg(long, default_value_t = 10.0)]
    pub create_burst: f64,
    /// `purgeflow`: TooManyInvalidationsInProgress / throttling retries (5 s, doubling, full
    /// jitter) before an execution defers its batch; 0 defers at the first refusal.
    #[arg(long, default_value_t = 0)]
    pub defer_after_retries: u32,
    /// `purgeflow`: PURGE_SKIP_DIRECT_BACKLOG. On a batch's first attempt, invalidate-cache
    /// defers it without trying CloudFront while the deferral queue holds at least this many
    /// messages (waiting or in flight); 0: never.
    #[arg(long, default_value_t = scenario::DEFAULT_SKIP_DIRECT_BACKLOG,
          value_parser = count_in(0, purgeflow_tasks::config::MAX_SKIP_DIRECT_BACKLOG as usize))]
    pub skip_direct_backlog: usize,
    /// Seconds late the backlog gate sees the queue (SQS's approximate counts are eventually
    /// consistent; the default is an assumption).
    #[arg(long, default_value_t = scenario::DEFAULT_BACKLOG_LAG_S, value_parser = seconds_in(0.0, 3600.0))]
    pub backlog_lag: f64,
    /// Dispatcher event source mapping batch size (at most 10,000).
    #[arg(long, default_value_t = 10_000)]
    pub dispatch_batch_size: usize,
    /// Dispatcher event source mapping batching window, seconds (0-300).
    #[arg(long, default_value_t = scenario::DISPATCH_BATCHING_WINDOW_S, value_parser = seconds_in(0.0, 300.0))]
    pub dispatch_window: f64,
    /// Dispatcher MaximumConcurrency.
    #[arg(long, default_value_t = 2)]
    pub dispatch_concurrency: usize,
    /// PURGE_DISPATCH_RESERVED_WILDCARDS.
    #[arg(long, default_value_t = 2)]
    pub reserved_wildcards: usize,
    /// PURGE_DISPATCH_MAX_AGE_SECONDS.
    #[arg(long, default_value_t = 3600.0)]
    pub dispatch_max_age: f64,
    /// Seconds a message the dispatcher could not cover stays invisible: the dispatcher's
    /// PURGE_DISPATCH_RETRY_SECONDS (ChangeMessageVisibility), deployed at its default.
    #[arg(long, default_value_t = f64::from(purgeflow_tasks::config::DEFAULT_DISPATCH_RETRY_SECONDS))]
    pub requeue_delay: f64,
    /// PURGE_DISPATCH_EXTRA_MESSAGES: messages a dispatcher invocation receives straight from
    /// the queue beyond its event (Lambda's 6 MB), planned with it.
    #[arg(long, default_value_t = purgeflow_tasks::config::DEFAULT_DISPATCH_EXTRA_MESSAGES)]
    pub dispatch_extra_messages: usize,
    /// Write the occupancy and freshness picture here (SVG).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

/// A whole number flag within `min..=max`: out of range is refused with the range, never
/// clamped (a clamped flag would simulate something other than what the header prints).
fn count_in(min: usize, max: usize) -> impl Fn(&str) -> Result<usize, String> + Clone {
    move |text| {
        let range = if max == usize::MAX {
            format!("at least {min}")
        } else {
            format!("{min} to {max}")
        };
        match text.parse::<usize>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            Ok(n) => Err(format!("{n} is out of range: allowed {range}")),
            Err(_) => Err(format!("{text:?} is not a whole number: allowed {range}")),
        }
    }
}

/// A finite number flag within `min..=max`.
fn seconds_in(min: f64, max: f64) -> impl Fn(&str) -> Result<f64, String> + Clone {
    move |text| match text.parse::<f64>() {
        Ok(x) if x.is_finite() && (min..=max).contains(&x) => Ok(x),
        _ => Err(format!("{text:?} is out of range: allowed {min} to {max}")),
    }
}

impl Args {
    pub fn scenario(&self) -> Scenario {
        Scenario {
            seed: self.seed,
            deletes: self.deletes,
            duration_s: self.duration,
            layout: self.layout,
            paths_per_object: self.paths_per_object,
            shards: self.shards,
            batch_size: self.batch_size,
            batching_window_s: self.batching_window,
            parallelization_factor: self.parallelization_factor,
            max_records_per_execution: self.max_records_per_execution,
            pressure_max_level: self.pressure_max_level,
            lambda_concurrency: self.lambda_concurrency,
            invalidation_median_s: self.invalidation_median,
            invalidation_sigma: self.invalidation_sigma,
            live_per_delete: self.live_per_delete,
            create_rate: self.create_rate,
            create_burst: self.create_burst,
            defer_after_retries: self.defer_after_retries,
            skip_direct_backlog: self.skip_direct_backlog,
            backlog_lag_s: self.backlog_lag,
            dispatch_batch_size: self.dispatch_batch_size,
            dispatch_window_s: self.dispatch_window,
            dispatch_concurrency: self.dispatch_concurrency,
            reserved_wildcards: self.reserved_wildcards,
            dispatch_max_age_s: self.dispatch_max_age,
            requeue_delay_s: self.requeue_delay,
            dispatch_extra_messages: self.dispatch_extra_messages,
            ..Scenario::default()
        }
    }
}

/// Simulates `scenario` under each of `policies`, in order.
pub fn simulate(scenario: &Scenario, policies: &[Policy]) -> anyhow::Result<Vec<Outcome>> {
    let config = storm::config(scenario)?;
    let deferring = retry::Schedule::deferring(
        crate::local::pipeline::PURGE_DEFINITION,
        scenario.defer_after_retries,
    )?;
    let deletes = storm::deletes(scenario);
    let shards: Vec<u16> = deletes
        .iter()
        .map(|d| storm::shard_of(&d.key, scenario.shards) as u16)
        .collect();
    let live = (scenario.live_per_delete > 0)
        .then(|| collateral::LiveObjects::new(scenario, storm::template_prefixes(&config)));
    let mut packings = storm::Packings::default();
    policies
        .iter()
        .map(|&policy| {
            let schedule = match policy {
                Policy::Purgeflow => deferring.clone(),
                Policy::PerPath | Policy::All | Policy::PerExecution => {
                    retry::Schedule::before_deferral()
                }
            };
            let mut outcome = model::Simulation::new(
                scenario,
                &config,
                schedule,
                &deletes,
                &shards,
                &mut packings,
                policy,
            )
            .run()?;
            if let Some(live) = &live {
                outcome.live_objects = live.total();
                outcome.collateral = live.invalidated_by(&outcome.wildcards);
            }
            Ok(outcome)
        })
        .collect()
}

/// The command: the table on stdout, the picture where `--svg` says.
pub fn run(args: &Args) -> anyhow::Result<Vec<Outcome>> {
    let scenario = args.scenario();
    let policies = if args.policies.is_empty() {
        Policy::ALL.to_vec()
    } else {
        args.policies.clone()
    };
    let started = Instant::now();
    let outcomes = simulate(&scenario, &policies)?;
    let elapsed = started.elapsed();
    let title = format!(
        "{} deletes over {:.0} s, {:?} keys, {} paths each, {} live each, completion median {:.0} s, gate {} ({:.0} s late), seed {}",
        scenario.deletes,
        scenario.duration_s,
        scenario.layout,
        scenario.paths_per_object,
        scenario.live_per_delete,
        scenario.invalidation_median_s,
        scenario.skip_direct_backlog,
        scenario.backlog_lag_s,
        scenario.seed
    );
    println!("{title}\n");
    print!("{}", outcome::table(&outcomes));
    for o in &outcomes {
        if o.unaccounted > 0 || o.planner_disagreements > 0 {
            println!(
                "\nMODEL ERROR in {}: {} deletes unaccounted for, {} planner disagreements",
                o.policy.name(),
                o.unaccounted,
                o.planner_disagreements
            );
        }
    }
    println!(
        "\nsimulated {} policies in {:.1} s",
        policies.len(),
        elapsed.as_secs_f64()
    );
    if let Some(path) = &args.svg {
        std::fs::write(path, svg::render(&title, &outcomes))
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("picture: {}", path.display());
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests;
