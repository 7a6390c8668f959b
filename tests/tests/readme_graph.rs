//! README.md embeds the Mermaid graph of `statemachine/purge.asl.json`; this keeps it current.

use purgeflow_asl::graph::to_mermaid;
use purgeflow_tests::{purge, repo};

const START: &str = "<!-- purge-graph:start -->";
const END: &str = "<!-- purge-graph:end -->";

/// What belongs between the markers: the graph in a mermaid code block.
fn expected_block() -> String {
    format!(
        "\n```mermaid\n{}```\n",
        to_mermaid(&purge::raw_definition())
    )
}

#[test]
fn the_readme_embeds_the_current_graph_of_purge_asl_json() {
    let readme = std::fs::read_to_string(repo::path("README.md")).expect("README.md is readable");
    let how = format!(
        "regenerate it with `cargo run -p purgeflow-cli -- graph statemachine/purge.asl.json` and put the output in a \
         ```mermaid block between `{START}` and `{END}` in README.md; the block must read exactly:\n{START}{}{END}",
        expected_block()
    );
    let (Some(start), Some(end)) = (readme.find(START), readme.find(END)) else {
        panic!("README.md lacks the purge graph markers; {how}");
    };
    assert!(
        start < end,
        "README.md's purge graph markers are out of order; {how}"
    );
    let embedded = &readme[start + START.len()..end];
    assert!(
        embedded == expected_block(),
        "README.md's purge graph is stale; {how}"
    );
}
