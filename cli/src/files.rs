//! Reading the JSON files the commands take, with errors that say which file and why.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Map, Value};

/// Why a JSON file could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// No such file: said plainly, not as a JSON problem.
    Missing,
    /// The file exists but cannot be read (a folder, no permission, not UTF-8).
    Unreadable(std::io::Error),
    /// The text is not JSON; the message has the line and column.
    NotJson(serde_json::Error),
}

/// Reads a file's text without a leading UTF-8 byte order mark (editors on Windows write one).
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(without_bom(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(ReadError::Missing),
        Err(error) => Err(ReadError::Unreadable(error)),
    }
}

fn without_bom(text: String) -> String {
    match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    }
}

/// Reads and parses one JSON file, telling a missing file from unreadable or invalid JSON.
pub fn try_read_json(path: &Path) -> Result<Value, ReadError> {
    serde_json::from_str(&read_text(path)?).map_err(ReadError::NotJson)
}

/// Reads and parses one JSON file.
pub fn read_json(path: &Path, what: &str) -> anyhow::Result<Value> {
    try_read_json(path).map_err(|error| anyhow::anyhow!(describe(&error, path, what)))
}

/// `input file x.json does not exist`, `cannot read ...: ...`, `... is not valid JSON: ...`.
pub fn describe(error: &ReadError, path: &Path, what: &str) -> String {
    let path = path.display();
    match error {
        ReadError::Missing => format!("cannot read {what} {path}: no such file"),
        ReadError::Unreadable(error) => format!("cannot read {what} {path}: {error}"),
        ReadError::NotJson(error) => format!("{what} {path} is not valid JSON: {error}"),
    }
}

/// One JSON document, or JSON lines (one document per line). A bad line is named by its own
/// number and the column in it, not by where a whole-file parse gave up.
pub fn read_json_or_lines(path: &Path, what: &str) -> anyhow::Result<Value> {
    let text = read_text(path).map_err(|error| anyhow::anyhow!(describe(&error, path, what)))?;
    parse_json_or_lines(&text).with_context(|| format!("{what} {}", path.display()))
}

/// A whole document when the text is one; otherwise JSON lines, as an array, when it has more
/// than one non-empty line.
pub fn parse_json_or_lines(text: &str) -> anyhow::Result<Value> {
    let whole = match serde_json::from_str(text) {
        Ok(value) => return Ok(value),
        Err(whole) => whole,
    };
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .collect();
    // JSON lines only when the first line is a document of its own; otherwise the file is one
    // (pretty-printed) document, and serde_json's line and column are the place to look.
    let first_is_a_document = lines
        .first()
        .is_some_and(|(_, line)| serde_json::from_str::<serde::de::IgnoredAny>(line).is_ok());
    if lines.len() < 2 || !first_is_a_document {
        bail!("is not valid JSON: {whole}");
    }
    let mut values = Vec::with_capacity(lines.len());
    for (index, line) in lines {
        let value = serde_json::from_str(line).map_err(|error| {
            anyhow::anyhow!(
                "is neither one JSON document nor JSON lines: line {} is not JSON: {} at column {}",
                index + 1,
                without_position(&error),
                error.column()
            )
        })?;
        values.push(value);
    }
    Ok(Value::Array(values))
}

/// serde_json's message without its own ` at line L column C` (that position is in the line).
fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

/// Reads a DefinitionSubstitutions file: one JSON object of names to values.
pub fn read_substitutions(path: &Path) -> anyhow::Result<Map<String, Value>> {
    match read_json(path, "substitutions file")? {
        Value::Object(map) => Ok(map),
        _ => bail!(
            "substitutions file {} must hold a JSON object of names to values",
            path.display()
        ),
    }
}

/// A state machine name from its file name: `purge.asl.json` → `purge`.
pub fn stem_name(path: &Path) -> String {
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
        assert_eq!(
            format!("{err:#}"),
            "cannot read input file /nonexistent/x.json: no such file"
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        assert_eq!(
            parse_json_or_lines(&without_bom("\u{feff}{\"a\": 1}".to_owned())).expect("JSON"),
            serde_json::json!({"a": 1})
        );
    }

    #[test]
    fn json_lines_errors_name_the_bad_line() {
        let err = parse_json_or_lines("{\"a\": 1}\n\n{\"b\": }\n{\"c\": 3}\n")
            .expect_err("line 3 is broken");
        assert_eq!(
            err.to_string(),
            "is neither one JSON document nor JSON lines: line 3 is not JSON: expected value at column 7"
        );
        let pretty = parse_json_or_lines("{\n  \"a\": 1,\n  \"b\": }\n").expect_err("broken");
        assert_eq!(
            pretty.to_string(),
            "is not valid JSON: expected value at line 3 column 8"
        );
        let lines = parse_json_or_lines("{\"a\": 1}\n{\"b\": 2}\n").expect("two lines");
        assert_eq!(lines, serde_json::json!([{"a": 1}, {"b": 2}]));
    }
}
