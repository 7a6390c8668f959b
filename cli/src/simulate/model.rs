//! The discrete-event simulation: virtual time, one event queue, seeded randomness.
//!
//! What runs is purgeflow's own code: the trigger's packing (`storm::pack`), BatchPaths'
//! batching (`paths::plan_batches`), invalidate-cache's folding under pressure
//! (`pressure::batch_at_level`) and the dispatcher's planner (`dispatcher::plan`), with the
//! Lambda retrier read from `purge.asl.json`. What is modelled:
//! - the stream: each delete lands on its key's shard; the event source mapping polls each shard,
//!   invokes the trigger with up to `batch_size` records once it has that many or the batching
//!   window has passed, and runs up to `parallelization_factor` batches per shard at once;
//! - Express executions: `tasks_s` for ValidateRecords, DeleteObjects and BatchPaths, then the
//!   Map over the batches (MaxConcurrency 2); an execution still running five minutes after it
//!   started times out, and what it had neither sent nor deferred is lost;
//! - each batch's CreateInvalidation (invalidate-cache): the SDK retries a throttled call inside
//!   the invocation (`sdk_attempts`, full-jitter backoff from 1 s); a refusal is then retried as
//!   the policy's schedule says, and past it the batch is reported (`per-path`, `all`,
//!   `per-execution`) or deferred to the queue (`purgeflow`, the DeferBatch SendMessage state);
//! - invalidate-cache's backlog gate (`purgeflow`, `PURGE_SKIP_DIRECT_BACKLOG`): on a batch's
//!   first attempt, inside the invocation and before CreateInvalidation, a deferral queue backlog
//!   of at least the threshold, as SQS's approximate counts showed it `backlog_lag_s` ago, defers
//!   the batch without a call to CloudFront (PurgeFlow.BacklogWaiting, caught into DeferBatch);
//! - the dispatcher: the queue's event source mapping (batch size, batching window, the 6 MB
//!   payload, MaximumConcurrency) invokes it; it receives up to `dispatch_extra_messages` more
//!   straight from the queue (`dispatch::extra`), reports messages older than the max age, reads
//!   CloudFront's free capacity less the reserved wildcards, plans with the deployed planner,
//!   sends, and gives back (visible again after `requeue_delay_s`) every message the
//!   invalidations CloudFront took do not cover whole. Two instances plan from the capacity they
//!   read; CloudFront's refusal settles a race between them;
//! - Lambda: each invalidate-cache invocation holds one unit of concurrency; with none free the
//!   invocation is throttled and retried as the definition says;
//! - CloudFront (`cloudfront.rs`): the in-progress limits, the CreateInvalidation call rate
//!   (`throttle.rs`), and a log-normal time in progress.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};

use purgeflow_tasks::config::Config;
use purgeflow_tasks::contract::InvalidationBatch;
use purgeflow_tasks::dispatch::{self as planner, Capacity, PlanPolicy};
use purgeflow_tasks::paths::{
    BatchPlan, CLOUDFRONT_MAX_PATHS_PER_BATCH, FoldPolicy, caller_reference, encode_path,
    is_wildcard, plan_batches,
};
use purgeflow_tasks::pressure::{PressurePolicy, batch_at_level};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::cloudfront::Distribution;
use super::dispatcher::{self, Cover, MAX_EVENT_BYTES, Message, event_is_full};
use super::outcome::Outcome;
use super::retry::{Retrier, Schedule};
use super::scenario::{Policy, Scenario};
use super::storm::{self, Delete, Micros, SECOND};
use super::throttle::TokenBucket;

/// Express's limit on one execution.
const EXPRESS_LIMIT: Micros = 300 * SECOND;
/// The InvalidateCache Map's MaxConcurrency in purge.asl.json.
const MAP_CONCURRENCY: usize = 2;
/// The SDK's standard retry mode: full-jitter backoff from 1 s, doubling, at most 20 s.
const SDK_BACKOFF: Retrier = Retrier {
    interval_s: 1.0,
    max_attempts: u32::MAX,
    backoff_rate: 2.0,
    max_delay_s: Some(20.0),
    full_jitter: true,
};

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
    /// The invocation's CreateInvalidation call, SDK attempt `attempt` (from 0).
    Send {
        exec: usize,
        batch: usize,
        retries: Retries,
        attempt: u32,
    },
    /// DeferBatch's SendMessage is done: the batch is on the queue.
    Deferred {
        exec: usize,
        batch: usize,
    },
    Complete {
        invalidation: usize,
    },
    /// The queue's event source mapping looks for messages to hand to a free dispatcher.
    DispatchPoll,
    /// Dispatcher invocation `job` sends its invalidation `next`, SDK attempt `attempt`.
    DispatchSend {
        job: usize,
        next: usize,
        attempt: u32,
    },
}

