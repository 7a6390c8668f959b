//! Nesting depth, measured without recursion: this runs first, on untrusted input, so it must
//! not be the thing that overflows the stack.

use serde_json::Value;

use super::Location;

/// The location of the first value (in document order) nested deeper than `limit`, if any.
/// The root is at depth 0; each array element or object member adds one.
pub(super) fn first_path_deeper_than(root: &Value, limit: usize) -> Option<Location> {
    // Depth-first with an explicit stack; locations are only built for the path being explored.
    let mut stack: Vec<(&Value, usize, Location)> = vec![(root, 0, Location::root())];
    while let Some((value, depth, location)) = stack.pop() {
        if depth > limit {
            return Some(location);
        }
        match value {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate().rev() {
                    if is_container(item) {
                        stack.push((item, depth + 1, location.index(i)));
                    }
                }
            }
            Value::Object(members) => {
                let containers: Vec<_> = members.iter().filter(|(_, v)| is_container(v)).collect();
                for (name, member) in containers.into_iter().rev() {
                    stack.push((member, depth + 1, location.key(name)));
                }
            }
            _ => {}
        }
    }
    None
}

/// Scalars can't nest, so they never need a stack entry: this keeps huge flat arrays cheap.
fn is_container(value: &Value) -> bool {
    matches!(value, Value::Array(_) | Value::Object(_))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested_arrays(depth: usize) -> Value {
        let mut value = json!(1);
        for _ in 0..depth {
            value = Value::Array(vec![value]);
        }
        value
    }

    #[test]
    fn shallow_documents_pass() {
        assert_eq!(
            first_path_deeper_than(&json!({"a": [1, {"b": 2}]}), 2),
            None
        );
        assert_eq!(first_path_deeper_than(&json!(7), 0), None);
    }

    #[test]
    fn the_first_too_deep_container_is_named() {
        let doc = json!({"a": {"b": {"c": {}}}});
        let found = first_path_deeper_than(&doc, 2).map(|l| l.to_string());
        assert_eq!(found.as_deref(), Some("$.a.b.c"));
    }

    #[test]
    fn very_deep_documents_do_not_overflow() {
        let doc = nested_arrays(100_000);
        assert!(first_path_deeper_than(&doc, 128).is_some());
        // serde_json drops nested values recursively; unwind it by hand so the test itself
        // does not overflow on drop.
        let mut current = doc;
        while let Value::Array(mut items) = current {
            current = items.pop().unwrap_or(Value::Null);
        }
    }
}
