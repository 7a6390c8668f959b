//! Lambda cold starts, side by side in one run: each of purgeflow's six release bootstraps, and
//! the classic Python handler (`tests/coldstart/classic_handler.py`: boto3 clients built at
//! import, run by awslambdaric), each started cold as the Lambda service starts it
//! (`purgeflow_tests::cold_start`): its environment, the Runtime API on 127.0.0.1, one event.
//!
//! Timed: spawn → first `next` poll (init, SDK clients built) and spawn → first answer. Every
//! AWS endpoint is a closed port on 127.0.0.1 with one attempt, so the first answer includes one
//! refused AWS call and no network: the same for both sides. Rounds alternate the bootstraps,
//! so a noisy moment of the shared machine hits them alike; medians are printed.
//!
//!     cargo bench -p purgeflow-tests --bench cold_start
//!     COLD_START_ROUNDS=5 COLD_START_SKIP_BUILD=1 cargo bench -p purgeflow-tests --bench cold_start
//!
//! It builds the bootstraps first, each as it ships (`--release`, only its SDK feature; fat
//! LTO, so several minutes the first time), and the Python virtualenv (`tests/coldstart/.venv`,
//! ignored by git) from `tests/coldstart/requirements.txt`. `COLD_START_SKIP_BUILD=1` uses the
//! binaries in the target directory as they are.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use purgeflow_tests::cold_start::{Answer, ColdStart, Launch, measure};
use purgeflow_tests::fake_aws::FakeAws;
use purgeflow_tests::purge;
use purgeflow_tests::samples::{BUCKET, DISTRIBUTION_ID, Sample, TOPIC_ARN};
use purgeflow_tests::stats::{median, ms};

/// The six bootstraps and the features each ships with (as cdk/scripts/package-lambdas.sh).
const BOOTSTRAPS: [(&str, &str); 6] = [
    ("purge-trigger", "lambda,sfn"),
    ("validate-records", "lambda,dynamodb"),
    ("delete-objects", "lambda,s3"),
    ("batch-paths", "lambda"),
    ("invalidate-cache", "lambda,cloudfront"),
    ("report-failures", "lambda,sns"),
];

const PYTHON: &str = "python classic handler";

