//! TestState conformance: every recorded AWS TestState call in
//! `../shared/asl-conformance/test_state`, run in place and judged by
//! `purgeflow_asl::conformance::test_state_case` (what `purgeflow asl test` uses too). Cases the engine does not pass yet are listed with a reason
//! in `known-failures-test-state.txt`. The test fails on a regression (a failing case not
//! listed) and on a listed case that passes now, so the list only shrinks;
//! `UPDATE_KNOWN_FAILURES=1` rewrites it from the current run instead. Run with
//! `-- --nocapture` to see the summary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use purgeflow_asl::conformance::test_state_case::run_test_state_case;
use serde_json::Value;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/asl-conformance/test_state")
}

fn known_failures_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("known-failures-test-state.txt")
}

/// `name<TAB>reason` lines; `#` comments.
fn read_known_failures(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once('\t') {
            Some((name, reason)) => (name.trim().to_owned(), reason.trim().to_owned()),
            None => (l.trim().to_owned(), String::new()),
        })
        .collect()
}

fn write_known_failures(path: &Path, failures: &BTreeMap<String, String>) {
    let mut text = String::from(
        "# TestState cases the engine does not pass yet, each with the first difference found.\n\
         # The list only shrinks: the test_state test fails when a case not listed here fails,\n\
         # and when a listed case passes (remove it then). Regenerate from a real run with\n\
         #   UPDATE_KNOWN_FAILURES=1 cargo test -p purgeflow-asl --test test_state\n",
    );
    for (name, reason) in failures {
        let reason: String = reason
            .chars()
            .take(300)
            .collect::<String>()
            .replace(['\n', '\t'], " ");
        text.push_str(&format!("{name}\t{reason}\n"));
    }
    std::fs::write(path, text).expect("the known-failures file is writable");
}

#[test]
fn recorded_aws_test_state_calls() {
    let dir = cases_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        let banner = "!".repeat(78);
        eprintln!(
            "{banner}\nSKIPPED: {} not found — TestState conformance NOT checked\n{banner}",
            dir.display()
        );
        println!(
            "SKIPPED: ../shared/asl-conformance/test_state not found — TestState conformance NOT checked"
        );
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "{} holds no case files: TestState conformance NOT checked",
        dir.display()
    );

    let mut failures = BTreeMap::new();
    for file in &files {
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let verdict = std::fs::read_to_string(file)
            .map_err(|e| format!("unreadable: {e}"))
            .and_then(|text| {
                serde_json::from_str::<Value>(&text).map_err(|e| format!("not JSON: {e}"))
            })
            .and_then(|case| run_test_state_case(&case));
        match verdict {
            Ok(None) => {}
            Ok(Some(reason)) | Err(reason) => {
                failures.insert(name, reason);
            }
        }
    }
    let passed = files.len() - failures.len();
    println!(
        "TestState conformance over {} cases in {}",
        files.len(),
        dir.display()
    );
    for (name, reason) in &failures {
        println!("FAIL {name}: {reason}");
    }
    println!("{passed} passed, {} failed", failures.len());

    let list_file = known_failures_file();
    if std::env::var_os("UPDATE_KNOWN_FAILURES").is_some() {
        write_known_failures(&list_file, &failures);
        println!("rewrote {}", list_file.display());
        return;
    }
    let known = read_known_failures(&list_file);
    let regressions: Vec<String> = failures
        .iter()
        .filter(|(name, _)| !known.contains_key(*name))
        .map(|(name, reason)| format!("{name}: {reason}"))
        .collect();
    let fixed: Vec<&String> = known
        .keys()
        .filter(|name| !failures.contains_key(*name))
        .collect();
    assert!(
        regressions.is_empty(),
        "{} TestState case(s) fail that are not in {}:\n{}",
        regressions.len(),
        list_file.display(),
        regressions.join("\n")
    );
    assert!(
        fixed.is_empty(),
        "{} case(s) listed in {} pass now: remove them\n{}",
        fixed.len(),
        list_file.display(),
        fixed
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
