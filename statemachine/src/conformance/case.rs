//! Conformance case files: one recorded AWS execution each, in the format described in
//! `asl-conformance/README.md` (`executions/*.json`).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::execution::MachineType;

/// One recorded execution.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    /// The file the case came from.
    pub file: PathBuf,
    pub definition: Value,
    pub input: Value,
    pub machine_type: MachineType,
    pub expected: Expected,
    /// Feature tags (`state:Map`, `jsonata`, ...), for per-feature pass rates and filtering.
    pub features: Vec<String>,
    /// False when the recording holds placeholders.
    pub deterministic: bool,
    /// JSON pointers into `expected` whose values are placeholders.
    pub placeholders: Vec<String>,
}

/// What AWS returned.
#[derive(Debug, Clone)]
pub struct Expected {
    /// `SUCCEEDED` or `FAILED` in the recordings.
    pub status: String,
    /// Present when the execution succeeded (the output may itself be `null`).
    pub output: Option<Value>,
    pub error: Option<String>,
    /// Kept as JSON: a recorded cause is a string, but be explicit if one is not.
    pub cause: Option<Value>,
    /// The recorded history, when there is one.
    pub events: Option<Vec<Value>>,
}

/// The file's shape, before checks.
#[derive(Deserialize)]
struct CaseFile {
    name: String,
    definition: Value,
    #[serde(default)]
    input: Value,
    state_machine_type: String,
    expected: ExpectedFile,
    #[serde(default)]
    features: Vec<String>,
    #[serde(default = "default_true")]
    deterministic: bool,
    #[serde(default)]
    placeholders: Vec<String>,
}

#[derive(Deserialize)]
struct ExpectedFile {
    status: String,
    // `Option<Option<_>>` tells an absent output from a recorded `null`.
    #[serde(default, deserialize_with = "present")]
    output: Option<Value>,
    error: Option<String>,
    cause: Option<Value>,
    events: Option<Vec<Value>>,
}

fn default_true() -> bool {
    true
}

/// Deserializes a present field, `null` included, as `Some`.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// Why a case file could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", file.display())]
pub struct CaseLoadError {
    pub file: PathBuf,
    pub message: String,
}

impl Case {
    /// Reads and checks one case file.
    pub fn load(file: &Path) -> Result<Case, CaseLoadError> {
        let fail = |message: String| CaseLoadError {
            file: file.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(file)
            .map_err(|e| fail(format!("cannot read the case file: {e}")))?;
        Self::parse(&text, file).map_err(fail)
    }

    /// Parses one case from its JSON text; `file` is recorded for reports.
    pub fn parse(text: &str, file: &Path) -> Result<Case, String> {
        let raw: CaseFile = serde_json::from_str(text)
            .map_err(|e| format!("not a conformance case (see the README's format): {e}"))?;
        let machine_type = match raw.state_machine_type.as_str() {
            "STANDARD" => MachineType::Standard,
            "EXPRESS" => MachineType::Express,
            other => {
                return Err(format!(
                    "state_machine_type must be STANDARD or EXPRESS, not {other:?}"
                ));
            }
        };
        Ok(Case {
            name: raw.name,
            file: file.to_owned(),
            definition: raw.definition,
            input: raw.input,
            machine_type,
            expected: Expected {
                status: raw.expected.status,
                output: raw.expected.output,
                error: raw.expected.error,
                cause: raw.expected.cause,
                events: raw.expected.events,
            },
            features: raw.features,
            deterministic: raw.deterministic,
            placeholders: raw.placeholders,
        })
    }
}

/// The case files under `dir`: `dir/executions/*.json` when `dir` holds an `executions`
/// folder, else `dir/*.json`. Sorted by file name, so runs and reports are stable.
pub fn case_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let executions = dir.join("executions");
    let folder = if executions.is_dir() {
        executions
    } else {
        dir.to_owned()
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&folder)? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|ext| ext == "json") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CASE: &str = r#"{
        "name": "pass_case",
        "definition": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "input": {"a": 1},
        "state_machine_type": "EXPRESS",
        "expected": {"status": "SUCCEEDED", "output": null},
        "features": ["state:Pass"],
        "deterministic": false,
        "placeholders": ["/output"]
    }"#;

    #[test]
    fn parses_a_case() {
        let case = Case::parse(CASE, Path::new("pass_case.json")).expect("valid case");
        assert_eq!(case.name, "pass_case");
        assert_eq!(case.machine_type, MachineType::Express);
        assert_eq!(
            case.expected.output,
            Some(Value::Null),
            "a recorded null output is kept"
        );
        assert_eq!(case.expected.events, None);
        assert!(!case.deterministic);
        assert_eq!(case.placeholders, vec!["/output".to_owned()]);
    }

    #[test]
    fn absent_output_is_none() {
        let text = CASE.replace(r#""output": null"#, r#""error": "E""#);
        let case = Case::parse(&text, Path::new("x.json")).expect("valid case");
        assert_eq!(case.expected.output, None);
        assert_eq!(case.expected.error.as_deref(), Some("E"));
    }

    #[test]
    fn rejects_bad_files_with_a_reason() {
        let err = Case::parse("{}", Path::new("x.json")).expect_err("missing fields");
        assert!(err.contains("not a conformance case"), "{err}");
        let err = Case::parse(&CASE.replace("EXPRESS", "FAST"), Path::new("x.json"))
            .expect_err("bad type");
        assert!(err.contains("STANDARD or EXPRESS"), "{err}");
    }

    #[test]
    fn finds_case_files_in_either_layout() {
        let dir = std::env::temp_dir().join(format!(
            "purgeflow-conformance-case-files-{}",
            std::process::id()
        ));
        let executions = dir.join("executions");
        std::fs::create_dir_all(&executions).expect("create temp dir");
        std::fs::write(executions.join("b.json"), CASE).expect("write case");
        std::fs::write(executions.join("a.json"), CASE).expect("write case");
        std::fs::write(executions.join("notes.txt"), "ignored").expect("write note");
        let from_parent = case_files(&dir).expect("list");
        let from_folder = case_files(&executions).expect("list");
        std::fs::remove_dir_all(&dir).expect("clean up");
        assert_eq!(from_parent, from_folder);
        let names: Vec<_> = from_parent
            .iter()
            .filter_map(|p| p.file_name()?.to_str())
            .collect();
        assert_eq!(names, ["a.json", "b.json"]);
    }
}