fn main() {
    let rounds: usize = std::env::var("COLD_START_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15)
        .max(1);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"));
    if std::env::var_os("COLD_START_SKIP_BUILD").is_none() {
        build_bootstraps(&repo);
    }
    let python = python_env(&repo);
    let launches = launches(&repo, &target, python.as_deref());
    println!(
        "cold_start: {} bootstrap(s), {rounds} round(s) each, alternating",
        launches.len()
    );

    let mut measured: BTreeMap<String, Vec<ColdStart>> = BTreeMap::new();
    let mut answers: BTreeMap<String, Answer> = BTreeMap::new();
    for round in 0..rounds {
        for launch in &launches {
            let cold = measure(launch).unwrap_or_else(|e| panic!("round {}: {e}", round + 1));
            answers.insert(launch.function.clone(), cold.answer.clone());
            measured
                .entry(launch.function.clone())
                .or_default()
                .push(cold);
        }
    }
    report(&launches, &measured, &answers);
}

fn build_bootstraps(repo: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for (binary, features) in BOOTSTRAPS {
        println!("building {binary} (--release, features {features})");
        let status = Command::new(&cargo)
            .current_dir(repo)
            .args([
                "build",
                "--release",
                "--locked",
                "--quiet",
                "-p",
                "purgeflow-tasks",
                "--bin",
                binary,
                "--no-default-features",
                "--features",
                features,
            ])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building {binary} failed");
    }
}

/// The virtualenv's python with awslambdaric and boto3, installing them when missing; `None`,
/// said out loud, when that can't be done (then only the Rust side is measured).
fn python_env(repo: &Path) -> Option<PathBuf> {
    let dir = repo.join("tests/coldstart");
    let python = dir.join(".venv/bin/python");
    let ready = |python: &Path| {
        Command::new(python)
            .args(["-c", "import awslambdaric, boto3"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if python.exists() && ready(&python) {
        return Some(python);
    }
    println!("setting up tests/coldstart/.venv (awslambdaric, boto3)");
    let venv = Command::new("python3")
        .args(["-m", "venv"])
        .arg(dir.join(".venv"))
        .status();
    let installed = venv.is_ok_and(|s| s.success())
        && Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(dir.join("requirements.txt"))
            .status()
            .is_ok_and(|s| s.success());
    if installed && ready(&python) {
        Some(python)
    } else {
        println!(
            "NOTE: the Python side is NOT measured: python3 -m venv or pip install -r tests/coldstart/requirements.txt failed (see above)"
        );
        None
    }
}

/// Each task Lambda's event: what it is given in a real execution of the sample batch with
/// rejected records (so every task runs, ReportFailures included), recorded from
/// purge.asl.json on the engine against the fake AWS; and the photo sample's stream event for
/// the trigger and the Python handler.
fn events(repo: &Path) -> BTreeMap<String, Vec<u8>> {
    let stream_event =
        std::fs::read(repo.join("events/stream/photo-remove.json")).expect("the sample event");
    let mut events = BTreeMap::from([("purge-trigger".to_owned(), stream_event)]);
    let sample = Sample::by_file("malformed-attributes.json");
    let input = sample
        .execution_inputs()
        .into_iter()
        .next()
        .expect("one input");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let aws = FakeAws::new().with_objects(BUCKET, ["p-20261101-0600.jpeg"]);
    let (_, recording) = runtime.block_on(aws.run(sample.config(&[]), input, "cold"));
    let functions: BTreeMap<String, String> = purge::task_states(&purge::definition())
        .into_iter()
        .map(|state| (state.name, state.function))
        .collect();
    for call in recording.calls() {
        if let Some(function) = functions.get(&call.state) {
            events
                .entry(function.clone())
                .or_insert_with(|| serde_json::to_vec(&call.input).expect("JSON"));
        }
    }
    events
}

fn launches(repo: &Path, target: &Path, python: Option<&Path>) -> Vec<Launch> {
    let events = events(repo);
    // Every AWS call goes to a port nobody listens on, once: refused at once, no network.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let common = |template: &str| -> Vec<(String, String)> {
        [
            (
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{closed_port}"),
            ),
            ("AWS_MAX_ATTEMPTS", "1".into()),
            ("PURGE_TABLE_NAME", "photos".into()),
            ("PURGE_BUCKET", BUCKET.into()),
            ("PURGE_KEY_TEMPLATE", template.into()),
            ("PURGE_DISTRIBUTION_ID", DISTRIBUTION_ID.into()),
            ("PURGE_TOPIC_ARN", TOPIC_ARN.into()),
            // As deployed: the MAC key is set, so init builds the KMS client too.
            (
                "PURGE_MAC_KEY_ID",
                "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-00000000beef"
                    .into(),
            ),
            (
                "PURGE_STATE_MACHINE_ARN",
                "arn:aws:states:us-east-1:123456789012:stateMachine:purgeflow-purge".into(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    };
    let mut launches: Vec<Launch> = BOOTSTRAPS
        .iter()
        .map(|(binary, _)| Launch {
            function: (*binary).to_owned(),
            program: target.join("release").join(binary),
            args: Vec::new(),
            task_root: repo.to_path_buf(),
            execution_env: "AWS_Lambda_provided.al2023".into(),
            // The default configuration: the supersede check on (validate-records builds its
            // DynamoDB client at init).
            env: common(purgeflow_tests::samples::PHOTO_TEMPLATE),
            event: events
                .get(*binary)
                .unwrap_or_else(|| panic!("no recorded event for {binary}"))
                .clone(),
        })
        .collect();
    for launch in &launches {
        assert!(
            launch.program.exists(),
            "{} is missing: run without COLD_START_SKIP_BUILD",
            launch.program.display()
        );
    }
    if let Some(python) = python {
        let dir = repo.join("tests/coldstart");
        let mut env = common(purgeflow_tests::samples::PHOTO_TEMPLATE);
        env.push(("PYTHONPATH".into(), dir.display().to_string()));
        env.push(("_HANDLER".into(), "classic_handler.handler".into()));
        launches.push(Launch {
            function: PYTHON.to_owned(),
            program: python.to_path_buf(),
            args: vec![
                "-m".into(),
                "awslambdaric".into(),
                "classic_handler.handler".into(),
            ],
            task_root: dir,
            execution_env: "AWS_Lambda_python3.11".into(),
            env,
            event: events["purge-trigger"].clone(),
        });
    }
    launches
}

fn report(
    launches: &[Launch],
    measured: &BTreeMap<String, Vec<ColdStart>>,
    answers: &BTreeMap<String, Answer>,
) {
    let poll = |name: &str| median(measured[name].iter().map(|c| ms(c.to_first_poll)).collect());
    let answer = |name: &str| {
        median(
            measured[name]
                .iter()
                .map(|c| ms(c.to_first_answer))
                .collect(),
        )
    };
    let python = measured.contains_key(PYTHON);
    println!(
        "\nmedians over {} cold start(s) each:",
        measured.values().next().map_or(0, Vec::len)
    );
    println!(
        "  {:<24} {:>14} {:>16} {:>18}  first answer",
        "bootstrap", "first poll ms", "first answer ms", "python / this"
    );
    for launch in launches {
        let name = launch.function.as_str();
        let ratio = if python && name != PYTHON {
            format!("{:.1}x", poll(PYTHON) / poll(name))
        } else {
            "-".to_owned()
        };
        let outcome = match &answers[name] {
            Answer::Response => "response".to_owned(),
            Answer::Error(kind) => format!("error {kind}"),
        };
        println!(
            "  {:<24} {:>14.1} {:>16.1} {:>18}  {outcome}",
            name,
            poll(name),
            answer(name),
            ratio
        );
    }
    if !python {
        println!("  (no Python side: see the NOTE above)");
    }
}
