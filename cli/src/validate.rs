//! `purgeflow validate FILE...`: every problem in each definition, or `OK`.

use std::path::Path;

use anyhow::bail;
use purgeflow_asl::machine::StateMachine;
use purgeflow_asl::validate::{Diagnostic, substitute};
use serde_json::{Map, Value};

use crate::Verdict;
use crate::args::ValidateArgs;
use purgeflow_cli::files::{ReadError, read_substitutions, try_read_json};

/// The substitutions file the repository keeps next to its own definition.
const LOCAL_SUBSTITUTIONS: &str = "local-substitutions.json";

/// What checking one file found.
enum Checked {
    Problems(Vec<Diagnostic>),
    /// The file is missing or unreadable: not a verdict on a definition.
    NotRead(String),
}

pub(crate) fn run(args: &ValidateArgs) -> anyhow::Result<Verdict> {
    let substitutions = args
        .substitutions
        .as_deref()
        .map(read_substitutions)
        .transpose()?;
    let mut all_valid = true;
    let mut not_read = 0;
    for file in &args.files {
        match check_file(file, substitutions.as_ref()) {
            Checked::NotRead(why) => {
                not_read += 1;
                println!("{}: {why}", file.display());
            }
            Checked::Problems(diagnostics) if diagnostics.is_empty() => {
                println!("{}: OK", file.display());
            }
            Checked::Problems(diagnostics) => {
                all_valid = false;
                let noun = if diagnostics.len() == 1 {
                    "problem"
                } else {
                    "problems"
                };
                println!("{}: {} {noun}", file.display(), diagnostics.len());
                for d in &diagnostics {
                    println!("  {}  {}  {}", d.path, d.code, d.message);
                }
                if substitutions.is_none() && has_placeholder_problems(&diagnostics) {
                    println!("  {}", placeholder_hint(file));
                }
            }
        }
    }
    if not_read > 0 {
        // Exit 2: the command could not judge every file it was given.
        bail!(
            "{not_read} of {} file(s) could not be read",
            args.files.len()
        );
    }
    Ok(if all_valid {
        Verdict::Ok
    } else {
        Verdict::NotOk
    })
}

/// The problems in one file. An unreadable file is reported apart, so the other files are
/// still checked; JSON that does not parse is a problem of the definition, under AWS's code.
fn check_file(file: &Path, substitutions: Option<&Map<String, Value>>) -> Checked {
    let definition = match try_read_json(file) {
        Ok(definition) => definition,
        Err(ReadError::Missing) => return Checked::NotRead("cannot read: no such file".into()),
        Err(ReadError::Unreadable(error)) => {
            return Checked::NotRead(format!("cannot read: {error}"));
        }
        Err(ReadError::NotJson(error)) => {
            return Checked::Problems(vec![Diagnostic {
                path: "$".into(),
                code: "INVALID_JSON_DESCRIPTION".into(),
                message: format!("not valid JSON: {error}"),
            }]);
        }
    };
    let definition = match substitutions {
        Some(substitutions) => match substitute(&definition, substitutions) {
            Ok(substituted) => substituted,
            Err(diagnostics) => return Checked::Problems(diagnostics),
        },
        None => definition,
    };
    // Building the machine runs the validator and then the model's own checks.
    Checked::Problems(match StateMachine::from_value(&definition) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics,
    })
}

/// Whether some problem is an unsubstituted `${Name}` placeholder.
pub(crate) fn has_placeholder_problems(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(|d| d.message.contains("${"))
}

/// Names the flag, and the repository's own file when one sits next to the definition.
pub(crate) fn placeholder_hint(definition: &Path) -> String {
    let beside = definition.with_file_name(LOCAL_SUBSTITUTIONS);
    if beside.is_file() {
        format!(
            "hint: ${{...}} placeholders need values: pass --substitutions FILE (a JSON object of names to values), e.g. --substitutions {}",
            beside.display()
        )
    } else {
        "hint: ${...} placeholders need values: pass --substitutions FILE (a JSON object of names to values)".to_owned()
    }
}
