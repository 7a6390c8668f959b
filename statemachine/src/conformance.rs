//! The ASL conformance runner: recorded AWS executions (the `asl-conformance` case format),
//! run on this engine and judged field by field. The conformance test and `purgeflow asl test`
//! both use it, so they agree on what passing means.
//!
//! A case passes when the status matches, the output matches structurally (numbers by value),
//! the error matches and the cause matches (literally, or structurally when both hold JSON),
//! and, when a history was recorded, every event matches in order: ids, types,
//! previousEventId and details, ignoring timestamps and reading JSON text as JSON. Recorded
//! placeholders (timestamps, ARNs, random numbers) match any value at their spot.

pub mod case;
mod compare;
pub mod judge;
pub mod known_failures;
mod placeholder;
pub mod runner;
pub mod summary;
pub mod test_state_case;

pub use case::{Case, CaseLoadError, Expected, case_files};
pub use compare::Difference;
pub use judge::{Verdict, judge, status_name};
pub use known_failures::KnownFailures;
pub use runner::{CaseOutcome, RunSettings, load_dir, run_case, run_cases};
pub use summary::{Summary, TagRate};
