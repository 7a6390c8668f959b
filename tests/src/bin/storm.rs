//! A delete storm on the local endpoint: N photos deleted at once, purged by `purgeflow local`,
//! which is killed with SIGKILL mid-run and restarted, then checked through the AWS APIs.
//!
//! ```text
//! bash tests/storm.sh 100000          # the README's figures (release build)
//! bash tests/storm.sh 5000 --dev      # what CI runs (tests/all.sh)
//! ```
//!
//! Steps: start moto; provision a table (stream on), bucket, distribution, topic and failure
//! queue; upload `deletes + kept` small objects with their items; delete `deletes` items through
//! the DynamoDB API; run `purgeflow local --once` at the default configuration (supersede check
//! on) with CloudFront's limits enforced in front of moto (`--cloudfront-limits`: an
//! invalidation stays in progress `--invalidation-seconds`, 3,000 file paths and 15 wildcards at
//! most), so batches CloudFront refuses are deferred to the deferral queue and drained by the
//! dispatcher; SIGKILL it `--kills` times once it has finished some executions, and restart it
//! from its checkpoints until a run drains the stream and the deferral queue and exits by
//! itself. Then it checks:
//! - every deleted item's object is gone and every kept one is still there (ListObjectsV2);
//! - every deleted object's CDN path is covered by some invalidation (ListInvalidations,
//!   GetInvalidation; a `/prefix*` wildcard covers what it starts);
//! - no record is lost: the distinct executions (named by their records, so a batch run again
//!   gets the same name) hold every deleted record once, all succeeded, and delete exactly the
//!   deleted objects; a record is purged twice only when its batch was in flight at a SIGKILL
//!   (at-least-once, like the event source mapping), and that is counted and printed;
//! - nothing is reported: the failure queue is empty;
//! - nothing is left deferred: the deferral queue is empty, and with the limits on and more
//!   than 3,000 paths deleted, the dispatcher created at least one invalidation (the storm really
//!   went through deferral and dispatch).
//!
//! It prints the throughput (deletes per second of runner wall time, restarts included), the
//! runner's peak resident memory (VmHWM, sampled from /proc) and its AWS requests by operation
//! (from the run that finished; a killed run cannot say what it sent).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use purgeflow_cli::local::{ProvisionOptions, connect};
use purgeflow_tests::local_env::{LocalEnv, PARTITION_KEY};
use serde_json::Value;

const TABLE: &str = "storm";
const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:storm-failures";
/// How long an invalidation stays in progress under the storm's CloudFront limits: shorter
/// than CloudFront's (AWS's P95 is 25 s), so CI's storm stays within minutes, yet long enough
/// that at 5,000 deletes the executions pass 3,000 paths in progress (at 5 s they did not:
/// nothing was deferred).
const DEFAULT_INVALIDATION_SECONDS: u64 = 20;

#[derive(Debug)]
struct Options {
    deletes: usize,
    kept: usize,
    kills: usize,
    /// `None`: CloudFront's limits off (moto as it is).
    invalidation_seconds: Option<u64>,
    purgeflow: PathBuf,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        deletes: 100_000,
        kept: 0,
        kills: 2,
        invalidation_seconds: Some(DEFAULT_INVALIDATION_SECONDS),
        purgeflow: PathBuf::new(),
    };
    let mut kept = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--deletes" => options.deletes = number(&value("--deletes")?)?,
            "--kept" => kept = Some(number(&value("--kept")?)?),
            "--kills" => options.kills = number(&value("--kills")?)?,
            "--purgeflow" => options.purgeflow = PathBuf::from(value("--purgeflow")?),
            "--invalidation-seconds" => {
                let seconds = number(&value("--invalidation-seconds")?)?;
                options.invalidation_seconds = Some(u64::try_from(seconds).unwrap_or(u64::MAX));
            }
            "--no-limits" => options.invalidation_seconds = None,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    options.kept = kept.unwrap_or(options.deletes / 10);
    if options.purgeflow.as_os_str().is_empty() {
        return Err("--purgeflow PATH (the purgeflow binary) is required".into());
    }
    Ok(options)
}

fn number(text: &str) -> Result<usize, String> {
    text.replace('_', "")
        .parse()
        .map_err(|_| format!("{text} is not a number"))
}

