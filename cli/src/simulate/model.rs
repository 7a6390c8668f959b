//! The discrete-event simulation: virtual time, one event queue, seeded randomness.
//!
//! What runs is purgeflow's own code: the trigger's packing (`storm::pack`), BatchPaths'
//! batching (`paths::plan_batches`) and invalidate-cache's folding under pressure
//! (`pressure::batch_at_level`), with the CreateInvalidation retry schedule read from
//! `purge.asl.json`. What is modelled:
//! - the stream: each delete lands on its key's shard; the event source mapping polls each shard,
//!   invokes the trigger with up to `batch_size` records once it has that many or the batching
//!   window has passed, and runs up to `parallelization_factor` batches per shard at once;
//! - Express executions: `tasks_s` for ValidateRecords, DeleteObjects and BatchPaths, then the
//!   Map over the batches (MaxConcurrency 2), each batch's CreateInvalidation retried as the
//!   definition says; a batch whose retries run out is reported; an execution still running
//!   five minutes after it started times out, and what it had not sent is lost;
//! - Lambda: each invalidate-cache invocation holds one unit of concurrency for `invalidate_s`;
//!   with none free the invocation is throttled and retried as the definition says;
//! - CloudFront (`cloudfront.rs`): the in-progress limits, and a log-normal time in progress.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use purgeflow_tasks::config::Config;
use purgeflow_tasks::contract::InvalidationBatch;
use purgeflow_tasks::paths::{
    BatchPlan, CLOUDFRONT_MAX_PATHS_PER_BATCH, FoldPolicy, caller_reference, encode_path,
    plan_batches,
};
use purgeflow_tasks::pressure::{PressurePolicy, batch_at_level};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::cloudfront::Distribution;
use super::outcome::Outcome;
use super::retry::Schedule;
use super::scenario::{Policy, Scenario};
use super::storm::{self, Delete, Micros, SECOND};

/// Express's limit on one execution.
const EXPRESS_LIMIT: Micros = 300 * SECOND;
/// The InvalidateCache Map's MaxConcurrency in purge.asl.json.
const MAP_CONCURRENCY: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Poll {
        shard: usize,
    },
    TriggerDone {
        shard: usize,
        first: usize,
        end: usize,
    },
    MapStart {
        exec: usize,
    },
    /// invalidate-cache is invoked for a batch (after `retries` retries so far).
    Invoke {
        exec: usize,
        batch: usize,
        retries: Retries,
    },
    /// The invocation's CreateInvalidation reaches CloudFront.
    Send {
        exec: usize,
        batch: usize,
        retries: Retries,
    },
    Complete {
        exec: usize,
        batch: usize,
    },
}

/// Retries so far, per retrier, as Step Functions counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Retries {
    too_many: u32,
    lambda: u32,
}

impl Retries {
    /// `$states.context.State.RetryCount`: every retry of the state.
    fn total(self) -> u32 {
        self.too_many + self.lambda
    }
}

struct Batch {
    planned: InvalidationBatch,
    /// The deletes this batch covers, one entry per path of theirs it covers.
    covers: Vec<u32>,
    /// What was sent and taken (after folding).
    sent: Vec<String>,
}

struct Execution {
    start: Micros,
    batches: Vec<Batch>,
    next: usize,
    open: usize,
    reported: bool,
    timed_out: bool,
}

/// How a policy turns an execution's paths into batches and how far it folds under pressure.
struct Batching {
    policy: Policy,
    fold: FoldPolicy,
    /// The fold area for invalidate-cache (the deployed one).
    area: FoldPolicy,
    pressure: PressurePolicy,
}

impl Batching {
    fn new(policy: Policy, config: &Config) -> Batching {
        let area = config.fold_policy();
        let off = PressurePolicy {
            max_level: 0,
            allow_root: false,
        };
        match policy {
            Policy::PerPath | Policy::All => Batching {
                policy,
                fold: FoldPolicy::NEVER,
                area,
                pressure: off,
            },
            Policy::Purgeflow => Batching {
                policy,
                fold: area.clone(),
                area,
                pressure: config.pressure.clone(),
            },
        }
    }

