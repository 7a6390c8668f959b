//! Running cases on the engine, one at a time, each guarded against hangs and panics so one
//! broken case cannot stop the suite.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::case::{Case, CaseLoadError, case_files};
use super::judge::{Verdict, judge, unjudgeable};
use crate::execution::{ExecutionOptions, ExecutionResult};
use crate::machine::StateMachine;

/// When the recorded executions started (see [`RunSettings::start_time`]).
pub const RECORDING_START: &str = "2026-11-21T03:57:56Z";

/// How cases are run. The defaults make every run identical.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Seeds jitter, random numbers and UUIDs.
    pub seed: u64,
    /// The virtual clock's start. The default is the recordings' own "now": their
    /// wait-until-timestamp inputs were made as "start + 1 minute" (`WAIT_1_MIN`,
    /// 2026-11-21T03:58:56Z), and a Wait that ends too far ahead fails ("Wait state delay is
    /// too long", one recorded case), so the clock has to start where the recording did.
    /// Waits cost no real time either way.
    pub start_time: DateTime<Utc>,
    /// Real time one case may take before it is reported as hung.
    pub timeout: Duration,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            seed: 0,
            start_time: DateTime::parse_from_rfc3339(RECORDING_START)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// One case's verdict, with what a report needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseOutcome {
    pub name: String,
    pub features: Vec<String>,
    pub verdict: Verdict,
}

/// Parses the definition and runs the case's execution. Definitions that the engine rejects are
/// failures: every recorded case ran on AWS, so its definition is valid.
pub async fn execute(case: &Case, settings: &RunSettings) -> Result<ExecutionResult, String> {
    let machine = StateMachine::from_value(&case.definition).map_err(|diagnostics| {
        let first = diagnostics
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        format!(
            "definition rejected ({} diagnostics): {first}",
            diagnostics.len()
        )
    })?;
    let options = ExecutionOptions {
        name: "conformance-execution".to_owned(),
        state_machine_name: "conformance-state-machine".to_owned(),
        machine_type: case.machine_type,
        seed: settings.seed,
        start_time: settings.start_time,
        ..ExecutionOptions::default()
    };
    Ok(machine.execute(case.input.clone(), &options).await)
}

/// Runs and judges one case. Blocking: the execution runs on its own thread so that a hang
/// becomes a failure after `settings.timeout` (the stuck thread is abandoned; the process
/// ends it on exit) and a panic becomes a failure with its message.
pub fn run_case(case: &Case, settings: &RunSettings) -> CaseOutcome {
    let outcome = |verdict| CaseOutcome {
        name: case.name.clone(),
        features: case.features.clone(),
        verdict,
    };
    if let Some(reason) = unjudgeable(case) {
        return outcome(Verdict::Skipped(reason));
    }
    let (sender, receiver) = mpsc::channel();
    let owned_case = case.clone();
    let owned_settings = settings.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("case {}", case.name))
        .spawn(move || {
            let result = futures::executor::block_on(execute(&owned_case, &owned_settings));
            // The receiver is gone only when the case already timed out; nothing is waiting then.
            let _ = sender.send(result);
        });
    let worker = match spawned {
        Ok(worker) => worker,
        Err(e) => {
            return outcome(Verdict::Failed(format!(
                "could not start a thread for the case: {e}"
            )));
        }
    };
    match receiver.recv_timeout(settings.timeout) {
        Ok(Ok(result)) => {
            let _ = worker.join();
            outcome(judge(case, &result))
        }
        Ok(Err(rejected)) => outcome(Verdict::Failed(rejected)),
        Err(mpsc::RecvTimeoutError::Timeout) => outcome(Verdict::Failed(format!(
            "engine did not finish within {:?} of real time (hang or runaway loop)",
            settings.timeout
        ))),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let message = worker
                .join()
                .err()
                .map(|payload| panic_message(payload.as_ref()))
                .unwrap_or_default();
            outcome(Verdict::Failed(format!("engine panicked: {message}")))
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

/// Loads every case under `dir` (see [`case_files`]). Files that are not valid cases are
/// returned as errors, not dropped, so a report can name them.
pub fn load_dir(dir: &Path) -> std::io::Result<Vec<Result<Case, CaseLoadError>>> {
    Ok(case_files(dir)?
        .iter()
        .map(|file| Case::load(file))
        .collect())
}

/// Runs `cases` in order, calling `progress` after each one (for streaming reports).
pub fn run_cases(
    cases: &[Case],
    settings: &RunSettings,
    mut progress: impl FnMut(&CaseOutcome),
) -> Vec<CaseOutcome> {
    cases
        .iter()
        .map(|case| {
            let outcome = run_case(case, settings);
            progress(&outcome);
            outcome
        })
        .collect()
}

/// The outcome reported for a file that is not a valid case: it cannot be judged.
pub fn load_error_outcome(error: &CaseLoadError) -> CaseOutcome {
    let name = error
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    CaseOutcome {
        name,
        features: Vec::new(),
        verdict: Verdict::Skipped(format!("unreadable case file: {}", error.message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_start_is_the_recording_start() {
        assert_eq!(
            RunSettings::default().start_time.to_rfc3339(),
            "2026-11-21T03:57:56+00:00"
        );
    }
}