fn main() {
    let options = options().unwrap_or_else(|e| {
        eprintln!(
            "storm: {e}\nusage: storm --purgeflow PATH [--deletes N] [--kept N] [--kills N] [--invalidation-seconds N | --no-limits]"
        );
        std::process::exit(2);
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let failures = runtime.block_on(storm(&options));
    if !failures.is_empty() {
        eprintln!("\nstorm: FAILED");
        for failure in &failures {
            eprintln!("  - {failure}");
        }
        std::process::exit(1);
    }
    println!("\nstorm: every check passed");
}

/// The object key of photo `n`: spread over 500 owners' folders, like a real bucket.
fn photo(n: usize) -> (String, String) {
    (
        format!("p{n:07}"),
        format!("images/u{:03}/p{n:07}.jpg", n % 500),
    )
}

/// Runs the storm; the failed checks, none when it held.
async fn storm(options: &Options) -> Vec<String> {
    let env = LocalEnv::start("storm").await;
    println!(
        "storm: {} deletes, {} kept, {} SIGKILL(s), moto at {}",
        options.deletes, options.kept, options.kills, env.endpoint_url
    );
    let vars = [
        ("PURGE_TABLE_NAME", TABLE),
        ("PURGE_BUCKET", TABLE),
        ("PURGE_KEY_TEMPLATE", "{image_key}"),
        ("PURGE_KEY_PREFIX", "images/"),
        ("PURGE_TOPIC_ARN", TOPIC_ARN),
        ("PURGE_MAX_RECORDS_PER_EXECUTION", "1000"),
    ];
    let provision = ProvisionOptions {
        partition_key: PARTITION_KEY.into(),
        queue_name: "storm-failures".into(),
        object_lock: false,
    };
    let connected = connect(&env.aws, LocalEnv::config(&vars), Some(&provision))
        .await
        .expect("provision the storm's resources");
    let provisioned = connected.provisioned.clone().expect("provisioned");

    let started = Instant::now();
    let photos: Vec<(String, String)> = (0..options.deletes + options.kept).map(photo).collect();
    futures::stream::iter(&photos)
        .for_each_concurrent(16, |(_, key)| env.put_object(TABLE, key))
        .await;
    env.put_items(TABLE, &photos).await;
    let deleted: Vec<(String, String)> = photos[..options.deletes].to_vec();
    let ids: Vec<String> = deleted.iter().map(|(id, _)| id.clone()).collect();
    env.delete_items(TABLE, &ids).await;
    println!(
        "  set up in {:.1} s: {} objects and items uploaded, {} items deleted",
        started.elapsed().as_secs_f64(),
        photos.len(),
        ids.len()
    );

    let mut run_env: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    run_env.push((
        "PURGE_DISTRIBUTION_ID".into(),
        provisioned.distribution_id.clone(),
    ));
    // The HMAC key --provision made: every execution input is signed and verified for real.
    run_env.push(("PURGE_MAC_KEY_ID".into(), provisioned.mac_key_id.clone()));
    let state_dir = env.state_dir.join("runner");
    let expected_executions = options.deletes.div_ceil(1000).max(1);
    let runs = run_with_kills(
        options,
        &env.endpoint_url,
        &state_dir,
        &run_env,
        expected_executions,
    );

    let mut failures = Vec::new();
    check_runs(&runs, options, &mut failures);
    let left = env.keys(TABLE).await;
    let kept: BTreeSet<String> = photos[options.deletes..]
        .iter()
        .map(|(_, key)| key.clone())
        .collect();
    if left != kept {
        let gone_but_kept = kept.difference(&left).count();
        let left_but_deleted = left.difference(&kept).count();
        failures.push(format!(
            "objects: {left_but_deleted} deleted item(s) still have their object, {gone_but_kept} kept object(s) are gone"
        ));
    }
    let invalidations = env.invalidations(&provisioned.distribution_id).await;
    let uncovered = deleted
        .iter()
        .filter(|(_, key)| !covered(&format!("/{key}"), &invalidations))
        .count();
    if uncovered > 0 {
        failures.push(format!(
            "{uncovered} deleted object(s) have no invalidation covering their path"
        ));
    }
    let reports = env.drain_reports(&provisioned.queue_url).await;
    if !reports.is_empty() {
        failures.push(format!(
            "{} failure report(s) were published: {}",
            reports.len(),
            reports[0]
        ));
    }
    let deferred_left = env.queue_depth(&provisioned.deferral_queue_url).await;
    if deferred_left > 0 {
        failures.push(format!(
            "{deferred_left} deferred batch(es) are still on the deferral queue"
        ));
    }
    let dispatched = runs
        .iter()
        .flat_map(|r| &r.dispatches)
        .filter(|(covered, ..)| *covered > 0)
        .count();
    if options.invalidation_seconds.is_some() && options.deletes > 3000 && dispatched == 0 {
        failures.push(
            "more than 3,000 paths were deleted under CloudFront's limits, yet the dispatcher created no invalidation: deferral was not exercised".into(),
        );
    }
    report(options, &runs, &invalidations);
    failures
}

/// Whether `path` is invalidated by one of `invalidations` (exactly, or by a `*` wildcard).
fn covered(path: &str, invalidations: &[Vec<String>]) -> bool {
    invalidations.iter().flatten().any(|invalidated| {
        invalidated == path
            || invalidated
                .strip_suffix('*')
                .is_some_and(|prefix| path.starts_with(prefix))
    })
}

/// One `purgeflow local` process.
#[derive(Debug, Default)]
struct Run {
    killed: bool,
    wall: Duration,
    /// Peak resident memory, in KiB (VmHWM).
    peak_kib: u64,
    /// `execution` lines: name, records, status, objects deleted.
    executions: Vec<(String, u64, String, u64)>,
    calls: BTreeMap<String, u64>,
    summary: Option<Value>,
    /// `dispatch` lines: (messages covered, paths sent, wildcards sent, refused).
    dispatches: Vec<(u64, u64, u64, bool)>,
}

/// Runs `purgeflow local --once` until a run drains the stream, killing the first
/// `options.kills` runs with SIGKILL once each has finished some executions.
fn run_with_kills(
    options: &Options,
    endpoint: &str,
    state_dir: &Path,
    env: &[(String, String)],
    expected_executions: usize,
) -> Vec<Run> {
    // Kill when about a third (then two thirds) of the work is done, counted across runs.
    let kill_after = (expected_executions / (options.kills + 1)).max(1);
    let mut runs = Vec::new();
    loop {
        let kill = runs.len() < options.kills;
        let mut command = Command::new(&options.purgeflow);
        command
            // The records were written before the first run: read the stream from its oldest.
            .args([
                "local",
                "--once",
                "--json",
                "--virtual-time",
                "--start-at",
                "oldest",
            ])
            .args(["--batch-size", "1000", "--poll-interval-ms", "50"]);
        if let Some(seconds) = options.invalidation_seconds {
            command
                .arg("--cloudfront-limits")
                .arg("--invalidation-seconds")
                .arg(seconds.to_string());
        }
        let mut child = command
            .arg("--endpoint-url")
            .arg(endpoint)
            .arg("--state-dir")
            .arg(state_dir)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", options.purgeflow.display()));
        let started = Instant::now();
        let pid = child.id();
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    return;
                }
            }
        });
        let mut run = Run {
            killed: false,
            ..Run::default()
        };
        let done = loop {
            run.peak_kib = run.peak_kib.max(peak_kib(pid).unwrap_or(0));
            match received.recv_timeout(Duration::from_millis(20)) {
                Ok(line) => record_line(&line, &mut run),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break true,
            }
            if kill && run.executions.len() >= kill_after {
                let _ = child.kill();
                run.killed = true;
                break false;
            }
        };
        let status = child.wait().expect("wait for purgeflow");
        run.wall = started.elapsed();
        // Lines already printed before the kill still count.
        while let Ok(line) = received.try_recv() {
            record_line(&line, &mut run);
        }
        println!(
            "  run {}: {} in {:.1} s, {} execution(s), peak {:.1} MiB",
            runs.len() + 1,
            if run.killed {
                "SIGKILL".to_owned()
            } else {
                format!("exited ({status})")
            },
            run.wall.as_secs_f64(),
            run.executions.len(),
            run.peak_kib as f64 / 1024.0
        );
        let finished = done && !run.killed;
        if finished {
            assert!(status.success(), "purgeflow local failed: {status}");
        }
        runs.push(run);
        if finished {
            return runs;
        }
        assert!(
            runs.len() < options.kills + 5,
            "purgeflow local never drained the stream"
        );
    }
}

