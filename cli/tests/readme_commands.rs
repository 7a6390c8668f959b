//! Every command in the README's `sh` blocks, run as written, in order, the way a new user
//! follows the README: in a fresh copy of the repository (its tracked top-level entries linked
//! into a temporary folder, with `../shared` beside it, and no `.local`), with `purgeflow` on the
//! PATH, against one moto server this test starts and stops (by PID, when dropped) for the
//! commands that need AWS.
//!
//! `cargo run [--release] -p purgeflow-cli -- ARGS` is run as `purgeflow ARGS`: the same binary,
//! already built for this test. A README command this test does not know fails it, so a new
//! command cannot be documented without being run here. The commands it does not run are in
//! [`NOT_RUN`], each with the reason.
//!
//! The environment the README asks for is set once, as a user would export it: the AWS endpoint
//! and region, and the `PURGE_*` variables `purgeflow local --provision` needs; `QUEUE_URL` and
//! `STATE_MACHINE_ARN` for the queue replay.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use purgeflow_cli::local::aws::{AwsClients, sdk_config};
use purgeflow_cli::local::moto::MotoServer;
use serde_json::{Value, json};

/// README commands this test does not run, and why.
const NOT_RUN: &[(&str, &str)] = &[
    (
        "bash tests/all.sh",
        "it is CI's own command, and this test is one of its parts",
    ),
    (
        "cdk/scripts/package-lambdas.sh",
        "cross-compiles the Lambdas for arm64 (cargo-lambda, zig) for a deploy",
    ),
    ("cd cdk && npx cdk deploy", "deploys to a real AWS account"),
];

const TABLE: &str = "readme-photos";
const BUCKET: &str = "readme-photos";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository root")
}

/// The commands of every ```sh block, continuation lines joined, comments dropped.
fn readme_commands(readme: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in readme.lines() {
        if !in_sh {
            in_sh = line.trim() == "```sh";
            continue;
        }
        if line.trim() == "```" {
            in_sh = false;
            continue;
        }
        let code = match line.find(" #") {
            Some(at) => &line[..at],
            None => line,
        };
        let code = code.trim();
        if code.is_empty() || code.starts_with('#') {
            continue;
        }
        match code.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head.trim_end());
                pending.push(' ');
            }
            None => {
                pending.push_str(code);
                commands.push(std::mem::take(&mut pending));
            }
        }
    }
    commands
}

/// A fresh copy of the repository: its top-level entries linked into `root/repo`, `../shared`
/// linked beside it, nothing built or run there yet.
fn fresh_copy(root: &Path) -> PathBuf {
    let repo = repo();
    let copy = root.join("repo");
    std::fs::create_dir_all(&copy).expect("the copy's folder");
    for entry in std::fs::read_dir(&repo).expect("the repository").flatten() {
        let name = entry.file_name();
        // Ignored by git: what a build or a run leaves, not what a clone has. `.venv` holds
        // moto, which the demo would otherwise install again.
        if ["target", ".local", ".git", "node_modules"]
            .iter()
            .any(|skip| name == *skip)
        {
            continue;
        }
        std::os::unix::fs::symlink(entry.path(), copy.join(&name)).expect("link an entry");
    }
    let shared = repo.join("../shared");
    if shared.is_dir() {
        std::os::unix::fs::symlink(&shared, root.join("shared")).expect("link ../shared");
    }
    copy
}

struct Shell {
    dir: PathBuf,
    path: String,
    env: Vec<(String, String)>,
}

impl Shell {
    fn command(&self, command: &str) -> Command {
        let mut shell = Command::new("sh");
        shell
            .args(["-c", command])
            .current_dir(&self.dir)
            .env("PATH", &self.path)
            .env_remove("AWS_PROFILE");
        for (name, value) in &self.env {
            shell.env(name, value);
        }
        shell
    }

