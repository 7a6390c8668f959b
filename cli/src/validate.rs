//! `purgeflow validate FILE...`: every problem in each definition, or `OK`.

use std::path::Path;

use purgeflow_asl::machine::StateMachine;
use purgeflow_asl::validate::{Diagnostic, substitute};
use serde_json::{Map, Value};

use crate::Verdict;
use crate::args::ValidateArgs;
use crate::files::{read_json, read_substitutions};

pub(crate) fn run(args: &ValidateArgs) -> anyhow::Result<Verdict> {
    let substitutions = args
        .substitutions
        .as_deref()
        .map(read_substitutions)
        .transpose()?;
    let mut all_valid = true;
    for file in &args.files {
        let diagnostics = check_file(file, substitutions.as_ref());
        if diagnostics.is_empty() {
            println!("{}: OK", file.display());
        } else {
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
        }
    }
    Ok(if all_valid {
        Verdict::Ok
    } else {
        Verdict::NotOk
    })
}

/// The problems in one file. An unreadable file is reported like an invalid one, so the other
/// files are still checked.
fn check_file(file: &Path, substitutions: Option<&Map<String, Value>>) -> Vec<Diagnostic> {
    let definition = match read_json(file, "definition") {
        Ok(definition) => definition,
        Err(error) => {
            return vec![Diagnostic {
                path: "$".into(),
                code: "INVALID_JSON_DESCRIPTION".into(),
                message: format!("{error:#}"),
            }];
        }
    };
    let definition = match substitutions {
        Some(substitutions) => match substitute(&definition, substitutions) {
            Ok(substituted) => substituted,
            Err(diagnostics) => return diagnostics,
        },
        None => definition,
    };
    // Building the machine runs the validator and then the model's own checks.
    match StateMachine::from_value(&definition) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics,
    }
}
