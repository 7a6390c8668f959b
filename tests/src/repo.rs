//! Paths of the repository files the tests read in place.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The repository root (this crate lives in `tests/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A path relative to the repository root.
pub fn path(relative: &str) -> PathBuf {
    root().join(relative)
}

/// Reads and parses a JSON file of the repository, naming the file when either step fails.
pub fn read_json(relative: &str) -> Value {
    let file = path(relative);
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", file.display()))
}

/// The `*.json` files directly inside a repository folder, sorted, as repository-relative paths.
pub fn json_files(relative_dir: &str) -> Vec<String> {
    let dir = path(relative_dir);
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut files: Vec<String> = entries
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.ends_with(".json")
                .then(|| format!("{relative_dir}/{name}"))
        })
        .collect();
    files.sort();
    files
}