    fn run(&self, command: &str) -> Output {
        let started = Instant::now();
        let output = self.command(command).output().expect("sh runs");
        eprintln!(
            "ran in {:.1} s: {command} -> {}",
            started.elapsed().as_secs_f64(),
            output.status
        );
        output
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_exit(output: &Output, codes: &[i32], command: &str) {
    assert!(
        output.status.code().is_some_and(|c| codes.contains(&c)),
        "`{command}` exited {}, not {codes:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// `cargo run [--release] -p purgeflow-cli -- ARGS` → `purgeflow ARGS`.
fn as_installed(command: &str) -> String {
    for prefix in [
        "cargo run -p purgeflow-cli -- ",
        "cargo run --release -p purgeflow-cli -- ",
    ] {
        if let Some(args) = command.strip_prefix(prefix) {
            return format!("purgeflow {args}");
        }
    }
    command.to_owned()
}

/// What the AWS side needs before and between the commands.
struct Aws {
    clients: AwsClients,
    runtime: tokio::runtime::Runtime,
}

impl Aws {
    fn block<T>(&self, future: impl Future<Output = T>) -> T {
        self.runtime.block_on(future)
    }

    /// A photo: its object and its item.
    fn upload(&self, id: &str, key: &str) {
        self.block(async {
            self.clients
                .s3
                .put_object()
                .bucket(BUCKET)
                .key(key)
                .body(b"jpeg".to_vec().into())
                .send()
                .await
                .expect("PutObject");
            self.clients
                .dynamodb
                .put_item()
                .table_name(TABLE)
                .item("id", AttributeValue::S(id.into()))
                .item("image_key", AttributeValue::S(key.into()))
                .send()
                .await
                .expect("PutItem");
        });
    }

    /// `report` with its replayInput signed by the MAC key `--provision` made, as ReportFailures
    /// signs it (moto's KMS GenerateMac).
    fn signed(&self, key_id: &str, mut report: Value) -> Value {
        let input: purgeflow_tasks::contract::ExecutionInput =
            serde_json::from_value(report["replayInput"].clone()).expect("an execution input");
        let key = purgeflow_tasks::signing::MacKey::new(self.clients.kms.clone(), key_id);
        let signed = self.block(key.signed(input)).expect("GenerateMac");
        report["replayInput"] = serde_json::to_value(signed).expect("JSON");
        report
    }

    fn delete_item(&self, id: &str) {
        self.block(async {
            self.clients
                .dynamodb
                .delete_item()
                .table_name(TABLE)
                .key("id", AttributeValue::S(id.into()))
                .send()
                .await
                .expect("DeleteItem");
        });
    }

    fn object_exists(&self, key: &str) -> bool {
        self.block(async {
            self.clients
                .s3
                .head_object()
                .bucket(BUCKET)
                .key(key)
                .send()
                .await
                .is_ok()
        })
    }

    fn queue_depth(&self, queue_url: &str) -> usize {
        self.block(async {
            let mut seen = std::collections::BTreeSet::new();
            loop {
                let page = self
                    .clients
                    .sqs
                    .receive_message()
                    .queue_url(queue_url)
                    .max_number_of_messages(10)
                    .visibility_timeout(0)
                    .wait_time_seconds(0)
                    .send()
                    .await
                    .expect("ReceiveMessage");
                let messages = page.messages.unwrap_or_default();
                let before = seen.len();
                seen.extend(messages.iter().filter_map(|m| m.message_id.clone()));
                if messages.is_empty() || seen.len() == before {
                    return seen.len();
                }
            }
        })
    }
}

/// A failure report whose replayInput deletes `key` again (what ReportFailures publishes when
/// a delete failed).
fn report(key: &str, batch: &str) -> Value {
    json!({
        "reportVersion": 1,
        "executionName": format!("exec-{batch}"),
        "batchId": batch,
        "part": 1,
        "parts": 1,
        "rejections": [],
        "deleteFailures": [{"bucket": BUCKET, "key": key, "code": "AccessDenied", "message": "held"}],
        "failedInvalidations": [],
        "replayInput": {
            "batchId": batch,
            "records": [],
            "targets": [{
                "bucket": BUCKET,
                "key": key,
                "paths": [format!("/{key}")],
                "eventId": format!("event-{batch}"),
                "tableKeys": {"id": {"S": format!("gone-{batch}")}}
            }]
        }
    })
}

#[test]
fn every_readme_command_runs_as_written() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let commands = readme_commands(&readme);
    assert!(commands.len() >= 15, "{commands:#?}");

    let root = std::env::temp_dir().join(format!("purgeflow-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let copy = fresh_copy(&root);
    let has_shared = root.join("shared/asl-conformance").is_dir();

    let moto = MotoServer::start().expect("moto starts (installed into .venv/moto if missing)");
    let endpoint = moto.endpoint_url();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let clients = runtime.block_on(async { AwsClients::new(&sdk_config(Some(&endpoint)).await) });
    let aws = Aws { clients, runtime };

    let binary_dir = Path::new(env!("CARGO_BIN_EXE_purgeflow"))
        .parent()
        .expect("the binary's folder")
        .to_owned();
    let mut shell = Shell {
        dir: copy.clone(),
        path: format!(
            "{}:{}",
            binary_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
        env: vec![
            ("AWS_ENDPOINT_URL".into(), endpoint.clone()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID".into(), "test".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
            ("PURGE_TABLE_NAME".into(), TABLE.into()),
            ("PURGE_BUCKET".into(), BUCKET.into()),
            ("PURGE_KEY_TEMPLATE".into(), "{image_key}".into()),
            ("PURGE_KEY_PREFIX".into(), "images/".into()),
        ],
    };

    let mut ran = Vec::new();
    for command in &commands {
        if let Some((_, why)) = NOT_RUN.iter().find(|(c, _)| command.starts_with(c)) {
            eprintln!("not run: {command}: {why}");
            continue;
        }
        let command = as_installed(command);
        if ran.contains(&command) {
            // The demo is shown three times; once is enough.
            continue;
        }
        let words: Vec<&str> = command.split_whitespace().collect();
        match words.as_slice() {
            ["cargo", "install", "--path", "cli", "--locked"] => {
                // tests/all.sh runs it (into a folder of its own rather than the user's
                // ~/.cargo/bin): here it would relink the binary the other tests run.
                continue;
            }
            ["purgeflow", "asl", "test", ..] if !has_shared => {
                eprintln!("SKIPPED: ../shared/asl-conformance not found; `{command}` NOT run");
                continue;
            }
            ["purgeflow", "asl", "test", ..] => {
                let out = shell.run(&command);
                // Some recorded cases still fail (listed in the known-failures files): exit 1.
                assert_exit(&out, &[0, 1], &command);
                let last = text(&out.stdout)
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .to_owned();
                assert!(
                    last.contains(" passed, ") && last.contains(" failed"),
                    "`{command}` ends with {last:?}"
                );
                assert!(!last.starts_with("0 passed"), "`{command}`: {last}");
            }
            ["purgeflow", "local", "--provision", "--once"] => {
                let out = shell.run(&command);
                assert_exit(&out, &[0], &command);
                let notes = text(&out.stderr);
                assert!(
                    notes.contains("export PURGE_DISTRIBUTION_ID=")
                        && notes.contains("export PURGE_TOPIC_ARN="),
                    "the export lines are printed: {notes}"
                );
                assert!(copy.join(".local/provisioned.json").is_file());
                // Deletes after the first run: the second command must purge them.
                aws.upload("p1", "images/p1.jpg");
                aws.upload("p2", "images/p2.jpg");
                aws.delete_item("p1");
            }
            ["purgeflow", "local", "--json"] => {
                let execution = run_until_an_execution(&shell, &command);
                assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
                assert!(!aws.object_exists("images/p1.jpg"), "p1's item was deleted");
                assert!(aws.object_exists("images/p2.jpg"), "p2's item was kept");
                prepare_replays(&aws, &mut shell, &copy);
            }
            ["purgeflow", "replay", "failure-reports.json", "--dry-run"] => {
                let out = shell.run(&command);
                assert_exit(&out, &[0], &command);
                assert!(
                    text(&out.stdout).contains("1 execution(s) would start"),
                    "{}",
                    text(&out.stdout)
                );
                assert!(
                    aws.object_exists("images/p2.jpg"),
                    "a dry run deletes nothing"
                );
            }
            ["purgeflow", "replay", "failure-reports.json"] => {
                let out = shell.run(&command);
                assert_exit(&out, &[0], &command);
                assert!(!aws.object_exists("images/p2.jpg"), "the replay deleted it");
            }
            ["purgeflow", "replay", "--queue-url", ..] => {
                let queue_url = shell
                    .env
                    .iter()
                    .find(|(k, _)| k == "QUEUE_URL")
                    .map(|(_, v)| v.clone())
                    .expect("QUEUE_URL is set");
                assert_eq!(aws.queue_depth(&queue_url), 1, "one report waits");
                let out = shell.run(&command);
                assert_exit(&out, &[0], &command);
                assert!(
                    text(&out.stdout).contains("1 succeeded or started"),
                    "{}",
                    text(&out.stdout)
                );
                assert_eq!(
                    aws.queue_depth(&queue_url),
                    0,
                    "the replayed report is deleted"
                );
            }
            ["purgeflow", ..] => {
                let out = shell.run(&command);
                assert_exit(&out, &[0], &command);
            }
            _ => panic!(
                "README command `{command}` is not run by this test: teach it how, or list it in NOT_RUN with the reason"
            ),
        }
        ran.push(command);
    }
    drop(moto);
    std::fs::remove_dir_all(&root).ok();
    eprintln!("{} README command(s) ran as written", ran.len());
}

/// Runs `purgeflow local --json` (which polls forever) until it prints an execution, then
/// stops it by its PID. The execution line.
fn run_until_an_execution(shell: &Shell, command: &str) -> Value {
    // `exec`: the PID is purgeflow's own, not a shell's, so stopping it stops purgeflow.
    let mut child = shell
        .command(&format!("exec {command}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start purgeflow local");
    let stdout = child.stdout.take().expect("stdout");
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    let found = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(line) => {
                let event: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("--json prints JSON lines: {e}: {line}"));
                if event["event"] == "execution" {
                    break Some(event);
                }
                seen.push(line);
            }
            Err(_) => break None,
        }
    };
    child.kill().expect("stop purgeflow local");
    child.wait().expect("reap purgeflow local");
    found.unwrap_or_else(|| panic!("`{command}` printed no execution in 120 s: {seen:#?}"))
}

/// The replay commands' inputs: `failure-reports.json` in the copy, one report on the failure
/// queue, a state machine to start on; their names in `QUEUE_URL` and `STATE_MACHINE_ARN`.
fn prepare_replays(aws: &Aws, shell: &mut Shell, copy: &Path) {
    let provisioned: Value = serde_json::from_str(
        &std::fs::read_to_string(copy.join(".local/provisioned.json")).expect("provisioned.json"),
    )
    .expect("JSON");
    let queue_url = provisioned["queueUrl"]
        .as_str()
        .expect("queueUrl")
        .to_owned();
    let mac_key_id = provisioned["macKeyId"]
        .as_str()
        .expect("macKeyId")
        .to_owned();
    std::fs::write(
        copy.join("failure-reports.json"),
        serde_json::to_string_pretty(&aws.signed(&mac_key_id, report("images/p2.jpg", "readme-1")))
            .expect("JSON"),
    )
    .expect("write failure-reports.json");
    let queued = aws
        .signed(&mac_key_id, report("images/p3.jpg", "readme-2"))
        .to_string();
    let state_machine_arn = aws.block(async {
        aws.clients
            .sqs
            .send_message()
            .queue_url(&queue_url)
            .message_body(queued)
            .send()
            .await
            .expect("SendMessage");
        aws.clients
            .sfn
            .create_state_machine()
            .name("purge")
            .role_arn("arn:aws:iam::000000000000:role/purge")
            .definition(
                std::fs::read_to_string(copy.join("statemachine/purge.asl.json"))
                    .expect("definition"),
            )
            .send()
            .await
            .expect("CreateStateMachine")
            .state_machine_arn
    });
    shell.env.push(("QUEUE_URL".into(), queue_url));
    shell
        .env
        .push(("STATE_MACHINE_ARN".into(), state_machine_arn));
}

#[test]
fn commands_are_read_from_sh_blocks_only() {
    let readme = "text\n```sh\ncargo run -p purgeflow-cli -- demo   # the demo\n# a comment\n\
                  cd cdk && npx cdk deploy -c a=b \\\n  -c c=d\n```\n```text\nnot a command\n```\n";
    assert_eq!(
        readme_commands(readme),
        [
            "cargo run -p purgeflow-cli -- demo",
            "cd cdk && npx cdk deploy -c a=b -c c=d"
        ]
    );
    assert_eq!(
        as_installed("cargo run --release -p purgeflow-cli -- simulate --svg x.svg"),
        "purgeflow simulate --svg x.svg"
    );
}
