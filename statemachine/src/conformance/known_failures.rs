//! The checked-in list of cases the engine does not pass yet, one `name  # reason` per line.
//!
//! The list only shrinks: a failing case that is not listed is a regression, and a listed case
//! that passes must be removed from the list.

use std::collections::{BTreeMap, BTreeSet};

use super::judge::Verdict;
use super::runner::CaseOutcome;

/// Case name → the reason it fails.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownFailures {
    pub entries: BTreeMap<String, String>,
}

/// How a run compares with the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Check {
    /// Failing cases that are not listed: (name, reason).
    pub regressions: Vec<(String, String)>,
    /// Listed cases that pass now: take them off the list.
    pub now_passing: Vec<String>,
    /// Listed names that no case has (renamed or removed cases).
    pub unknown: Vec<String>,
}

impl Check {
    pub fn is_clean(&self) -> bool {
        self.regressions.is_empty() && self.now_passing.is_empty() && self.unknown.is_empty()
    }
}

impl KnownFailures {
    /// Parses the file. Blank lines and lines starting with `#` are comments.
    pub fn parse(text: &str) -> Result<KnownFailures, String> {
        let mut entries = BTreeMap::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, reason) = match line.split_once('#') {
                Some((name, reason)) => (name.trim(), reason.trim()),
                None => (line, ""),
            };
            if name.contains(char::is_whitespace) {
                return Err(format!(
                    "line {}: expected `case_name  # reason`, got {line:?}",
                    number + 1
                ));
            }
            if entries.insert(name.to_owned(), reason.to_owned()).is_some() {
                return Err(format!("line {}: {name} is listed twice", number + 1));
            }
        }
        Ok(KnownFailures { entries })
    }

    /// Compares a run with the list.
    pub fn check(&self, outcomes: &[CaseOutcome]) -> Check {
        let mut check = Check::default();
        let mut seen = BTreeSet::new();
        for outcome in outcomes {
            seen.insert(outcome.name.as_str());
            let listed = self.entries.contains_key(&outcome.name);
            match &outcome.verdict {
                Verdict::Failed(reason) if !listed => check
                    .regressions
                    .push((outcome.name.clone(), reason.clone())),
                Verdict::Passed if listed => check.now_passing.push(outcome.name.clone()),
                _ => {}
            }
        }
        check.unknown = self
            .entries
            .keys()
            .filter(|name| !seen.contains(name.as_str()))
            .cloned()
            .collect();
        check
    }

    /// The file for a run: every failing case with its reason, grouped by what differed
    /// (`status`, `output`, `history: MapIterationStarted event`, ...) so the groups read as a
    /// work list.
    pub fn render(outcomes: &[CaseOutcome]) -> String {
        let mut groups: BTreeMap<String, Vec<(&str, &str)>> = BTreeMap::new();
        for outcome in outcomes {
            if let Verdict::Failed(reason) = &outcome.verdict {
                groups
                    .entry(group_of(reason))
                    .or_default()
                    .push((outcome.name.as_str(), reason.as_str()));
            }
        }
        let mut text = String::from(
            "# ASL conformance cases the engine does not pass yet, each with the first difference found.\n\
             # The list only shrinks: the conformance test fails when a case not listed here fails, and when\n\
             # a listed case passes (remove it then). Regenerate from a real run with\n\
             #   UPDATE_KNOWN_FAILURES=1 cargo test -p purgeflow-asl --test conformance\n",
        );
        if groups.is_empty() {
            text.push_str("\n# No known failures: every case that can be judged passes.\n");
        }
        for (group, mut cases) in groups {
            cases.sort_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(b.0)));
            text.push_str(&format!("\n# == {group} ({}) ==\n", cases.len()));
            for (name, reason) in cases {
                // A reason stays on one line; a `#` inside it is harmless (the first one splits).
                text.push_str(&format!(
                    "{name}  # {}\n",
                    reason.replace(['\n', '\r'], " ")
                ));
            }
        }
        text
    }
}

/// The part of a reason that names what differed, without the values.
fn group_of(reason: &str) -> String {
    if let Some(rest) = reason.strip_prefix("history: ") {
        if let Some((event, _)) = rest.split_once(" event: ") {
            return format!("history: {event} event");
        }
        return "history: length".to_owned();
    }
    if let Some(rest) = reason.strip_prefix("status: ") {
        // "expected SUCCEEDED, got FAILED (States.Runtime: ...)" → keep the error name.
        let cut = rest.find(": ").unwrap_or(rest.len());
        let head = &rest[..cut];
        let head = head.strip_suffix(')').unwrap_or(head);
        return format!("status: {}", head.replace(" (", ", "));
    }
    reason.split(':').next().unwrap_or(reason).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(name: &str, verdict: Verdict) -> CaseOutcome {
        CaseOutcome {
            name: name.into(),
            features: vec![],
            verdict,
        }
    }

    #[test]
    fn parses_names_and_reasons() {
        let list = KnownFailures::parse("# header\n\na  # output: x\nb\n").expect("valid list");
        assert_eq!(list.entries["a"], "output: x");
        assert_eq!(list.entries["b"], "");
        assert!(KnownFailures::parse("a b # r").is_err());
        assert!(KnownFailures::parse("a # r\na # s").is_err());
    }

    #[test]
    fn finds_regressions_fixes_and_stale_names() {
        let list = KnownFailures::parse(
            "fixed # was broken\nstill # broken\ngone # removed case\nskip # r\n",
        )
        .expect("valid");
        let outcomes = [
            outcome("fixed", Verdict::Passed),
            outcome("still", Verdict::Failed("output: y".into())),
            outcome("new", Verdict::Failed("cause: z".into())),
            outcome("skip", Verdict::Skipped("cannot judge".into())),
            outcome("fine", Verdict::Passed),
        ];
        let check = list.check(&outcomes);
        assert_eq!(
            check.regressions,
            vec![("new".to_owned(), "cause: z".to_owned())]
        );
        assert_eq!(check.now_passing, vec!["fixed".to_owned()]);
        assert_eq!(check.unknown, vec!["gone".to_owned()]);
        assert!(!check.is_clean());
    }

    #[test]
    fn rendered_list_round_trips_and_groups() {
        let outcomes = [
            outcome(
                "b",
                Verdict::Failed(
                    "history: MapIterationStarted event: $.events[3].type: expected 1, got 2"
                        .into(),
                ),
            ),
            outcome(
                "a",
                Verdict::Failed(
                    "status: expected SUCCEEDED, got FAILED (States.Runtime: no # here)".into(),
                ),
            ),
            outcome("c", Verdict::Passed),
        ];
        let text = KnownFailures::render(&outcomes);
        assert!(
            text.contains("# == history: MapIterationStarted event (1) =="),
            "{text}"
        );
        assert!(
            text.contains("# == status: expected SUCCEEDED, got FAILED, States.Runtime (1) =="),
            "{text}"
        );
        let parsed = KnownFailures::parse(&text).expect("rendered list parses");
        assert_eq!(parsed.entries.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert!(parsed.check(&outcomes).is_clean());
    }

    #[test]
    fn an_empty_list_says_so() {
        let text = KnownFailures::render(&[outcome("c", Verdict::Passed)]);
        assert!(text.contains("No known failures"), "{text}");
        assert_eq!(KnownFailures::parse(&text), Ok(KnownFailures::default()));
    }
}
