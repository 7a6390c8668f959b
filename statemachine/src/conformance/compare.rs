//! Structural comparison of recorded (expected) and actual JSON, reporting the first difference.
//!
//! Numbers compare by value (`1 == 1.0`), because AWS and serde_json print them differently.
//! Expected strings holding placeholders match per [`placeholder`](super::placeholder).

use serde_json::Value;

use super::placeholder;

/// How strings that hold JSON are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StringJson {
    /// Strings are strings: `"1"` differs from `1`.
    Literal,
    /// History details: AWS returns `input`/`output` as JSON text, and the recording stored some
    /// of that text parsed. An actual string is parsed when the expected value is not a string,
    /// and two strings that both parse as JSON compare as JSON (formatting is not behaviour).
    Decode,
}

/// The first difference found: where, and the two values (shortened for one-line reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// A JSONPath such as `$.events[3].stateEnteredEventDetails.input.a`.
    pub path: String,
    pub expected: String,
    pub actual: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: expected {}, got {}",
            self.path, self.expected, self.actual
        )
    }
}

/// Longest rendering of a value in a report; a case's reason must stay on one line.
const MAX_RENDERED: usize = 120;

/// Renders a value for a one-line report, truncated on a character boundary.
pub(crate) fn render(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return "nothing".to_owned();
    };
    let text = serde_json::to_string(value).unwrap_or_else(|_| "<unprintable>".to_owned());
    truncate(&text, MAX_RENDERED)
}

pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    let one_line = text.replace(['\n', '\r'], " ");
    if one_line.chars().count() <= max_chars {
        return one_line;
    }
    let kept: String = one_line.chars().take(max_chars).collect();
    format!("{kept}…")
}

/// Compares two JSON values.
#[derive(Debug)]
pub(crate) struct Comparer<'a> {
    pub(crate) strings: StringJson,
    /// JSON pointers (RFC 6901, relative to the case's `expected`) of values that are
    /// placeholders as a whole, from the case's `placeholders` list.
    pub(crate) placeholder_pointers: &'a [String],
}

/// A location inside `expected`, kept both as a JSONPath (for reports) and a JSON pointer (to
/// look up the case's placeholder list).
#[derive(Debug, Clone)]
pub(crate) struct Location {
    path: String,
    pointer: String,
}

impl Location {
    /// `path` is the report's root (e.g. `$.output`), `pointer` the same spot as a pointer into
    /// `expected` (e.g. `/output`).
    pub(crate) fn new(path: &str, pointer: &str) -> Self {
        Location {
            path: path.to_owned(),
            pointer: pointer.to_owned(),
        }
    }

    pub(crate) fn key(&self, key: &str) -> Location {
        let simple = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let path = if simple {
            format!("{}.{key}", self.path)
        } else {
            format!(
                "{}[{}]",
                self.path,
                serde_json::Value::String(key.to_owned())
            )
        };
        let escaped = key.replace('~', "~0").replace('/', "~1");
        Location {
            path,
            pointer: format!("{}/{escaped}", self.pointer),
        }
    }

    pub(crate) fn index(&self, index: usize) -> Location {
        Location {
            path: format!("{}[{index}]", self.path),
            pointer: format!("{}/{index}", self.pointer),
        }
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }
}

