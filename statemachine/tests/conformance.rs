//! ASL conformance: every recorded AWS execution in `../shared/asl-conformance/executions`,
//! run in place on this engine and judged by `purgeflow_asl::conformance`.
//!
//! Cases the engine does not pass yet are listed in `known-failures.txt` with a reason. The
//! test fails on a regression (a failing case that is not listed) and on a listed case that
//! passes now, so the list only shrinks. `UPDATE_KNOWN_FAILURES=1` rewrites the list from
//! the current run instead. Run with `-- --nocapture` to see the summary and pass rates.

use std::path::{Path, PathBuf};

use purgeflow_asl::conformance::runner::load_error_outcome;
use purgeflow_asl::conformance::{
    KnownFailures, RunSettings, Summary, Verdict, load_dir, run_cases,
};

fn cases_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/asl-conformance");
    // Canonical for readable messages; an absent folder keeps the joined path for the report.
    dir.canonicalize().unwrap_or(dir)
}

fn known_failures_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("known-failures.txt")
}

#[test]
fn recorded_aws_executions() {
    let dir = cases_dir();
    if !dir.join("executions").is_dir() {
        let banner = "!".repeat(78);
        eprintln!(
            "{banner}\nSKIPPED: {} not found — ASL conformance NOT checked\n{banner}",
            dir.display()
        );
        println!("SKIPPED: ../shared/asl-conformance not found — conformance NOT checked");
        return;
    }

    let loaded = load_dir(&dir).expect("the conformance folder exists, so it must be readable");
    let mut cases = Vec::new();
    let mut outcomes = Vec::new();
    for entry in loaded {
        match entry {
            Ok(case) => cases.push(case),
            Err(error) => outcomes.push(load_error_outcome(&error)),
        }
    }
    outcomes.extend(run_cases(&cases, &RunSettings::default(), |_| {}));
    assert!(
        !outcomes.is_empty(),
        "{} holds no case files: conformance NOT checked",
        dir.display()
    );

    let summary = Summary::of(&outcomes);
    println!(
        "ASL conformance over {} cases in {}",
        outcomes.len(),
        dir.display()
    );
    println!("pass rate per feature tag:");
    for line in summary.tag_lines() {
        println!("  {line}");
    }
    for outcome in &outcomes {
        match &outcome.verdict {
            Verdict::Failed(reason) => println!("FAIL {}: {reason}", outcome.name),
            Verdict::Skipped(reason) => println!("skipped {}: {reason}", outcome.name),
            Verdict::Passed => {}
        }
    }
    if dir.join("test_state").is_dir() {
        println!(
            "note: the TestState cases in {} are checked by tests/test_state.rs, not here",
            dir.join("test_state").display()
        );
    }
    println!("{}", summary.line());

    let list_file = known_failures_file();
    if std::env::var_os("UPDATE_KNOWN_FAILURES").is_some_and(|v| v == "1") {
        std::fs::write(&list_file, KnownFailures::render(&outcomes))
            .expect("write known-failures.txt");
        println!(
            "rewrote {} with {} failing cases",
            list_file.display(),
            summary.failed
        );
        return;
    }

    let listed = match std::fs::read_to_string(&list_file) {
        Ok(text) => {
            KnownFailures::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", list_file.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => KnownFailures::default(),
        Err(e) => panic!("cannot read {}: {e}", list_file.display()),
    };
    let check = listed.check(&outcomes);
    let mut problems = Vec::new();
    if !check.regressions.is_empty() {
        problems.push(format!(
            "{} failing cases are not in known-failures.txt (regressions):",
            check.regressions.len()
        ));
        problems.extend(
            check
                .regressions
                .iter()
                .map(|(name, reason)| format!("  {name}  # {reason}")),
        );
    }
    if !check.now_passing.is_empty() {
        problems.push(format!(
            "{} cases in known-failures.txt pass now; remove these lines:",
            check.now_passing.len()
        ));
        problems.extend(check.now_passing.iter().map(|name| format!("  {name}")));
    }
    if !check.unknown.is_empty() {
        problems.push(format!(
            "{} names in known-failures.txt match no case; remove them:",
            check.unknown.len()
        ));
        problems.extend(check.unknown.iter().map(|name| format!("  {name}")));
    }
    assert!(
        problems.is_empty(),
        "conformance differs from known-failures.txt\n{}",
        problems.join("\n")
    );
}
