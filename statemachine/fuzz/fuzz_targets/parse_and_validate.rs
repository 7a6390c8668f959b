//! Fuzz target: arbitrary bytes, parsed as JSON, through the ASL validator and the
//! DefinitionSubstitutions pass. Neither may panic, hang or overflow the stack, whatever the
//! input; a diagnostic is always the answer to a bad document.
//!
//! How to run. Needs the nightly toolchain (installed here) and cargo-fuzz (`cargo install
//! cargo-fuzz` builds it from crates.io in about two minutes). The first build of this target
//! takes about seven minutes on the 2-core dev machine (release build with sanitizers):
//!
//! ```text
//! cd statemachine/fuzz
//! cargo +nightly fuzz run parse_and_validate -- -max_total_time=60 -max_len=65536
//! ```
//!
//! Seed it with the conformance definitions, copied to a corpus directory outside the
//! repository (never into it):
//!
//! ```text
//! mkdir -p /tmp/asl-corpus
//! for f in ../../../shared/asl-conformance/executions/*.json; do
//!   jq .definition "$f" > "/tmp/asl-corpus/$(basename "$f")"; done
//! cargo +nightly fuzz run parse_and_validate /tmp/asl-corpus -- -max_total_time=300
//! ```
//!
//! Once built, the binary also runs directly:
//! `target/x86_64-unknown-linux-gnu/release/parse_and_validate /tmp/work /tmp/asl-corpus
//! -max_total_time=90`.
//!
//! Without nightly or cargo-fuzz, the same property runs under plain `cargo test`:
//! `random_documents_never_panic` in `statemachine/src/validate/tests.rs` feeds seeded random
//! and mutated definitions through the same two calls.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    // serde_json's own recursion limit (128) bounds what reaches the validator; the validator
    // bounds its own walks independently of that.
    let Ok(definition) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let diagnostics = purgeflow_asl::validate::validate_definition(&definition);
    for diagnostic in &diagnostics {
        assert!(
            diagnostic.path.starts_with('$'),
            "a diagnostic path is a JSON path: {diagnostic}"
        );
        assert!(
            !diagnostic.code.is_empty(),
            "a diagnostic has a code: {diagnostic}"
        );
    }
    // Use the document's own top-level members as substitutions, so known and unknown names
    // both occur.
    let substitutions = definition.as_object().cloned().unwrap_or_else(Map::new);
    let _ = purgeflow_asl::validate::substitute(&definition, &substitutions);
});