fn record_line(line: &str, run: &mut Run) {
    let Ok(event) = serde_json::from_str::<Value>(line) else {
        return;
    };
    match event["event"].as_str() {
        Some("execution") => run.executions.push((
            event["execution"].as_str().unwrap_or_default().to_owned(),
            event["records"].as_u64().unwrap_or(0),
            event["status"].as_str().unwrap_or_default().to_owned(),
            event["output"]["deleted"].as_u64().unwrap_or(0),
        )),
        Some("calls") => {
            run.calls = serde_json::from_value(event["calls"].clone()).unwrap_or_default();
        }
        Some("summary") => run.summary = Some(event),
        Some("dispatch") => run.dispatches.push((
            event["covered"].as_u64().unwrap_or(0),
            event["sent"].as_u64().unwrap_or(0),
            event["wildcards"].as_u64().unwrap_or(0),
            !event["refused"].is_null(),
        )),
        _ => {}
    }
}

/// The process's peak resident set so far, from /proc (Linux).
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// No record lost, none purged twice but those of batches in flight at a kill.
fn check_runs(runs: &[Run], options: &Options, failures: &mut Vec<String>) {
    let mut first_run: BTreeMap<&str, usize> = BTreeMap::new();
    let mut distinct: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut again = 0u64;
    for (index, run) in runs.iter().enumerate() {
        for (name, records, status, deleted) in &run.executions {
            if status != "SUCCEEDED" {
                failures.push(format!("execution {name} ended {status}"));
            }
            match first_run.get(name.as_str()) {
                None => {
                    first_run.insert(name, index);
                    distinct.insert(name, (*records, *deleted));
                }
                Some(&first) => {
                    again += records;
                    // A batch runs again only when the run that ran it was killed before its
                    // checkpoint.
                    if !runs[first].killed {
                        failures.push(format!(
                            "execution {name} ran again after a run that was not killed"
                        ));
                    }
                }
            }
        }
    }
    let records: u64 = distinct.values().map(|(records, _)| records).sum();
    let deleted: u64 = distinct.values().map(|(_, deleted)| deleted).sum();
    if records != options.deletes as u64 {
        failures.push(format!(
            "the distinct executions hold {records} record(s), not {}",
            options.deletes
        ));
    }
    if deleted != options.deletes as u64 {
        failures.push(format!(
            "the distinct executions deleted {deleted} object(s), not {}",
            options.deletes
        ));
    }
    let kills = runs.iter().filter(|r| r.killed).count();
    if kills != options.kills {
        failures.push(format!("{kills} run(s) were killed, not {}", options.kills));
    }
    println!(
        "  {} distinct execution(s) held {records} record(s) and deleted {deleted} object(s); {again} record(s) ran again after a SIGKILL (their batch was in flight)",
        distinct.len()
    );
}

