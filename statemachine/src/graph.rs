//! A Mermaid flowchart of any state machine definition, for READMEs and reviews.
//!
//! ```text
//! flowchart TD
//!     start((Start)) --> s1
//!     s1["Hello<br/><small>Pass</small>"]
//!     s1 --> finish((End))
//! ```
//!
//! - Each state is a node labelled with its name and type, shaped by its type: Task and Pass
//!   rectangles, Choice rhombus, Wait rounded, Succeed stadium, Fail double-bordered.
//! - Map and Parallel states are subgraphs holding their ItemProcessor (Iterator) or their
//!   branches (one nested subgraph each), so edges to and from the state attach to the subgraph.
//! - `Next` and `Default` are plain arrows, Choice rules are labelled with their Comment (else the
//!   JSONata Condition, else `rule N`), Catch edges are dotted and labelled with their
//!   ErrorEquals. Top-level terminal states lead to an End node.
//!
//! The output is deterministic: node ids are numbered in document order (serde_json keeps key
//! order), so the same definition always gives the same text and a README can embed it and a
//! test can keep it current. Any JSON is accepted: what is not a state machine is described in a
//! `%%` comment rather than rejected, since validation is [`crate::validate`]'s job.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

/// Deeper Map/Parallel nesting than this is summarised instead of drawn: no real definition
/// comes close, and it bounds the recursion on hostile input.
const MAX_DEPTH: usize = 16;
/// Edge labels longer than this are cut, so long JSONata conditions don't swamp the picture.
const MAX_LABEL_CHARS: usize = 48;

/// The Mermaid flowchart of `definition`.
pub fn to_mermaid(definition: &Value) -> String {
    let mut writer = Writer {
        out: String::from("flowchart TD\n"),
        next_id: 0,
    };
    if definition
        .get("States")
        .and_then(Value::as_object)
        .is_none()
    {
        writer.line(1, "%% not a state machine definition: no States object");
        return writer.out;
    }
    let ids = writer.machine(definition, 1, 0);
    if let Some(first) = definition
        .get("StartAt")
        .and_then(Value::as_str)
        .and_then(|s| ids.get(s))
    {
        writer.line(1, &format!("start((Start)) --> {first}"));
    }
    writer.edges(definition, &ids, 1, true);
    writer.out
}

struct Writer {
    out: String,
    next_id: usize,
}