    fn batches(&self, name: &str, raw_paths: &[String]) -> Vec<InvalidationBatch> {
        match self.policy {
            Policy::All => {
                let paths: Vec<String> = self
                    .area
                    .within
                    .iter()
                    .flatten()
                    .map(|prefix| format!("{prefix}*"))
                    .collect();
                vec![InvalidationBatch {
                    distribution_id: storm::DISTRIBUTION_ID.to_owned(),
                    caller_reference: caller_reference(name, storm::DISTRIBUTION_ID, &paths),
                    paths,
                }]
            }
            Policy::PerPath | Policy::Purgeflow => {
                let plan = BatchPlan {
                    batch_id: name,
                    distribution_id: storm::DISTRIBUTION_ID,
                    policy: &self.fold,
                    wildcards_in_use: 0,
                    max_paths_per_batch: CLOUDFRONT_MAX_PATHS_PER_BATCH,
                };
                plan_batches(raw_paths.iter().map(String::as_str), &plan).0
            }
        }
    }
}

/// The deletes a batch covers: files by their exact encoded path, wildcards by prefix.
/// `entries` (encoded path, delete) must be sorted.
fn coverage(entries: &[(String, u32)], batch: &InvalidationBatch) -> Vec<u32> {
    let mut covers = Vec::new();
    for path in &batch.paths {
        let (prefix, exact) = match path.strip_suffix('*') {
            Some(prefix) => (prefix, false),
            None => (path.as_str(), true),
        };
        let from = entries.partition_point(|(p, _)| p.as_str() < prefix);
        for (entry, delete) in &entries[from..] {
            let hit = if exact {
                entry == prefix
            } else {
                entry.starts_with(prefix)
            };
            if !hit {
                break;
            }
            covers.push(*delete);
        }
    }
    covers
}

struct Shard {
    queue: VecDeque<u32>,
    in_flight: usize,
    /// When the oldest record waiting arrived.
    oldest: Option<Micros>,
}

pub struct Simulation<'a> {
    scenario: &'a Scenario,
    config: &'a Config,
    schedule: &'a Schedule,
    batching: Batching,
    deletes: &'a [Delete],
    shard_of: &'a [u16],
    rng: StdRng,
    now: Micros,
    seq: u64,
    queue: BinaryHeap<Reverse<(Micros, u64, Event)>>,
    shards: Vec<Shard>,
    arrived: usize,
    executions: Vec<Execution>,
    lambda_in_use: usize,
    cloudfront: Distribution,
    outstanding: Vec<u16>,
    finished_at: Vec<Micros>,
    reported: Vec<bool>,
    lost: Vec<bool>,
    outcome: Outcome,
}

fn micros(seconds: f64) -> Micros {
    (seconds.max(0.0) * SECOND as f64).round() as Micros
}

impl<'a> Simulation<'a> {
    pub fn new(
        scenario: &'a Scenario,
        config: &'a Config,
        schedule: &'a Schedule,
        deletes: &'a [Delete],
        shard_of: &'a [u16],
        policy: Policy,
    ) -> Self {
        let n = deletes.len();
        Simulation {
            scenario,
            config,
            schedule,
            batching: Batching::new(policy, config),
            deletes,
            shard_of,
            rng: StdRng::seed_from_u64(scenario.seed),
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            shards: (0..scenario.shards.max(1))
                .map(|_| Shard {
                    queue: VecDeque::new(),
                    in_flight: 0,
                    oldest: None,
                })
                .collect(),
            arrived: 0,
            executions: Vec::new(),
            lambda_in_use: 0,
            cloudfront: Distribution::default(),
            outstanding: vec![0; n],
            finished_at: vec![Micros::MAX; n],
            reported: vec![false; n],
            lost: vec![false; n],
            outcome: Outcome::new(policy),
        }
    }