/// Retries so far, per retrier, as Step Functions counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Retries {
    too_many: u32,
    throttled: u32,
    lambda: u32,
}

impl Retries {
    /// `$states.context.State.RetryCount`: every retry of the state.
    fn total(self) -> u32 {
        self.too_many + self.throttled + self.lambda
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    TooMany,
    Throttled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BatchState {
    Waiting,
    /// Taken by CloudFront, deferred to the queue, or reported.
    Done,
}

struct Batch {
    planned: InvalidationBatch,
    /// The deletes behind each planned path: `covers[spans[j]..spans[j + 1]]` for path `j`.
    covers: Vec<u32>,
    spans: Vec<u32>,
    state: BatchState,
}

struct Execution {
    start: Micros,
    batches: Vec<Batch>,
    next: usize,
    reported: bool,
    deferred: bool,
    timed_out: bool,
}

/// An invalidation CloudFront took: its paths, and the deletes it finishes.
struct InFlight {
    paths: Vec<String>,
    covers: Vec<u32>,
    completed: bool,
}

/// One dispatcher invocation.
struct Job {
    messages: Vec<usize>,
    /// The planned invalidations' paths (the planner plans one at most).
    planned: Vec<Vec<String>>,
    /// The messages the planner says its invalidation covers.
    claimed: Vec<usize>,
    /// The planned invalidations CloudFront took: their index in `Simulation::in_flight`, and
    /// their paths.
    taken: Vec<(usize, Vec<String>)>,
}

/// How a policy turns an execution's paths into batches and how far it folds under pressure.
struct Batching {
    policy: Policy,
    fold: FoldPolicy,
    /// The fold area for invalidate-cache and the dispatcher (the deployed one).
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
            Policy::PerExecution | Policy::Purgeflow => Batching {
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
            Policy::PerPath | Policy::PerExecution | Policy::Purgeflow => {
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

/// The deletes behind each path of a batch: files by their exact encoded path, wildcards by
/// prefix; `(covers, spans)` as [`Batch`] holds them. `entries` (encoded path, delete) must be
/// sorted.
fn coverage(entries: &[(String, u32)], batch: &InvalidationBatch) -> (Vec<u32>, Vec<u32>) {
    let mut covers = Vec::new();
    let mut spans = vec![0u32];
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
        spans.push(covers.len() as u32);
    }
    (covers, spans)
}

/// The deferral queue's backlog over time, for a gate that reads it late. Reads come at
/// increasing times, so what no later read can ask for is dropped.
#[derive(Default)]
struct BacklogHistory {
    /// (from when, backlog), oldest first, each backlog different from the one before.
    changes: VecDeque<(Micros, usize)>,
}

impl BacklogHistory {
    fn note(&mut self, at: Micros, backlog: usize) {
        match self.changes.back_mut() {
            Some(&mut (_, last)) if last == backlog => {}
            Some(last) if last.0 == at => last.1 = backlog,
            _ => self.changes.push_back((at, backlog)),
        }
    }

    /// The backlog at `at` (0 before anything was noted); `at` never goes back between calls.
    fn seen_at(&mut self, at: Micros) -> usize {
        while self.changes.get(1).is_some_and(|&(from, _)| from <= at) {
            self.changes.pop_front();
        }
        match self.changes.front() {
            Some(&(from, backlog)) if from <= at => backlog,
            _ => 0,
        }
    }
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
    schedule: Schedule,
    batching: Batching,
    plan_policy: PlanPolicy,
    deletes: &'a [Delete],
    shard_of: &'a [u16],
    packings: &'a mut storm::Packings,
    rng: StdRng,
    now: Micros,
    seq: u64,
    events: BinaryHeap<Reverse<(Micros, u64, Event)>>,
    shards: Vec<Shard>,
    arrived: usize,
    executions: Vec<Execution>,
    lambda_in_use: usize,
    cloudfront: Distribution,
    bucket: TokenBucket,
    in_flight: Vec<InFlight>,
    messages: Vec<Message>,
    /// Messages waiting to become visible again: (visible at, message).
    invisible: BinaryHeap<Reverse<(Micros, usize)>>,
    visible: VecDeque<usize>,
    visible_bytes: usize,
    /// Messages a dispatcher holds right now.
    received: usize,
    jobs: Vec<Job>,
    dispatchers_busy: usize,
    poll_at: Option<Micros>,
    /// How late the backlog gate sees the queue, and what it has been.
    backlog_lag: Micros,
    backlog_history: BacklogHistory,
    /// Every wildcard CloudFront took, for the collateral.
    wildcards: BTreeSet<String>,
    outstanding: Vec<u16>,
    finished_at: Vec<Micros>,
    reported: Vec<bool>,
    lost: Vec<bool>,
    outcome: Outcome,
}

/// Whether the planner is sure to plan nothing: no wildcard slot free, and the oldest batch
/// alone does not fit the free paths exactly (so no fold and no exact plan can start). The
/// simulation skips the call then; it only saves time (tests::the_planner_plans_nothing_without_room).
fn no_room(free: Capacity, oldest: &Message) -> bool {
    let wildcards = oldest.batch.paths.iter().filter(|p| is_wildcard(p)).count();
    let files = oldest.batch.paths.len() - wildcards;
    free.wildcards == 0 && (wildcards > 0 || !free.holds(files, 0))
}

/// A placeholder while a message's batch is lent to the planner.
fn no_batch() -> InvalidationBatch {
    InvalidationBatch {
        distribution_id: String::new(),
        caller_reference: String::new(),
        paths: Vec::new(),
    }
}

fn micros(seconds: f64) -> Micros {
    (seconds.max(0.0) * SECOND as f64).round() as Micros
}

impl<'a> Simulation<'a> {
    pub fn new(
        scenario: &'a Scenario,
        config: &'a Config,
        schedule: Schedule,
        deletes: &'a [Delete],
        shard_of: &'a [u16],
        packings: &'a mut storm::Packings,
        policy: Policy,
    ) -> Self {
        let n = deletes.len();
        Simulation {
            scenario,
            config,
            schedule,
            batching: Batching::new(policy, config),
            plan_policy: PlanPolicy {
                area: config.fold_policy(),
                allow_root: config.pressure.allow_root,
                folded_paths: planner::DEFAULT_FOLDED_PATHS,
            },
            deletes,
            shard_of,
            packings,
            rng: StdRng::seed_from_u64(scenario.seed),
            now: 0,
            seq: 0,
            events: BinaryHeap::new(),
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
            bucket: TokenBucket::new(scenario.create_rate, scenario.create_burst),
            in_flight: Vec::new(),
            messages: Vec::new(),
            invisible: BinaryHeap::new(),
            visible: VecDeque::new(),
            visible_bytes: 0,
            received: 0,
            jobs: Vec::new(),
            dispatchers_busy: 0,
            poll_at: None,
            backlog_lag: micros(scenario.backlog_lag_s),
            backlog_history: BacklogHistory::default(),
            wildcards: BTreeSet::new(),
            outstanding: vec![0; n],
            finished_at: vec![Micros::MAX; n],
            reported: vec![false; n],
            lost: vec![false; n],
            outcome: Outcome::new(policy),
        }
    }

    fn at(&mut self, when: Micros, event: Event) {
        self.seq += 1;
        self.events.push(Reverse((when, self.seq, event)));
    }

    /// Runs the storm to the end: every delete invalidated, reported or lost.
    pub fn run(mut self) -> anyhow::Result<Outcome> {
        for shard in 0..self.shards.len() {
            self.at(0, Event::Poll { shard });
        }
        while let Some(Reverse((when, _, event))) = self.events.pop() {
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
                    attempt,
                } => self.send(exec, batch, retries, attempt),
                Event::Deferred { exec, batch } => self.deferred(exec, batch),
                Event::Complete { invalidation } => self.complete(invalidation),
                Event::DispatchPoll => {
                    self.poll_at = None;
                    self.dispatch_poll();
                }
                Event::DispatchSend { job, next, attempt } => {
                    self.dispatch_send(job, next, attempt);
                }
            }
            if self.backlog_lag > 0 && self.gating() {
                let backlog = self.backlog();
                self.backlog_history.note(self.now, backlog);
            }
        }
        Ok(self.finish())
    }

    /// Deletes up to now land on their shards; messages whose invisibility ended come back.
    fn arrive(&mut self) {
        while self.arrived < self.deletes.len() && self.deletes[self.arrived].at <= self.now {
            let shard = &mut self.shards[usize::from(self.shard_of[self.arrived])];
            shard.oldest.get_or_insert(self.deletes[self.arrived].at);
            shard.queue.push_back(self.arrived as u32);
            self.arrived += 1;
        }
        while let Some(&Reverse((at, message))) = self.invisible.peek() {
            if at > self.now {
                break;
            }
            self.invisible.pop();
            self.make_visible(message, at);
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
        let executions = self
            .packings
            .pack(self.config, self.deletes, batch)?
            .to_vec();
        for records in executions {
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
                    let (covers, spans) = coverage(&entries, &planned);
                    for &delete in &covers {
                        self.outstanding[delete as usize] += 1;
                    }
                    Batch {
                        planned,
                        covers,
                        spans,
                        state: BatchState::Waiting,
                    }
                })
                .collect();
            self.executions.push(Execution {
                start: done,
                batches,
                next: 0,
                reported: false,
                deferred: false,
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
        self.at(
            self.now,
            Event::Invoke {
                exec,
                batch,
                retries: Retries::default(),
            },
        );
    }

    fn deferring(&self) -> bool {
        self.batching.policy == Policy::Purgeflow
    }

    /// The deferral queue's backlog now, as the gate counts it: ApproximateNumberOfMessages (the
    /// visible messages, including those the event source mapping is gathering for its window)
    /// plus ApproximateNumberOfMessagesNotVisible (held by a dispatcher, or returned and not yet
    /// visible again).
    fn backlog(&self) -> usize {
        self.visible.len() + self.invisible.len() + self.received
    }

    /// Whether invalidate-cache's backlog gate is on in this run.
    fn gating(&self) -> bool {
        self.deferring() && self.scenario.skip_direct_backlog > 0
    }

    /// The backlog as the gate reads it now: as it was `backlog_lag_s` ago.
    fn backlog_seen(&mut self) -> usize {
        if self.backlog_lag == 0 {
            return self.backlog();
        }
        self.backlog_history
            .seen_at(self.now.saturating_sub(self.backlog_lag))
    }

    /// invalidate-cache's backlog gate (PURGE_SKIP_DIRECT_BACKLOG): on the first attempt only
    /// (`pressure`, the state's retry count, is 0), a backlog of at least the threshold fails the
    /// task with PurgeFlow.BacklogWaiting before CreateInvalidation, and the Catch defers the
    /// batch as it defers a refused one.
    fn backlog_waiting(&mut self, retries: Retries) -> bool {
        self.gating()
            && retries.total() == 0
            && self.backlog_seen() >= self.scenario.skip_direct_backlog
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
                attempt: 0,
            },
        );
    }

    fn send(&mut self, exec: usize, batch: usize, retries: Retries, attempt: u32) {
        if attempt == 0 && self.backlog_waiting(retries) {
            self.lambda_in_use -= 1;
            self.outcome.skipped_direct += 1;
            self.defer(exec, batch);
            return;
        }
        if !self.bucket.try_take(self.now) {
            self.outcome.throttled += 1;
            if attempt + 1 < self.scenario.sdk_attempts {
                let delay = SDK_BACKOFF.delay(attempt, &mut self.rng).unwrap_or(0);
                self.at(
                    self.now + delay,
                    Event::Send {
                        exec,
                        batch,
                        retries,
                        attempt: attempt + 1,
                    },
                );
                return;
            }
            self.lambda_in_use -= 1;
            self.refused(exec, batch, retries, Refusal::Throttled);
            return;
        }
        self.lambda_in_use -= 1;
        let planned = &self.executions[exec].batches[batch].planned;
        let (sent, _, _) = batch_at_level(
            planned,
            retries.total(),
            &self.batching.area,
            &self.batching.pressure,
        );
        if !self.cloudfront.try_start(self.now, &sent.paths) {
            self.outcome.refused += 1;
            self.refused(exec, batch, retries, Refusal::TooMany);
            return;
        }
        self.outcome.direct_requests += 1;
        let batch_ref = &mut self.executions[exec].batches[batch];
        batch_ref.state = BatchState::Done;
        let covers = std::mem::take(&mut batch_ref.covers);
        self.start_invalidation(sent.paths, covers, false);
        // The Map goes on with the next batch once this one's task has succeeded.
        self.next_batch(exec);
    }

    /// CloudFront took `paths`: bill them, note their wildcards, and complete them later.
    fn start_invalidation(&mut self, paths: Vec<String>, covers: Vec<u32>, dispatched: bool) {
        self.outcome.paths_billed += paths.len() as u64;
        if dispatched {
            self.outcome.dispatched_paths_billed += paths.len() as u64;
        }
        for path in paths.iter().filter(|p| is_wildcard(p)) {
            if !self.wildcards.contains(path) {
                self.wildcards.insert(path.clone());
            }
        }
        let in_progress = self.invalidation_time();
        self.outcome.completion_times.push(in_progress);
        let invalidation = self.in_flight.len();
        self.in_flight.push(InFlight {
            paths,
            covers,
            completed: false,
        });
        self.at(self.now + in_progress, Event::Complete { invalidation });
    }

    /// The policy's answer to a refusal: retry when its schedule says so; past it, defer
    /// (`purgeflow`) or report.
    fn refused(&mut self, exec: usize, batch: usize, retries: Retries, refusal: Refusal) {
        let (delay, retries) = match refusal {
            Refusal::TooMany => (
                self.schedule
                    .too_many
                    .delay(retries.too_many, &mut self.rng),
                Retries {
                    too_many: retries.too_many + 1,
                    ..retries
                },
            ),
            Refusal::Throttled => (
                self.schedule
                    .throttled
                    .delay(retries.throttled, &mut self.rng),
                Retries {
                    throttled: retries.throttled + 1,
                    ..retries
                },
            ),
        };
        match delay {
            Some(delay) => self.at(
                self.now + delay,
                Event::Invoke {
                    exec,
                    batch,
                    retries,
                },
            ),
            None if self.deferring() => self.defer(exec, batch),
            None => self.give_up(exec, batch),
        }
    }

    /// The DeferBatch state: SendMessage to the deferral queue.
    fn defer(&mut self, exec: usize, batch: usize) {
        self.at(
            self.now + micros(self.scenario.defer_s),
            Event::Deferred { exec, batch },
        );
    }

    fn deferred(&mut self, exec: usize, batch: usize) {
        if self.now >= self.executions[exec].start + EXPRESS_LIMIT {
            self.time_out(exec);
            return;
        }
        let execution = &mut self.executions[exec];
        execution.deferred = true;
        let batch = &mut execution.batches[batch];
        batch.state = BatchState::Done;
        let message = Message {
            bytes: dispatcher::event_bytes(&batch.planned),
            batch: batch.planned.clone(),
            covers: std::mem::take(&mut batch.covers),
            spans: std::mem::take(&mut batch.spans),
            deferred_at: self.now,
            receives: 0,
            visible_since: self.now,
        };
        self.outcome.deferred_batches += 1;
        let id = self.messages.len();
        self.messages.push(message);
        self.make_visible(id, self.now);
        self.next_batch(exec);
    }

    fn make_visible(&mut self, message: usize, at: Micros) {
        self.messages[message].visible_since = at;
        self.visible_bytes += self.messages[message].bytes;
        self.visible.push_back(message);
        let depth = self.visible.len() + self.invisible.len() + self.received;
        self.outcome.peak_queue = self.outcome.peak_queue.max(depth);
        self.schedule_poll(self.now);
    }

    fn schedule_poll(&mut self, when: Micros) {
        if self.poll_at.is_none_or(|at| when < at) {
            self.poll_at = Some(when);
            self.at(when, Event::DispatchPoll);
        }
    }

    /// The queue's event source mapping: a batch for each free dispatcher once it is full (batch
    /// size or 6 MB) or its window has passed.
    fn dispatch_poll(&mut self) {
        while self.dispatchers_busy < self.scenario.dispatch_concurrency.max(1) {
            let Some(&oldest) = self.visible.front() else {
                return;
            };
            let window_ends =
                self.messages[oldest].visible_since + micros(self.scenario.dispatch_window_s);
            let full = self.visible.len() >= self.scenario.dispatch_batch_size
                || self.visible_bytes >= MAX_EVENT_BYTES;
            if !full && self.now < window_ends {
                self.schedule_poll(window_ends);
                return;
            }
            let mut taken = Vec::new();
            let mut bytes = 0;
            while let Some(&message) = self.visible.front() {
                let size = self.messages[message].bytes;
                let room = taken.len() < self.scenario.dispatch_batch_size.max(1)
                    && (taken.is_empty() || bytes + size <= MAX_EVENT_BYTES);
                if !room {
                    break;
                }
                self.visible.pop_front();
                self.visible_bytes -= size;
                bytes += size;
                taken.push(message);
            }
            // Beyond a full event (`dispatch::extra`): up to the extra messages, 10 per
            // ReceiveMessage, until the queue gives none.
            let mut extra = 0;
            let limit = if event_is_full(bytes) {
                self.scenario.dispatch_extra_messages
            } else {
                0
            };
            while extra < limit
                && let Some(message) = self.visible.pop_front()
            {
                self.visible_bytes -= self.messages[message].bytes;
                taken.push(message);
                extra += 1;
            }
            // Ten a call, and the dry call that ends the loop unless the limit did.
            let receive_calls = extra.div_ceil(10) + usize::from(extra < limit);
            self.dispatch(taken, receive_calls);
        }
    }

    /// One dispatcher invocation: report what aged out, read the free capacity, plan.
    fn dispatch(&mut self, received: Vec<usize>, receive_calls: usize) {
        self.dispatchers_busy += 1;
        self.outcome.dispatcher_invocations += 1;
        let max_age = micros(self.scenario.dispatch_max_age_s);
        let mut messages = Vec::new();
        for message in received {
            self.messages[message].receives += 1;
            self.outcome.max_receives = self
                .outcome
                .max_receives
                .max(self.messages[message].receives);
            if self.now.saturating_sub(self.messages[message].deferred_at) > max_age {
                for &delete in &self.messages[message].covers {
                    self.reported[delete as usize] = true;
                }
                self.outcome.messages_aged_out += 1;
            } else {
                messages.push(message);
            }
        }
        self.received += messages.len();
        let free = Capacity::free(
            self.cloudfront.files,
            self.cloudfront.wildcards,
            self.scenario.reserved_wildcards,
        );
        let (planned, claimed) =
            if messages.is_empty() || no_room(free, &self.messages[messages[0]]) {
                (Vec::new(), Vec::new())
            } else {
                // The batches move out of the messages for the call and back after it.
                let pending: Vec<InvalidationBatch> = messages
                    .iter()
                    .map(|&m| std::mem::replace(&mut self.messages[m].batch, no_batch()))
                    .collect();
                let plan = planner::plan(storm::DISTRIBUTION_ID, &pending, free, &self.plan_policy);
                for (&m, batch) in messages.iter().zip(pending) {
                    self.messages[m].batch = batch;
                }
                let claimed = plan.covered.iter().map(|&i| messages[i]).collect();
                let planned = plan.invalidation.map(|b| b.paths).into_iter().collect();
                (planned, claimed)
            };
        let job = self.jobs.len();
        self.jobs.push(Job {
            messages,
            planned,
            claimed,
            taken: Vec::new(),
        });
        self.at(
            self.now
                + micros(self.scenario.dispatch_s + receive_calls as f64 * self.scenario.receive_s),
            Event::DispatchSend {
                job,
                next: 0,
                attempt: 0,
            },
        );
    }

    /// The dispatcher's CreateInvalidation calls, one after another; then the partial batch
    /// response.
    fn dispatch_send(&mut self, job: usize, next: usize, attempt: u32) {
        if next < self.jobs[job].planned.len() {
            if !self.bucket.try_take(self.now) {
                self.outcome.throttled += 1;
                if attempt + 1 < self.scenario.sdk_attempts {
                    let delay = SDK_BACKOFF.delay(attempt, &mut self.rng).unwrap_or(0);
                    let event = Event::DispatchSend {
                        job,
                        next,
                        attempt: attempt + 1,
                    };
                    self.at(self.now + delay, event);
                    return;
                }
            } else if self
                .cloudfront
                .try_start(self.now, &self.jobs[job].planned[next])
            {
                let paths = std::mem::take(&mut self.jobs[job].planned[next]);
                self.outcome.dispatched_requests += 1;
                let invalidation = self.in_flight.len();
                self.jobs[job].taken.push((invalidation, paths.clone()));
                self.start_invalidation(paths, Vec::new(), true);
            } else {
                self.outcome.refused += 1;
            }
            let event = Event::DispatchSend {
                job,
                next: next + 1,
                attempt: 0,
            };
            self.at(self.now, event);
            return;
        }
        self.settle(job);
    }

    /// The messages the taken invalidations cover whole are deleted, their deletes attached to
    /// the invalidation that covers each path; the rest go back.
    fn settle(&mut self, job: usize) {
        let Job {
            messages,
            claimed,
            taken,
            ..
        } = std::mem::replace(
            &mut self.jobs[job],
            Job {
                messages: Vec::new(),
                planned: Vec::new(),
                claimed: Vec::new(),
                taken: Vec::new(),
            },
        );
        let claimed: BTreeSet<usize> = claimed.into_iter().collect();
        let refs: Vec<(usize, &[String])> = taken
            .iter()
            .map(|(inv, paths)| (*inv, paths.as_slice()))
            .collect();
        let cover = Cover::new(&refs);
        let requeue = micros(self.scenario.requeue_delay_s);
        self.received -= messages.len();
        for message in messages {
            let found: Option<Vec<usize>> = self.messages[message]
                .batch
                .paths
                .iter()
                .map(|p| cover.find(p))
                .collect();
            // When CloudFront took the plan, the planner's `covered` must be exactly what the
            // simulation's own check finds.
            if !taken.is_empty() && found.is_some() != claimed.contains(&message) {
                self.outcome.planner_disagreements += 1;
            }
            match found {
                Some(invalidations) => {
                    let m = &mut self.messages[message];
                    let covers = std::mem::take(&mut m.covers);
                    let spans = std::mem::take(&mut m.spans);
                    m.batch.paths = Vec::new();
                    for (j, inv) in invalidations.into_iter().enumerate() {
                        let span = &covers[spans[j] as usize..spans[j + 1] as usize];
                        if self.in_flight[inv].completed {
                            // Done already (the SDK's backoff on a later call outlasted it).
                            span.iter().for_each(|&delete| self.finish_path(delete));
                        } else {
                            self.in_flight[inv].covers.extend_from_slice(span);
                        }
                    }
                    self.outcome.messages_dispatched += 1;
                }
                None => {
                    self.outcome.messages_returned += 1;
                    self.invisible.push(Reverse((self.now + requeue, message)));
                    self.schedule_poll(self.now + requeue);
                }
            }
        }
        self.dispatchers_busy -= 1;
        self.schedule_poll(self.now);
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
        let batch_ref = &mut self.executions[exec].batches[batch];
        batch_ref.state = BatchState::Done;
        for &delete in &batch_ref.covers {
            self.reported[delete as usize] = true;
        }
        self.next_batch(exec);
    }

    /// Express stops the execution: batches neither taken nor deferred nor reported are lost.
    fn time_out(&mut self, exec: usize) {
        let execution = &mut self.executions[exec];
        if execution.timed_out {
            return;
        }
        execution.timed_out = true;
        for batch in &execution.batches {
            if batch.state == BatchState::Waiting {
                for &delete in &batch.covers {
                    self.lost[delete as usize] = true;
                }
            }
        }
    }

    fn complete(&mut self, invalidation: usize) {
        let InFlight { paths, covers, .. } = std::mem::replace(
            &mut self.in_flight[invalidation],
            InFlight {
                paths: Vec::new(),
                covers: Vec::new(),
                completed: true,
            },
        );
        self.cloudfront.complete(self.now, &paths);
        for delete in covers {
            self.finish_path(delete);
        }
        // Room freed: a dispatcher waiting on messages may now have capacity.
        if !self.visible.is_empty() {
            self.schedule_poll(self.now);
        }
    }

    /// One of a delete's paths is invalidated; the delete is done when all are.
    fn finish_path(&mut self, delete: u32) {
        let outstanding = &mut self.outstanding[delete as usize];
        *outstanding -= 1;
        if *outstanding == 0 {
            self.finished_at[delete as usize] = self.now;
        }
    }

    fn finish(mut self) -> Outcome {
        let end = self.now;
        let mut outcome = self.outcome;
        outcome.end = end;
        outcome.executions = self.executions.len();
        outcome.executions_reported = self.executions.iter().filter(|e| e.reported).count();
        outcome.executions_deferred = self.executions.iter().filter(|e| e.deferred).count();
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
        outcome.wildcards = std::mem::take(&mut self.wildcards);
        outcome
    }
}
