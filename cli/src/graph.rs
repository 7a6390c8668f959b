//! `purgeflow graph DEFINITION`: print the Mermaid flowchart of a state machine definition.
//!
//! The definition is drawn as written: `${...}` placeholders need no substitutions (they sit in
//! Resources, which the picture does not show). Any other problem fails the command, with the
//! problems listed, rather than drawing part of a machine that cannot run. The text is deterministic,
//! so the README embeds it between `<!-- purge-graph:start -->` and `<!-- purge-graph:end -->`
//! and a test (tests/tests/readme_graph.rs) keeps it current.

use std::path::Path;

use anyhow::bail;
use purgeflow_asl::graph::to_mermaid;
use purgeflow_asl::validate::validate_definition;

use purgeflow_cli::files::read_json;

/// Prints the Mermaid flowchart of the definition in `path` to stdout.
pub fn run(path: &Path) -> anyhow::Result<()> {
    print!("{}", render(path)?);
    Ok(())
}

/// The Mermaid flowchart of the definition in `path`.
pub(crate) fn render(path: &Path) -> anyhow::Result<String> {
    let definition = read_json(path, "state machine definition")?;
    // Unsubstituted placeholders are `validate --substitutions`' business, not the drawing's.
    let problems: Vec<String> = validate_definition(&definition)
        .into_iter()
        .filter(|d| !d.message.contains("${"))
        .map(|d| format!("{}  {}  {}", d.path, d.code, d.message))
        .collect();
    if !problems.is_empty() {
        bail!(
            "{} is not a valid definition, so it is not drawn ({} problem(s); `purgeflow validate` lists them):\n  {}",
            path.display(),
            problems.len(),
            problems.join("\n  ")
        );
    }
    Ok(to_mermaid(&definition))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_definition_file_and_names_a_missing_one() {
        let dir = std::env::temp_dir().join(format!("purgeflow-graph-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("hello.asl.json");
        std::fs::write(
            &file,
            r#"{"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "End": true}}}"#,
        )
        .expect("write definition");
        let text = render(&file).expect("renders");
        assert!(
            text.starts_with("flowchart TD\n") && text.contains("Hello"),
            "{text}"
        );
        let invalid = dir.join("invalid.asl.json");
        std::fs::write(
            &invalid,
            r#"{"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "Next": "Nowhere"}}}"#,
        )
        .expect("write definition");
        let err = format!("{:#}", render(&invalid).expect_err("invalid"));
        assert!(err.contains("MISSING_TRANSITION_TARGET"), "{err}");
        let missing = dir.join("missing.asl.json");
        let err = render(&missing).expect_err("no such file").to_string();
        assert!(err.contains("missing.asl.json"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