impl Comparer<'_> {
    /// Ok when `actual` matches `expected`; otherwise the first difference in document order.
    pub(crate) fn compare(
        &self,
        expected: &Value,
        actual: Option<&Value>,
        at: &Location,
    ) -> Result<(), Difference> {
        let differ = || Difference {
            path: at.path.clone(),
            expected: render(Some(expected)),
            actual: render(actual),
        };
        let Some(actual) = actual else {
            return Err(differ());
        };
        if self.placeholder_pointers.contains(&at.pointer) {
            return Ok(());
        }
        match (expected, actual) {
            (Value::String(e), a) if placeholder::is_placeholder(e) => {
                if placeholder::matches(e, a) {
                    Ok(())
                } else {
                    Err(differ())
                }
            }
            (Value::String(e), Value::String(a)) => {
                if e == a {
                    return Ok(());
                }
                match self.strings {
                    StringJson::Decode => match decode_both(e, a) {
                        Some((e, a)) => self.compare(&e, Some(&a), at),
                        None => Err(differ()),
                    },
                    StringJson::Literal => Err(differ()),
                }
            }
            (e, Value::String(a)) if self.strings == StringJson::Decode => {
                match serde_json::from_str::<Value>(a) {
                    Ok(decoded) => self.compare(e, Some(&decoded), at),
                    Err(_) => Err(differ()),
                }
            }
            (Value::Number(e), Value::Number(a)) => {
                if numbers_equal(e, a) {
                    Ok(())
                } else {
                    Err(differ())
                }
            }
            (Value::Array(e), Value::Array(a)) => {
                for (i, item) in e.iter().enumerate() {
                    self.compare(item, a.get(i), &at.index(i))?;
                }
                if a.len() > e.len() {
                    return Err(Difference {
                        path: at.index(e.len()).path,
                        expected: "nothing (array ends)".to_owned(),
                        actual: render(a.get(e.len())),
                    });
                }
                Ok(())
            }
            (Value::Object(e), Value::Object(a)) => {
                for (key, item) in e {
                    self.compare(item, a.get(key), &at.key(key))?;
                }
                if let Some((key, extra)) = a.iter().find(|(key, _)| !e.contains_key(*key)) {
                    return Err(Difference {
                        path: at.key(key).path,
                        expected: "no such field".to_owned(),
                        actual: render(Some(extra)),
                    });
                }
                Ok(())
            }
            (e, a) if e == a => Ok(()),
            _ => Err(differ()),
        }
    }
}

/// Both strings decoded, when both hold JSON (objects, arrays, quoted strings or scalars).
/// Each decoding strips a layer of quoting, so comparing the results recursively terminates.
fn decode_both(expected: &str, actual: &str) -> Option<(Value, Value)> {
    Some((
        serde_json::from_str(expected).ok()?,
        serde_json::from_str(actual).ok()?,
    ))
}

/// `1 == 1.0`; integers beyond f64's exact range still compare exactly.
fn numbers_equal(expected: &serde_json::Number, actual: &serde_json::Number) -> bool {
    if let (Some(e), Some(a)) = (as_integer(expected), as_integer(actual)) {
        return e == a;
    }
    match (expected.as_f64(), actual.as_f64()) {
        (Some(e), Some(a)) => e == a,
        _ => false,
    }
}

