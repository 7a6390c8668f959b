//! `purgeflow asl test DIR...`: run conformance case files on the engine and report.
//!
//! The last line is always `N passed, M failed` (with `, K skipped` when some cases could not be
//! judged; their reasons are printed above it), so scripts can read the totals.
//!
//! Both kinds of recorded case run: executions (`executions/*.json`) on the engine, and
//! TestState calls (`test_state/*.json`, feature tag `test_state`) on the engine's TestState.

use anyhow::{Context, bail};
use purgeflow_asl::conformance::runner::load_error_outcome;
use purgeflow_asl::conformance::test_state_case::{is_test_state_case, run_test_state_case};
use purgeflow_asl::conformance::{
    Case, CaseOutcome, RunSettings, Summary, Verdict as CaseVerdict, load_dir, run_case,
};

use crate::Verdict;
use crate::args::AslTestArgs;

pub(crate) fn run(args: &AslTestArgs) -> anyhow::Result<Verdict> {
    let (cases, already_run) = load(args)?;
    let settings = RunSettings::default();
    let mut outcomes = already_run;
    for outcome in &outcomes {
        report(outcome, args.verbose);
    }
    for case in &cases {
        let outcome = run_case(case, &settings);
        report(&outcome, args.verbose);
        outcomes.push(outcome);
    }

    let summary = Summary::of(&outcomes);
    if !summary.tags.is_empty() {
        println!("pass rate per feature tag:");
        for line in summary.tag_lines() {
            println!("  {line}");
        }
    }
    let skipped: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match &o.verdict {
            CaseVerdict::Skipped(reason) => Some((o.name.as_str(), reason.as_str())),
            _ => None,
        })
        .collect();
    if !skipped.is_empty() {
        let noun = if skipped.len() == 1 { "case" } else { "cases" };
        println!("{} {noun} could not be judged:", skipped.len());
        for (name, reason) in skipped {
            println!("  {name}: {reason}");
        }
    }
    println!("{}", summary.line());
    Ok(if summary.failed == 0 {
        Verdict::Ok
    } else {
        Verdict::NotOk
    })
}

/// The feature tag of TestState cases.
const TEST_STATE_TAG: &str = "test_state";

/// The execution cases to run (filtered by tag), and the outcomes of the TestState cases (run
/// here) and of files that are not valid cases.
fn load(args: &AslTestArgs) -> anyhow::Result<(Vec<Case>, Vec<CaseOutcome>)> {
    let mut cases = Vec::new();
    let mut already_run = Vec::new();
    let mut files = 0;
    let tag_allows = |features: &[String]| {
        args.tag
            .as_ref()
            .is_none_or(|tag| features.iter().any(|f| f == tag))
    };
    for dir in &args.dirs {
        // A single case file is accepted too, to rerun one case.
        let loaded = if dir.is_file() {
            vec![Case::load(dir)]
        } else {
            load_dir(dir).with_context(|| format!("cannot read case folder {}", dir.display()))?
        };
        files += loaded.len();
        for entry in loaded {
            match entry {
                Ok(case) => cases.push(case),
                Err(error) => {
                    let outcome = run_if_test_state(&error.file)
                        .unwrap_or_else(|| load_error_outcome(&error));
                    // A file without tags cannot match a tag filter.
                    if tag_allows(&outcome.features) {
                        already_run.push(outcome);
                    }
                }
            }
        }
    }
    if files == 0 {
        bail!("no case files (*.json) found in the given folders or their executions/ folders");
    }
    if let Some(tag) = &args.tag {
        cases.retain(|case| tag_allows(&case.features));
        if cases.is_empty() && already_run.is_empty() {
            bail!(
                "no case has the feature tag {tag:?} (tags look like `jsonata`, `state:Map`, `choice:IsNull`, `{TEST_STATE_TAG}`)"
            );
        }
    }
    Ok((cases, already_run))
}

/// The outcome of a TestState case file, run and judged; `None` when the file is not one.
fn run_if_test_state(file: &std::path::Path) -> Option<CaseOutcome> {
    let case: serde_json::Value = std::fs::read_to_string(file)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())?;
    if !is_test_state_case(&case) {
        return None;
    }
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let verdict = match run_test_state_case(&case) {
        Ok(None) => CaseVerdict::Passed,
        Ok(Some(reason)) => CaseVerdict::Failed(reason),
        Err(reason) => CaseVerdict::Skipped(format!("not a usable TestState case: {reason}")),
    };
    Some(CaseOutcome {
        name,
        features: vec![TEST_STATE_TAG.to_owned()],
        verdict,
    })
}

fn report(outcome: &CaseOutcome, verbose: bool) {
    match &outcome.verdict {
        CaseVerdict::Failed(reason) => println!("FAIL {}: {reason}", outcome.name),
        CaseVerdict::Passed if verbose => println!("ok   {}", outcome.name),
        CaseVerdict::Skipped(reason) if verbose => println!("skip {}: {reason}", outcome.name),
        _ => {}
    }
}