impl Writer {
    fn line(&mut self, indent: usize, text: &str) {
        for _ in 0..indent {
            self.out.push_str("    ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn fresh_id(&mut self) -> String {
        self.next_id += 1;
        format!("s{}", self.next_id)
    }

    /// Declares every state of `machine` (recursing into Map and Parallel) and returns their ids.
    fn machine(&mut self, machine: &Value, indent: usize, depth: usize) -> HashMap<String, String> {
        let empty = Map::new();
        let states = machine
            .get("States")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let ids: HashMap<String, String> = states
            .keys()
            .map(|name| (name.clone(), self.fresh_id()))
            .collect();
        for (name, state) in states {
            let id = &ids[name];
            let kind = state.get("Type").and_then(Value::as_str).unwrap_or("?");
            match kind {
                "Map" | "Parallel" => self.container(id, name, kind, state, indent, depth),
                _ => self.line(
                    indent,
                    &format!("{id}{}", shape(kind, &node_label(name, kind))),
                ),
            }
        }
        ids
    }

    /// A Map or Parallel state as a subgraph of its inner machines.
    fn container(
        &mut self,
        id: &str,
        name: &str,
        kind: &str,
        state: &Value,
        indent: usize,
        depth: usize,
    ) {
        self.line(
            indent,
            &format!("subgraph {id}[\"{}\"]", escape(&format!("{name} ({kind})"))),
        );
        self.line(indent + 1, "direction TB");
        if depth + 1 >= MAX_DEPTH {
            self.line(indent + 1, "%% nested too deeply to draw");
        } else if kind == "Map" {
            if let Some(processor) = state.get("ItemProcessor").or_else(|| state.get("Iterator")) {
                let inner = self.machine(processor, indent + 1, depth + 1);
                self.edges(processor, &inner, indent + 1, false);
            }
        } else {
            for (index, branch) in state
                .get("Branches")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let branch_id = self.fresh_id();
                self.line(
                    indent + 1,
                    &format!("subgraph {branch_id}[\"Branch {}\"]", index + 1),
                );
                self.line(indent + 2, "direction TB");
                let inner = self.machine(branch, indent + 2, depth + 1);
                self.edges(branch, &inner, indent + 2, false);
                self.line(indent + 1, "end");
            }
        }
        self.line(indent, "end");
    }

    /// The transitions between `machine`'s states; at the top level, terminal states lead to End.
    fn edges(
        &mut self,
        machine: &Value,
        ids: &HashMap<String, String>,
        indent: usize,
        top_level: bool,
    ) {
        let Some(states) = machine.get("States").and_then(Value::as_object) else {
            return;
        };
        let target = |name: Option<&str>| name.and_then(|n| ids.get(n)).cloned();
        for (name, state) in states {
            let from = ids[name].clone();
            if let Some(to) = target(state.get("Next").and_then(Value::as_str)) {
                self.line(indent, &format!("{from} --> {to}"));
            }
            for (index, rule) in state
                .get("Choices")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(to) = target(rule.get("Next").and_then(Value::as_str)) {
                    self.line(
                        indent,
                        &format!("{from} -->|\"{}\"| {to}", escape(&rule_label(rule, index))),
                    );
                }
            }
            if let Some(to) = target(state.get("Default").and_then(Value::as_str)) {
                self.line(indent, &format!("{from} -->|Default| {to}"));
            }
            for catcher in state
                .get("Catch")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(to) = target(catcher.get("Next").and_then(Value::as_str)) {
                    let errors: Vec<&str> = catcher
                        .get("ErrorEquals")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    self.line(
                        indent,
                        &format!(
                            "{from} -. \"{}\" .-> {to}",
                            escape(&cut(&errors.join(", ")))
                        ),
                    );
                }
            }
            let kind = state
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let terminal =
                matches!(kind, "Succeed" | "Fail") || state.get("End") == Some(&Value::Bool(true));
            if top_level && terminal {
                self.line(indent, &format!("{from} --> finish((End))"));
            }
        }
    }
}

fn node_label(name: &str, kind: &str) -> String {
    format!("{}<br/><small>{}</small>", escape(name), escape(kind))
}

/// The node's shape by state type (the label is already escaped).
fn shape(kind: &str, label: &str) -> String {
    match kind {
        "Choice" => format!("{{\"{label}\"}}"),
        "Wait" => format!("(\"{label}\")"),
        "Succeed" => format!("([\"{label}\"])"),
        "Fail" => format!("[[\"{label}\"]]"),
        _ => format!("[\"{label}\"]"),
    }
}

/// A Choice rule's edge label: its Comment, else its JSONata Condition, else its position.
fn rule_label(rule: &Value, index: usize) -> String {
    if let Some(comment) = rule.get("Comment").and_then(Value::as_str) {
        return cut(comment);
    }
    if let Some(condition) = rule.get("Condition").and_then(Value::as_str) {
        let inner = condition
            .trim()
            .strip_prefix("{%")
            .and_then(|c| c.strip_suffix("%}"))
            .unwrap_or(condition);
        return cut(inner.trim());
    }
    format!("rule {}", index + 1)
}

fn cut(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MAX_LABEL_CHARS {
        return flat;
    }
    let mut short: String = flat.chars().take(MAX_LABEL_CHARS - 1).collect();
    short.push('…');
    short
}