/// The exact integer value, also for floats such as `3.0`.
fn as_integer(n: &serde_json::Number) -> Option<i128> {
    if let Some(i) = n.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(i128::from(u));
    }
    let f = n.as_f64()?;
    // 2^63 bounds the floats that convert exactly; beyond it compare as floats.
    (f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i128)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn literal() -> Comparer<'static> {
        Comparer {
            strings: StringJson::Literal,
            placeholder_pointers: &[],
        }
    }

    fn decode() -> Comparer<'static> {
        Comparer {
            strings: StringJson::Decode,
            placeholder_pointers: &[],
        }
    }

    fn root() -> Location {
        Location::new("$.output", "/output")
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(
            literal()
                .compare(&json!({"a": 1}), Some(&json!({"a": 1.0})), &root())
                .is_ok()
        );
        let diff = literal()
            .compare(&json!({"a": 1}), Some(&json!({"a": 1.5})), &root())
            .expect_err("1 != 1.5");
        assert_eq!(diff.to_string(), "$.output.a: expected 1, got 1.5");
    }

    #[test]
    fn reports_the_first_difference_with_its_path() {
        let diff = literal()
            .compare(
                &json!({"a": [1, {"b c": "x"}]}),
                Some(&json!({"a": [1, {"b c": "y"}]})),
                &root(),
            )
            .expect_err("x != y");
        assert_eq!(diff.path, "$.output.a[1][\"b c\"]");
        assert_eq!(
            (diff.expected.as_str(), diff.actual.as_str()),
            ("\"x\"", "\"y\"")
        );
    }

    #[test]
    fn missing_and_extra_fields_are_differences() {
        let missing = literal()
            .compare(&json!({"a": 1, "b": 2}), Some(&json!({"a": 1})), &root())
            .expect_err("b missing");
        assert_eq!(missing.to_string(), "$.output.b: expected 2, got nothing");
        let extra = literal()
            .compare(&json!({"a": 1}), Some(&json!({"a": 1, "z": 0})), &root())
            .expect_err("z extra");
        assert_eq!(
            extra.to_string(),
            "$.output.z: expected no such field, got 0"
        );
        let longer = literal()
            .compare(&json!([1]), Some(&json!([1, 2])), &root())
            .expect_err("longer array");
        assert_eq!(longer.path, "$.output[1]");
    }

    #[test]
    fn literal_mode_keeps_strings_as_strings() {
        assert!(
            literal()
                .compare(&json!({"a": 1}), Some(&json!("{\"a\":1}")), &root())
                .is_err()
        );
        assert!(
            literal()
                .compare(&json!("1"), Some(&json!(1)), &root())
                .is_err()
        );
    }

    #[test]
    fn decode_mode_parses_json_text() {
        assert!(
            decode()
                .compare(
                    &json!({"a": [1, 2]}),
                    Some(&json!("{\"a\":[1,2.0]}")),
                    &root()
                )
                .is_ok()
        );
        assert!(
            decode()
                .compare(&json!("[1, 2]"), Some(&json!("[1,2]")), &root())
                .is_ok()
        );
        assert!(
            decode()
                .compare(&json!(1), Some(&json!("1")), &root())
                .is_ok()
        );
        assert!(
            decode()
                .compare(&json!({"a": 1}), Some(&json!("not json")), &root())
                .is_err()
        );
        assert!(
            decode()
                .compare(&json!("\"a\""), Some(&json!("\"b\"")), &root())
                .is_err()
        );
    }

    #[test]
    fn placeholder_pointers_match_anything_present() {
        let pointers = vec!["/output/Execution/Id".to_owned()];
        let comparer = Comparer {
            strings: StringJson::Literal,
            placeholder_pointers: &pointers,
        };
        let expected = json!({"Execution": {"Id": "some-recorded-id"}});
        assert!(
            comparer
                .compare(
                    &expected,
                    Some(&json!({"Execution": {"Id": "ours"}})),
                    &root()
                )
                .is_ok()
        );
        assert!(
            comparer
                .compare(&expected, Some(&json!({"Execution": {}})), &root())
                .is_err()
        );
    }

    #[test]
    fn placeholder_strings_match_by_pattern() {
        let expected = json!({"cause": "entered at <timestamp>", "t": "timestamp"});
        assert!(
            literal()
                .compare(
                    &expected,
                    Some(&json!({"cause": "entered at 12:00", "t": "x"})),
                    &root()
                )
                .is_ok()
        );
        assert!(
            literal()
                .compare(
                    &expected,
                    Some(&json!({"cause": "left at 12:00", "t": "x"})),
                    &root()
                )
                .is_err()
        );
    }

    #[test]
    fn truncation_keeps_reports_on_one_line() {
        let long = "é".repeat(300);
        let rendered = truncate(&format!("{long}\nnext"), 10);
        assert_eq!(rendered.chars().count(), 11);
        assert!(!rendered.contains('\n'));
    }

    #[test]
    fn large_integers_compare_exactly() {
        let big = json!(9_007_199_254_740_993_u64);
        let near = json!(9_007_199_254_740_992_u64);
        assert!(literal().compare(&big, Some(&near), &root()).is_err());
        assert!(
            literal()
                .compare(&json!(3), Some(&json!(3.0)), &root())
                .is_ok()
        );
    }
}
