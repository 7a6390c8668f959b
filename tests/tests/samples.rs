//! `events/executions/` holds what the trigger makes of each `events/stream/` sample, so the
//! sample execution inputs (used by `purgeflow run`, the fixtures and `cargo lambda invoke`)
//! can't drift from the trigger's real transform.
//!
//! After changing the trigger or a stream sample on purpose, regenerate them with
//! `PURGEFLOW_BLESS=1 cargo test -p purgeflow-tests --test samples` and review the diff.

use purgeflow_tests::repo;
use purgeflow_tests::samples::SAMPLES;
use serde_json::Value;

#[test]
fn every_stream_sample_has_its_execution_input() {
    let bless = std::env::var_os("PURGEFLOW_BLESS").is_some();
    let mut stale = Vec::new();
    for sample in SAMPLES {
        let inputs = sample.execution_inputs();
        // Every sample is far below the packing limits: one stream batch, one execution.
        assert_eq!(
            inputs.len(),
            1,
            "{}: expected one execution, the trigger made {}",
            sample.file,
            inputs.len()
        );
        let generated = &inputs[0];
        let relative = format!("events/executions/{}", sample.file);
        if bless {
            let text = serde_json::to_string_pretty(generated).expect("JSON serialises") + "\n";
            std::fs::write(repo::path(&relative), text)
                .unwrap_or_else(|e| panic!("cannot write {relative}: {e}"));
            continue;
        }
        if !repo::path(&relative).exists() {
            stale.push(format!("{relative} is missing"));
            continue;
        }
        let checked_in: Value = repo::read_json(&relative);
        if &checked_in != generated {
            stale.push(format!("{relative} differs from the trigger's output:\n  checked in: {checked_in}\n  trigger:    {generated}"));
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nregenerate with: PURGEFLOW_BLESS=1 cargo test -p purgeflow-tests --test samples",
        stale.join("\n")
    );
}

#[test]
fn every_stream_sample_is_listed() {
    let listed: Vec<String> = SAMPLES
        .iter()
        .map(|s| format!("events/stream/{}", s.file))
        .collect();
    assert_eq!(
        repo::json_files("events/stream"),
        listed,
        "add the new sample to SAMPLES with its key rules"
    );
}
