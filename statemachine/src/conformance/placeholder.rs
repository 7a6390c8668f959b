//! Placeholders in the recorded expectations.
//!
//! The recordings replaced values that differ on every run (timestamps, random numbers, ARNs,
//! execution names, UUIDs) by fixed markers. An expected string that is, or contains, such a
//! marker matches any actual value at that spot; the literal text around a marker still has to
//! match, so `"... == <timestamp>"` checks the cause wording and ignores only the timestamp.

/// Whole-value markers: the recording stored exactly this string in place of the real value.
const WHOLE_VALUE_MARKERS: &[&str] = &[
    "date",
    "timestamp",
    "RandomNumberGenerated",
    // Context-object times (`$$.Execution.StartTime`, `$$.State.EnteredTime`).
    "start-time",
    "entered-time",
    // The execution role's ARN, which a local run does not have.
    "snf_role_arn",
    "sfn_role_arn",
];

/// The account id the recordings put into every ARN in place of the real one.
const RECORDED_ACCOUNT: &str = "111111111111";

/// True when `expected` holds a placeholder and therefore does not need to equal `actual`
/// (as a whole, or outside its literal parts).
pub(crate) fn matches(expected: &str, actual: &serde_json::Value) -> bool {
    // No recorded placeholder ever stood for null: a null of ours is a real difference.
    if WHOLE_VALUE_MARKERS.contains(&expected) {
        return !actual.is_null();
    }
    let pattern = Pattern::parse(expected);
    if !pattern.has_wildcards() {
        return false;
    }
    match actual {
        serde_json::Value::String(s) => pattern.matches(s),
        // A marker standing for the whole value may stand for a non-string (a random number).
        other => pattern.is_single_wildcard() && !other.is_null(),
    }
}

/// True when `expected` contains any placeholder, i.e. comparing it literally would be wrong.
pub(crate) fn is_placeholder(expected: &str) -> bool {
    WHOLE_VALUE_MARKERS.contains(&expected) || Pattern::parse(expected).has_wildcards()
}

/// An expected string split into literal pieces separated by wildcards.
#[derive(Debug, PartialEq, Eq)]
struct Pattern<'a> {
    /// `literals.len() == wildcards + 1`; a wildcard sits between each neighbouring pair.
    literals: Vec<&'a str>,
}

impl<'a> Pattern<'a> {
    fn parse(text: &'a str) -> Self {
        let is_arn = text.starts_with("arn:");
        let mut literals = Vec::new();
        let mut literal_start = 0;
        let mut i = 0;
        let bytes = text.as_bytes();
        while i < bytes.len() {
            let marker_len = if bytes[i] == b'<' {
                marker_length(&text[i..])
            } else if is_arn && text[i..].starts_with(RECORDED_ACCOUNT) && text[..i].ends_with(':')
            {
                Some(RECORDED_ACCOUNT.len())
            } else {
                None
            };
            match marker_len {
                Some(len) => {
                    literals.push(&text[literal_start..i]);
                    i += len;
                    literal_start = i;
                }
                None => i += 1,
            }
        }
        literals.push(&text[literal_start..]);
        Pattern { literals }
    }

    fn has_wildcards(&self) -> bool {
        self.literals.len() > 1
    }

    fn is_single_wildcard(&self) -> bool {
        self.literals.len() == 2 && self.literals.iter().all(|l| l.is_empty())
    }

    /// Glob matching with `*` between the literals. Taking the leftmost occurrence of each
    /// middle literal is optimal for `*`-only globs, so no backtracking is needed.
    fn matches(&self, candidate: &str) -> bool {
        let (first, rest) = match self.literals.split_first() {
            Some(split) => split,
            None => return candidate.is_empty(),
        };
        let Some(mut remaining) = candidate.strip_prefix(first) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return remaining.is_empty();
        };
        for literal in middle {
            match remaining.find(literal) {
                Some(at) => remaining = &remaining[at + literal.len()..],
                None => return false,
            }
        }
        remaining.len() >= last.len() && remaining.ends_with(last)
    }
}

/// Length of a marker such as `<ArnPart_0idx>`, `<json-input:1>` or `<uuid:1>` at the start of
/// `text`, or None when `text` does not start with one (a lone `<` in real data stays literal).
fn marker_length(text: &str) -> Option<usize> {
    let body = text.strip_prefix('<')?;
    let end = body.find('>')?;
    let name = &body[..end];
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':'));
    (starts_with_letter && rest_ok).then_some(end + 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_value_markers_match_anything() {
        assert!(matches("date", &json!("2024-01-01T00:00:00Z")));
        assert!(matches("RandomNumberGenerated", &json!(42)));
        assert!(!matches("timestamp", &json!(null)));
        assert!(
            !matches("plain text", &json!("plain text")),
            "no placeholder: compared elsewhere"
        );
    }

    #[test]
    fn arn_markers_and_account_are_wildcards() {
        let expected = "arn:<partition>:states:<region>:111111111111:execution:<ArnPart_0idx>:<ExecArnPart_0idx>";
        assert!(matches(
            expected,
            &json!("arn:aws:states:us-east-1:123456789012:execution:sm:exec-1")
        ));
        assert!(!matches(
            expected,
            &json!("arn:aws:states:us-east-1:123456789012:stateMachine:sm")
        ));
    }

    #[test]
    fn literal_text_around_a_marker_must_match() {
        let expected = "The TimestampPath parameter is invalid: $.start_at == <timestamp>";
        assert!(matches(
            expected,
            &json!("The TimestampPath parameter is invalid: $.start_at == 2024-01-01")
        ));
        assert!(!matches(
            expected,
            &json!("The SecondsPath parameter is invalid: $.start_at == 2024-01-01")
        ));
    }

    #[test]
    fn lone_angle_brackets_are_literal() {
        assert!(!is_placeholder("a < b and c > d"));
        assert!(!is_placeholder("<>"));
        assert!(is_placeholder("<uuid:1>"));
    }

    #[test]
    fn single_marker_matches_non_strings_but_not_null() {
        assert!(matches("<ArnPart_0idx>", &json!(7)));
        assert!(!matches("<ArnPart_0idx>", &json!(null)));
    }

    #[test]
    fn glob_matching_handles_repeated_literals() {
        let pattern = Pattern::parse("a<x>b<y>b");
        assert!(pattern.matches("aXbYb"));
        assert!(pattern.matches("abbb"));
        assert!(!pattern.matches("ab"));
    }
}
