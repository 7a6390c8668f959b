//! `purgeflow graph DEFINITION`: print the Mermaid flowchart of a state machine definition.
//!
//! The definition is drawn as written: `${...}` placeholders need no substitutions (they sit in
//! Resources, which the picture does not show), and an invalid definition is drawn as far as it
//! can be, since `purgeflow validate` is the command that judges it. The text is deterministic,
//! so the README embeds it between `<!-- purge-graph:start -->` and `<!-- purge-graph:end -->`
//! and a test (tests/tests/readme_graph.rs) keeps it current.

use std::path::Path;

use purgeflow_asl::graph::to_mermaid;

use crate::files::read_json;

/// Prints the Mermaid flowchart of the definition in `path` to stdout.
pub fn run(path: &Path) -> anyhow::Result<()> {
    print!("{}", render(path)?);
    Ok(())
}

/// The Mermaid flowchart of the definition in `path`.
pub(crate) fn render(path: &Path) -> anyhow::Result<String> {
    Ok(to_mermaid(&read_json(path, "state machine definition")?))
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
        let missing = dir.join("missing.asl.json");
        let err = render(&missing).expect_err("no such file").to_string();
        assert!(err.contains("missing.asl.json"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
