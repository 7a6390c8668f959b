//! One Lambda cold start, measured as the Lambda service would see it: spawn the bootstrap with
//! the environment the service sets, serve it the Runtime API ([`crate::lambda_runtime_api`]),
//! and time spawn → first `next` poll (init: the SDK clients are built by then) and spawn →
//! first answer (`/response` or `/error` for the one event). The process is killed afterwards.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::lambda_runtime_api::{Arrival, RuntimeApi};

/// How long a bootstrap may take to poll, and then to answer.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A bootstrap to start cold.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The function's name (`AWS_LAMBDA_FUNCTION_NAME`).
    pub function: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The working directory (`LAMBDA_TASK_ROOT`).
    pub task_root: PathBuf,
    /// `AWS_EXECUTION_ENV`: `AWS_Lambda_provided.al2023` or `AWS_Lambda_python3.11`.
    pub execution_env: String,
    /// The function's own variables (purgeflow's `PURGE_*`, `AWS_ENDPOINT_URL`, ...).
    pub env: Vec<(String, String)>,
    /// The one event served.
    pub event: Vec<u8>,
}

/// How the one invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Response,
    /// The runtime's `errorType`.
    Error(String),
}

/// What one cold start took.
#[derive(Debug, Clone, PartialEq)]
pub struct ColdStart {
    /// Spawn → first `next` poll.
    pub to_first_poll: Duration,
    /// Spawn → the answer to the first event.
    pub to_first_answer: Duration,
    pub answer: Answer,
}

/// The variables the Lambda service sets for every function (AWS's "defined runtime environment
/// variables"), with placeholder credentials so no SDK looks any further for them.
fn service_env(launch: &Launch, api: &RuntimeApi) -> Vec<(String, String)> {
    let task_root = launch.task_root.display().to_string();
    let pairs = [
        ("AWS_LAMBDA_RUNTIME_API", api.address()),
        ("AWS_LAMBDA_FUNCTION_NAME", launch.function.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", launch.function),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/12/06/[$LATEST]0123456789abcdef".into(),
        ),
        ("AWS_EXECUTION_ENV", launch.execution_env.clone()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE".into()),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        ),
        ("AWS_SESSION_TOKEN", "cold-start-harness".into()),
        ("LAMBDA_TASK_ROOT", task_root.clone()),
        ("LAMBDA_RUNTIME_DIR", task_root),
        ("TZ", ":UTC".into()),
        ("LANG", "en_US.UTF-8".into()),
        (
            "PATH",
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
        ),
    ];
    pairs
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

/// Kills the bootstrap whatever happens, so no measured process outlives its measure.
#[derive(Debug)]
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `launch` cold once and times it.
pub fn measure(launch: &Launch) -> Result<ColdStart, String> {
    let arn = format!(
        "arn:aws:lambda:us-east-1:123456789012:function:{}",
        launch.function
    );
    let api = RuntimeApi::serve(launch.event.clone(), &arn)
        .map_err(|e| format!("cannot serve the Runtime API: {e}"))?;
    let mut command = Command::new(&launch.program);
    command
        .args(&launch.args)
        .current_dir(&launch.task_root)
        .env_clear()
        .envs(service_env(launch, &api))
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        // Logs go to CloudWatch in AWS; here they would only cost the terminal's time.
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let spawned = Instant::now();
    let mut running = Running(
        command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", launch.program.display()))?,
    );
    let mut first_poll = None;
    loop {
        let Some((at, arrival)) = api.next_arrival(PATIENCE) else {
            let status = running.0.try_wait().ok().flatten();
            return Err(format!(
                "{}: nothing arrived within {PATIENCE:?} (process status: {status:?})",
                launch.function
            ));
        };
        match arrival {
            Arrival::Next if first_poll.is_none() => first_poll = Some(at - spawned),
            Arrival::Next => {}
            Arrival::Response { .. } | Arrival::Error { .. } => {
                let Some(to_first_poll) = first_poll else {
                    return Err(format!("{}: answered before polling", launch.function));
                };
                let answer = match arrival {
                    Arrival::Error { body } => Answer::Error(error_type(&body)),
                    _ => Answer::Response,
                };
                return Ok(ColdStart {
                    to_first_poll,
                    to_first_answer: at - spawned,
                    answer,
                });
            }
            Arrival::InitError { body } => {
                return Err(format!("{}: init failed: {body}", launch.function));
            }
            Arrival::Unexpected { request } => {
                return Err(format!(
                    "{}: unexpected Runtime API request {request}",
                    launch.function
                ));
            }
        }
    }
}

fn error_type(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["errorType"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "unnamed".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shell script standing in for a bootstrap: it polls with curl-free bash (/dev/tcp), so
    /// the measure's bookkeeping is checked without building a Lambda.
    #[test]
    fn a_bootstrap_that_polls_and_answers_is_timed_in_order() {
        let script = r#"
host=${AWS_LAMBDA_RUNTIME_API%:*}; port=${AWS_LAMBDA_RUNTIME_API#*:}
exec 3<>/dev/tcp/$host/$port
printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n' >&3
while IFS= read -r line <&3; do [ "${line%$'\r'}" = "" ] && break; done
head -c 2 <&3 >/dev/null
body='{"errorType":"PurgeFlow.Transient","errorMessage":"x"}'
printf 'POST /2018-06-01/runtime/invocation/id/error HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s' ${#body} "$body" >&3
sleep 5
"#;
        let launch = Launch {
            function: "script".into(),
            program: "bash".into(),
            args: vec!["-c".into(), script.into()],
            task_root: std::env::temp_dir(),
            execution_env: "AWS_Lambda_provided.al2023".into(),
            env: Vec::new(),
            event: b"{}".to_vec(),
        };
        let measured = measure(&launch).expect("the script polls and answers");
        assert_eq!(measured.answer, Answer::Error("PurgeFlow.Transient".into()));
        assert!(measured.to_first_poll <= measured.to_first_answer);
    }

    #[test]
    fn a_bootstrap_that_exits_without_polling_is_an_error_not_a_figure() {
        let launch = Launch {
            function: "quitter".into(),
            program: "bash".into(),
            args: vec![
                "-c".into(),
                r#"printf 'POST /2018-06-01/runtime/init/error HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}' > /dev/tcp/${AWS_LAMBDA_RUNTIME_API%:*}/${AWS_LAMBDA_RUNTIME_API#*:}"#.into(),
            ],
            task_root: std::env::temp_dir(),
            execution_env: "AWS_Lambda_provided.al2023".into(),
            env: Vec::new(),
            event: b"{}".to_vec(),
        };
        let error = measure(&launch).expect_err("no poll, no figure");
        assert!(error.contains("init failed"), "{error}");
    }
}