    fn at(&mut self, when: Micros, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse((when, self.seq, event)));
    }

    /// Runs the storm to the end: every delete invalidated, reported or lost.
    pub fn run(mut self) -> anyhow::Result<Outcome> {
        for shard in 0..self.shards.len() {
            self.at(0, Event::Poll { shard });
        }
        while let Some(Reverse((when, _, event))) = self.queue.pop() {
            self.now = when;
            self.arrive();
            match event {
                Event::Poll { shard } => self.poll(shard)?,
                Event::TriggerDone { shard, first, end } => {
                    self.shards[shard].in_flight -= 1;
                    for exec in first..end {
                        let start = self.executions[exec].start;
                        self.at(
                            start + micros(self.scenario.tasks_s),
                            Event::MapStart { exec },
                        );
                    }
                }
                Event::MapStart { exec } => {
                    for _ in 0..MAP_CONCURRENCY {
                        self.next_batch(exec);
                    }
                }
                Event::Invoke {
                    exec,
                    batch,
                    retries,
                } => self.invoke(exec, batch, retries),
                Event::Send {
                    exec,
                    batch,
                    retries,
                } => self.send(exec, batch, retries),
                Event::Complete { exec, batch } => self.complete(exec, batch),
            }
        }
        Ok(self.finish())
    }

    /// Deletes up to now land on their shards.
    fn arrive(&mut self) {
        while self.arrived < self.deletes.len() && self.deletes[self.arrived].at <= self.now {
            let shard = &mut self.shards[usize::from(self.shard_of[self.arrived])];
            shard.oldest.get_or_insert(self.deletes[self.arrived].at);
            shard.queue.push_back(self.arrived as u32);
            self.arrived += 1;
        }
    }

    fn poll(&mut self, shard_index: usize) -> anyhow::Result<()> {
        let window = micros(self.scenario.batching_window_s);
        let shard = &mut self.shards[shard_index];
        let ready = shard.queue.len() >= self.scenario.batch_size
            || shard
                .oldest
                .is_some_and(|oldest| self.now >= oldest + window)
            || (self.arrived == self.deletes.len() && !shard.queue.is_empty());
        if ready
            && !shard.queue.is_empty()
            && shard.in_flight < self.scenario.parallelization_factor.max(1)
        {
            let take = shard.queue.len().min(self.scenario.batch_size.max(1));
            let batch: Vec<u32> = shard.queue.drain(..take).collect();
            shard.oldest = shard
                .queue
                .front()
                .map(|&next| self.deletes[next as usize].at);
            shard.in_flight += 1;
            self.invoke_trigger(shard_index, &batch)?;
        }
        let shard = &self.shards[shard_index];
        let more = self.arrived < self.deletes.len() || !shard.queue.is_empty();
        if more {
            let next = self.now + micros(self.scenario.poll_interval_s).max(1);
            self.at(next, Event::Poll { shard: shard_index });
        }
        Ok(())
    }

    /// The trigger packs the batch with its own code; each execution gets its batches from
    /// BatchPaths' code (its tasks' time passes before the Map starts).
    fn invoke_trigger(&mut self, shard: usize, batch: &[u32]) -> anyhow::Result<()> {
        let done = self.now + micros(self.scenario.trigger_s);
        let first = self.executions.len();
        for records in storm::pack(self.config, self.deletes, batch)? {
            let name = format!("storm-{}", self.executions.len());
            let mut entries: Vec<(String, u32)> = Vec::new();
            let mut raw = Vec::new();
            for &delete in &records {
                for path in storm::paths_of(self.config, &self.deletes[delete as usize].key) {
                    entries.push((encode_path(&path), delete));
                    raw.push(path);
                }
            }
            entries.sort_unstable();
            let batches = self
                .batching
                .batches(&name, &raw)
                .into_iter()
                .map(|planned| {
                    let covers = coverage(&entries, &planned);
                    for &delete in &covers {
                        self.outstanding[delete as usize] += 1;
                    }
                    Batch {
                        planned,
                        covers,
                        sent: Vec::new(),
                    }
                })
                .collect();
            self.executions.push(Execution {
                start: done,
                batches,
                next: 0,
                open: 0,
                reported: false,
                timed_out: false,
            });
        }
        let end = self.executions.len();
        self.at(done, Event::TriggerDone { shard, first, end });
        Ok(())
    }

    fn next_batch(&mut self, exec: usize) {
        let execution = &mut self.executions[exec];
        if execution.timed_out || execution.next >= execution.batches.len() {
            return;
        }
        let batch = execution.next;
        execution.next += 1;
        execution.open += 1;
        self.at(
            self.now,
            Event::Invoke {
                exec,
                batch,
                retries: Retries::default(),
            },
        );
    }

    fn invoke(&mut self, exec: usize, batch: usize, retries: Retries) {
        if self.now >= self.executions[exec].start + EXPRESS_LIMIT {
            self.time_out(exec);
            return;
        }
        if self.lambda_in_use >= self.scenario.lambda_concurrency {
            self.outcome.lambda_throttles += 1;
            let delay = self.schedule.lambda.delay(retries.lambda, &mut self.rng);
            let retries = Retries {
                lambda: retries.lambda + 1,
                ..retries
            };
            self.retry_or_report(exec, batch, delay, retries);
            return;
        }
        self.lambda_in_use += 1;
        let at = self.now + micros(self.scenario.invalidate_s);
        self.at(
            at,
            Event::Send {
                exec,
                batch,
                retries,
            },
        );
    }

    fn send(&mut self, exec: usize, batch: usize, retries: Retries) {
        self.lambda_in_use -= 1;
        let planned = &self.executions[exec].batches[batch].planned;
        let (sent, _, _) = batch_at_level(
            planned,
            retries.total(),
            &self.batching.area,
            &self.batching.pressure,
        );
        if self.cloudfront.try_start(self.now, &sent.paths) {
            self.outcome.requests += 1;
            self.outcome.paths_billed += sent.paths.len() as u64;
            let in_progress = self.invalidation_time();
            self.executions[exec].batches[batch].sent = sent.paths;
            self.at(self.now + in_progress, Event::Complete { exec, batch });
            // The Map goes on with the next batch once this one's task has succeeded.
            self.batch_done(exec);
            return;
        }
        self.outcome.refused += 1;
        let delay = self
            .schedule
            .too_many
            .delay(retries.too_many, &mut self.rng);
        let retries = Retries {
            too_many: retries.too_many + 1,
            ..retries
        };
        self.retry_or_report(exec, batch, delay, retries);
    }

    /// The retrier's next wait, if it has one left: invoke again then; else the batch is reported.
    fn retry_or_report(
        &mut self,
        exec: usize,
        batch: usize,
        delay: Option<Micros>,
        retries: Retries,
    ) {
        match delay {
            Some(delay) => self.at(
                self.now + delay,
                Event::Invoke {
                    exec,
                    batch,
                    retries,
                },
            ),
            None => self.give_up(exec, batch),
        }
    }

    /// Log-normal time in progress, median `invalidation_median_s`.
    fn invalidation_time(&mut self) -> Micros {
        let sigma = self.scenario.invalidation_sigma;
        let median = self.scenario.invalidation_median_s;
        if sigma <= 0.0 {
            return micros(median);
        }
        // Box-Muller: a standard normal from two uniforms.
        let u1: f64 = self.rng.random_range(f64::EPSILON..1.0);
        let u2: f64 = self.rng.random();
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        micros(median * (sigma * z).exp())
    }

    /// Retries ran out: the batch goes to the report (replayInput), the Map goes on.
    fn give_up(&mut self, exec: usize, batch: usize) {
        self.executions[exec].reported = true;
        for &delete in &self.executions[exec].batches[batch].covers {
            self.reported[delete as usize] = true;
        }
        self.batch_done(exec);
    }

    fn batch_done(&mut self, exec: usize) {
        self.executions[exec].open -= 1;
        self.next_batch(exec);
    }

    /// Express stops the execution: batches not taken by CloudFront are lost (no report).
    fn time_out(&mut self, exec: usize) {
        let execution = &mut self.executions[exec];
        if execution.timed_out {
            return;
        }
        execution.timed_out = true;
        for batch in &execution.batches {
            if batch.sent.is_empty() {
                for &delete in &batch.covers {
                    self.lost[delete as usize] = true;
                }
            }
        }
    }

    fn complete(&mut self, exec: usize, batch: usize) {
        let sent = std::mem::take(&mut self.executions[exec].batches[batch].sent);
        self.cloudfront.complete(self.now, &sent);
        let covers = std::mem::take(&mut self.executions[exec].batches[batch].covers);
        for delete in covers {
            let outstanding = &mut self.outstanding[delete as usize];
            *outstanding -= 1;
            if *outstanding == 0 {
                self.finished_at[delete as usize] = self.now;
            }
        }
    }

    fn finish(mut self) -> Outcome {
        let end = self.now;
        let mut outcome = self.outcome;
        outcome.end = end;
        outcome.executions = self.executions.len();
        outcome.executions_reported = self.executions.iter().filter(|e| e.reported).count();
        outcome.executions_timed_out = self.executions.iter().filter(|e| e.timed_out).count();
        for (i, delete) in self.deletes.iter().enumerate() {
            if self.lost[i] {
                outcome.lost += 1;
                outcome.not_invalidated_at.push(delete.at);
            } else if self.reported[i] {
                outcome.reported += 1;
                outcome.not_invalidated_at.push(delete.at);
            } else if self.finished_at[i] != Micros::MAX {
                outcome
                    .freshness
                    .push((delete.at, self.finished_at[i] - delete.at));
            } else {
                outcome.unaccounted += 1;
            }
        }
        let (files, wildcards) = self.cloudfront.means(end);
        outcome.mean_files = files;
        outcome.mean_wildcards = wildcards;
        outcome.peak_files = self.cloudfront.peak_files;
        outcome.peak_wildcards = self.cloudfront.peak_wildcards;
        outcome.timeline = std::mem::take(&mut self.cloudfront.timeline);
        outcome
    }
}
