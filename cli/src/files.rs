//! Reading the JSON files the commands take, with errors that say which file and why.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Map, Value};

/// Reads and parses one JSON file.
pub(crate) fn read_json(path: &Path, what: &str) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{what} {} is not valid JSON", path.display()))
}

/// Reads a DefinitionSubstitutions file: one JSON object of names to values.
pub(crate) fn read_substitutions(path: &Path) -> anyhow::Result<Map<String, Value>> {
    match read_json(path, "substitutions file")? {
        Value::Object(map) => Ok(map),
        _ => bail!(
            "substitutions file {} must hold a JSON object of names to values",
            path.display()
        ),
    }
}

/// A state machine name from its file name: `purge.asl.json` → `purge`.
pub(crate) fn stem_name(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    match file.split_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem.to_owned(),
        _ => file,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stem_drops_every_extension() {
        assert_eq!(stem_name(Path::new("dir/purge.asl.json")), "purge");
        assert_eq!(stem_name(Path::new("machine")), "machine");
        assert_eq!(stem_name(Path::new(".hidden")), ".hidden");
    }

    #[test]
    fn unreadable_files_name_the_file() {
        let err =
            read_json(Path::new("/nonexistent/x.json"), "input file").expect_err("missing file");
        assert!(
            format!("{err:#}").starts_with("cannot read input file /nonexistent/x.json"),
            "{err:#}"
        );
    }
}