/// Mermaid entity codes for the characters that would end or break a quoted label.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {
                let _ = write!(out, "#{};", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_chain_has_start_nodes_edges_and_end() {
        let text = to_mermaid(&json!({"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "Next": "B"},
            "B": {"Type": "Succeed"}
        }}));
        assert_eq!(
            text,
            "flowchart TD\n    s1[\"A<br/><small>Task</small>\"]\n    s2([\"B<br/><small>Succeed</small>\"])\n    \
             start((Start)) --> s1\n    s1 --> s2\n    s2 --> finish((End))\n"
        );
    }

    #[test]
    fn choices_defaults_and_catches_are_labelled() {
        let text = to_mermaid(
            &json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [
                    {"Condition": "{% $x > 1 %}", "Next": "T"},
                    {"Comment": "the <other> \"case\"", "Condition": "{% $x < 0 %}", "Next": "F"}
                ], "Default": "F"},
                "T": {"Type": "Task", "Resource": "r", "Catch": [{"ErrorEquals": ["A.B", "States.ALL"], "Next": "F"}], "End": true},
                "F": {"Type": "Fail", "Error": "E"}
            }}),
        );
        assert!(
            text.contains("s1{\"C<br/><small>Choice</small>\"}"),
            "{text}"
        );
        assert!(text.contains("s1 -->|\"$x #gt; 1\"| s2"), "{text}");
        assert!(
            text.contains("s1 -->|\"the #lt;other#gt; #quot;case#quot;\"| s3"),
            "{text}"
        );
        assert!(text.contains("s1 -->|Default| s3"), "{text}");
        assert!(text.contains("s2 -. \"A.B, States.ALL\" .-> s3"), "{text}");
        assert!(
            text.contains("s3[[\"F<br/><small>Fail</small>\"]]"),
            "{text}"
        );
        assert!(
            text.contains("s2 --> finish((End))") && text.contains("s3 --> finish((End))"),
            "{text}"
        );
    }

    #[test]
    fn map_and_parallel_are_subgraphs_of_their_inner_machines() {
        let text = to_mermaid(&json!({"StartAt": "M", "States": {
            "M": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {
                "I": {"Type": "Task", "Resource": "r", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Bad"}], "End": true},
                "Bad": {"Type": "Pass", "End": true}
            }}, "Next": "P"},
            "P": {"Type": "Parallel", "Branches": [
                {"StartAt": "X", "States": {"X": {"Type": "Wait", "Seconds": 1, "End": true}}},
                {"StartAt": "Y", "States": {"Y": {"Type": "Pass", "End": true}}}
            ], "End": true}
        }}));
        let expected = "flowchart TD
    subgraph s1[\"M (Map)\"]
        direction TB
        s3[\"I<br/><small>Task</small>\"]
        s4[\"Bad<br/><small>Pass</small>\"]
        s3 -. \"States.ALL\" .-> s4
    end
    subgraph s2[\"P (Parallel)\"]
        direction TB
        subgraph s5[\"Branch 1\"]
            direction TB
            s6(\"X<br/><small>Wait</small>\")
        end
        subgraph s7[\"Branch 2\"]
            direction TB
            s8[\"Y<br/><small>Pass</small>\"]
        end
    end
    start((Start)) --> s1
    s1 --> s2
    s2 --> finish((End))
";
        assert_eq!(text, expected);
    }

    #[test]
    fn the_output_is_deterministic() {
        let definition = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "C"}, "C": {"Type": "Succeed"}
        }});
        assert_eq!(to_mermaid(&definition), to_mermaid(&definition.clone()));
    }

    #[test]
    fn anything_that_is_not_a_machine_is_described_not_drawn() {
        for value in [
            json!(null),
            json!([1, 2]),
            json!({"StartAt": "A"}),
            json!({"States": []}),
        ] {
            let text = to_mermaid(&value);
            assert!(
                text.starts_with("flowchart TD\n") && text.contains("%% not a state machine"),
                "{value}: {text}"
            );
        }
        // Broken references and odd names draw what can be drawn, without panicking.
        let text = to_mermaid(
            &json!({"StartAt": "nowhere", "States": {"a\"b\n#c": {"Type": 7, "Next": "gone"}}}),
        );
        assert_eq!(
            text,
            "flowchart TD\n    s1[\"a#quot;b #35;c<br/><small>?</small>\"]\n"
        );
    }

    #[test]
    fn deep_nesting_is_summarised() {
        let mut machine = json!({"StartAt": "L", "States": {"L": {"Type": "Pass", "End": true}}});
        for _ in 0..(MAX_DEPTH + 4) {
            machine = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": machine, "End": true}}});
        }
        let text = to_mermaid(&machine);
        assert!(text.contains("%% nested too deeply to draw"), "{text}");
    }

    #[test]
    fn long_labels_are_cut() {
        let label = rule_label(
            &json!({"Condition": format!("{{% {} %}}", "a".repeat(100))}),
            0,
        );
        assert_eq!(label.chars().count(), MAX_LABEL_CHARS);
        assert!(label.ends_with('…'));
        assert_eq!(rule_label(&json!({"Variable": "$.x"}), 2), "rule 3");
    }
}
