//! `purgeflow asl test DIR...`: run conformance case files on the engine and report.
//!
//! The last line is always `N passed, M failed` (with `, K skipped` when some cases could not be
//! judged; their reasons are printed above it), so scripts can read the totals.

use anyhow::{Context, bail};
use purgeflow_asl::conformance::runner::load_error_outcome;
use purgeflow_asl::conformance::{
    Case, CaseOutcome, RunSettings, Summary, Verdict as CaseVerdict, load_dir, run_case,
};

use crate::Verdict;
use crate::args::AslTestArgs;

pub(crate) fn run(args: &AslTestArgs) -> anyhow::Result<Verdict> {
    let (cases, unreadable) = load(args)?;
    let settings = RunSettings::default();
    let mut outcomes = unreadable;
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

/// The cases to run (filtered by tag) and outcomes for files that are not valid cases.
fn load(args: &AslTestArgs) -> anyhow::Result<(Vec<Case>, Vec<CaseOutcome>)> {
    let mut cases = Vec::new();
    let mut unreadable = Vec::new();
    let mut files = 0;
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
                // A file without tags cannot match a tag filter.
                Err(error) if args.tag.is_none() => unreadable.push(load_error_outcome(&error)),
                Err(_) => {}
            }
        }
    }
    if files == 0 {
        bail!("no case files (*.json) found in the given folders or their executions/ folders");
    }
    if let Some(tag) = &args.tag {
        cases.retain(|case| case.features.iter().any(|f| f == tag));
        if cases.is_empty() {
            bail!(
                "no case has the feature tag {tag:?} (tags look like `jsonata`, `state:Map`, `choice:IsNull`)"
            );
        }
    }
    Ok((cases, unreadable))
}

fn report(outcome: &CaseOutcome, verbose: bool) {
    match &outcome.verdict {
        CaseVerdict::Failed(reason) => println!("FAIL {}: {reason}", outcome.name),
        CaseVerdict::Passed if verbose => println!("ok   {}", outcome.name),
        CaseVerdict::Skipped(reason) if verbose => println!("skip {}: {reason}", outcome.name),
        _ => {}
    }
}