fn report(options: &Options, runs: &[Run], invalidations: &[Vec<String>]) {
    let wall: Duration = runs.iter().map(|r| r.wall).sum();
    let peak = runs.iter().map(|r| r.peak_kib).max().unwrap_or(0);
    let paths: usize = invalidations.iter().map(Vec::len).sum();
    let calls = runs.last().map(|r| &r.calls);
    println!(
        "\n  runner wall time {:.1} s over {} run(s): {:.0} deletes/s; peak memory {:.1} MiB",
        wall.as_secs_f64(),
        runs.len(),
        options.deletes as f64 / wall.as_secs_f64().max(1e-9),
        peak as f64 / 1024.0
    );
    println!(
        "  {} invalidation(s) holding {paths} path(s) for {} deleted object(s)",
        invalidations.len(),
        options.deletes
    );
    let dispatches: Vec<&(u64, u64, u64, bool)> = runs.iter().flat_map(|r| &r.dispatches).collect();
    let sent: Vec<&&(u64, u64, u64, bool)> =
        dispatches.iter().filter(|d| d.1 > 0 && !d.3).collect();
    println!(
        "  CloudFront limits: {}; dispatcher: {} round(s), {} invalidation(s) created ({} path(s), {} of them wildcards) covering {} deferred batch(es), {} refused",
        options
            .invalidation_seconds
            .map_or("off".to_owned(), |s| format!("on, {s} s in progress")),
        dispatches.len(),
        sent.len(),
        sent.iter().map(|d| d.1).sum::<u64>(),
        sent.iter().map(|d| d.2).sum::<u64>(),
        dispatches.iter().map(|d| d.0).sum::<u64>(),
        dispatches.iter().filter(|d| d.3).count()
    );
    if let Some(calls) = calls {
        let listed: Vec<String> = calls.iter().map(|(op, n)| format!("{op} {n}")).collect();
        println!(
            "  AWS requests of the last run (it resumed from the checkpoints): {}",
            listed.join(", ")
        );
    }
}
