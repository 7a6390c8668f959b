//! Totals and per-feature pass rates over a run's outcomes.

use std::collections::BTreeMap;

use super::judge::Verdict;
use super::runner::CaseOutcome;

/// Pass counts for one feature tag. Skipped cases are not judged, so they count in neither.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TagRate {
    pub passed: usize,
    pub failed: usize,
}

impl TagRate {
    pub fn percent(&self) -> f64 {
        let judged = self.passed + self.failed;
        if judged == 0 {
            0.0
        } else {
            100.0 * self.passed as f64 / judged as f64
        }
    }
}

/// The totals of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Per feature tag, sorted by tag.
    pub tags: BTreeMap<String, TagRate>,
}

impl Summary {
    pub fn of(outcomes: &[CaseOutcome]) -> Summary {
        let mut summary = Summary::default();
        for outcome in outcomes {
            let passed = match outcome.verdict {
                Verdict::Passed => {
                    summary.passed += 1;
                    true
                }
                Verdict::Failed(_) => {
                    summary.failed += 1;
                    false
                }
                Verdict::Skipped(_) => {
                    summary.skipped += 1;
                    continue;
                }
            };
            for tag in &outcome.features {
                let rate = summary.tags.entry(tag.clone()).or_default();
                if passed {
                    rate.passed += 1;
                } else {
                    rate.failed += 1;
                }
            }
        }
        summary
    }

    /// `N passed, M failed`, with `, K skipped` only when some cases could not be judged.
    pub fn line(&self) -> String {
        let mut line = format!("{} passed, {} failed", self.passed, self.failed);
        if self.skipped > 0 {
            line.push_str(&format!(", {} skipped", self.skipped));
        }
        line
    }

    /// One aligned line per tag: `state:Map  41/65  63.1%`.
    pub fn tag_lines(&self) -> Vec<String> {
        let width = self.tags.keys().map(String::len).max().unwrap_or(0);
        self.tags
            .iter()
            .map(|(tag, rate)| {
                let fraction = format!("{}/{}", rate.passed, rate.passed + rate.failed);
                format!("{tag:<width$}  {fraction:>9}  {:>5.1}%", rate.percent())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(verdict: Verdict, features: &[&str]) -> CaseOutcome {
        CaseOutcome {
            name: "c".into(),
            features: features.iter().map(|s| s.to_string()).collect(),
            verdict,
        }
    }

    #[test]
    fn counts_and_rates() {
        let summary = Summary::of(&[
            outcome(Verdict::Passed, &["state:Pass", "jsonata"]),
            outcome(Verdict::Failed("x".into()), &["jsonata"]),
            outcome(Verdict::Skipped("y".into()), &["jsonata"]),
        ]);
        assert_eq!((summary.passed, summary.failed, summary.skipped), (1, 1, 1));
        assert_eq!(
            summary.tags["jsonata"],
            TagRate {
                passed: 1,
                failed: 1
            }
        );
        assert_eq!(summary.line(), "1 passed, 1 failed, 1 skipped");
        assert_eq!(
            summary.tag_lines(),
            vec![
                "jsonata           1/2   50.0%",
                "state:Pass        1/1  100.0%"
            ]
        );
    }

    #[test]
    fn no_skipped_part_without_skips() {
        let summary = Summary::of(&[outcome(Verdict::Passed, &[])]);
        assert_eq!(summary.line(), "1 passed, 0 failed");
        assert!(summary.tag_lines().is_empty());
    }
}
