//! ASL's JSONPath rules over an RFC 9535 engine (serde_json_path): paths, reference paths,
//! `$$` (context object), `$var` (variables) and ResultPath. Payload templates (`"key.$"`),
//! which mix paths with intrinsic functions, are resolved one level up, in
//! `engine/payload_template.rs`: JSONPath knows nothing of the intrinsics.
//!
//! OWNER: paths helper. Signatures are a contract with the evaluator; add, don't change.
//!
//! Cause strings: the functions here return the part of AWS's cause that follows the
//! "An error occurred while executing the state 'X' (entered at the event id #N). " prefix; the
//! evaluator adds that prefix, because only it knows the state name and event id.

mod syntax;

use serde_json::{Map, Value};

use crate::context::PathContext;
use crate::error::{StatesError, names};

use syntax::{AslPath, Root, Segment};

/// Evaluates `path` (`$...` on the input, `$$...` on the context object, `$name...` on a
/// variable) for `field` (the ASL field name, used in AWS's cause strings, e.g. "InputPath").
/// A definite path yields its value; an indefinite one yields an array of matches.
pub fn query(path: &str, ctx: &PathContext<'_>, field: &str) -> Result<Value, StatesError> {
    let parsed = parse_runtime(path)?;
    let doc = root_document(&parsed, ctx, path, field)?;
    match select(&parsed, doc)? {
        Selection::Found(value) => Ok(value),
        Selection::Missing { failed_at } => Err(not_found(path, &parsed, failed_at, doc, field)),
    }
}

/// Like [`query`], but a definite path that selects nothing gives `Ok(None)` instead of an
/// error, for callers whose AWS cause string for a missing value is their own (Choice's
/// `IsPresent`, Wait's `SecondsPath`, Map's `...Path` fields). An undefined variable is
/// missing too.
pub fn query_optional(path: &str, ctx: &PathContext<'_>) -> Result<Option<Value>, StatesError> {
    let parsed = parse_runtime(path)?;
    let doc = match &parsed.root {
        Root::Input => ctx.input,
        Root::Context => ctx.context,
        Root::Variable(name) => match ctx.variables.get(name) {
            Some(value) => value,
            None => return Ok(None),
        },
    };
    match select(&parsed, doc)? {
        Selection::Found(value) => Ok(Some(value)),
        Selection::Missing { .. } => Ok(None),
    }
}

/// Load-time syntax check of a path (`$...`, `$$...` or `$var...`). The `Err` is a plain message.
pub fn check_path(path: &str) -> Result<(), String> {
    let parsed = syntax::parse(path)?;
    if !parsed.is_definite() {
        // Hand the indefinite parts to serde_json_path now, so a bad filter fails at load time.
        serde_json_path::JsonPath::parse(&parsed.to_rfc9535())
            .map_err(|e| format!("invalid JSONPath '{path}': {e}"))?;
    }
    Ok(())
}

/// Load-time check of a reference path (ResultPath): `$` rooted, names and single indices only.
pub fn check_reference_path(path: &str) -> Result<(), String> {
    let parsed = syntax::parse(path)?;
    if parsed.root != Root::Input {
        return Err(format!(
            "the reference path '{path}' must start with '$' and refer to the input"
        ));
    }
    if !parsed.is_reference_path() {
        return Err(format!(
            "the reference path '{path}' may only contain names and array indices"
        ));
    }
    Ok(())
}

/// Applies ResultPath: `None` means the field is absent (`$`, the result replaces the input);
/// `Some(Value::Null)` means `"ResultPath": null` (discard the result, keep the input);
/// `Some(Value::String(path))` places the result at that reference path inside the input.
pub fn apply_result_path(
    input: &Value,
    result: Value,
    result_path: Option<&Value>,
) -> Result<Value, StatesError> {
    match result_path {
        None => Ok(result),
        Some(Value::Null) => Ok(input.clone()),
        Some(Value::String(path)) => place_at_reference_path(input, result, path),
        Some(other) => Err(StatesError::runtime(format!(
            "ResultPath must be a string or null, but was: {}",
            compact(other)
        ))),
    }
}

/// AWS's compact JSON form of a value, as it appears in cause strings and in
/// `States.JsonToString` (no whitespace, keys in input order).
pub fn compact(value: &Value) -> String {
    // Serialising a `Value` to a string cannot fail: its keys are strings and it holds no
    // non-finite floats. Fall back to the Display form, which is the same text, just in case.
    serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
}

/// The outcome of running a parsed path on a document.
enum Selection {
    Found(Value),
    /// A definite path selected nothing; `failed_at` is the index of the segment that failed.
    Missing {
        failed_at: usize,
    },
}

fn parse_runtime(path: &str) -> Result<AslPath, StatesError> {
    // GUESS: no recorded case shows AWS's cause for a syntactically invalid path at run time
    // (the validator rejects them at load time); this follows the shape of its "Invalid path" cause.
    syntax::parse(path)
        .map_err(|msg| StatesError::runtime(format!("Invalid path '{path}' : {msg}")))
}

fn root_document<'a>(
    parsed: &AslPath,
    ctx: &PathContext<'a>,
    path: &str,
    field: &str,
) -> Result<&'a Value, StatesError> {
    match &parsed.root {
        Root::Input => Ok(ctx.input),
        Root::Context => Ok(ctx.context),
        Root::Variable(name) => ctx.variables.get(name).ok_or_else(|| {
            // GUESS: no recorded case for a reference to an undefined variable in JSONPath mode;
            // we reuse AWS's "could not be found" wording with the state input.
            StatesError::runtime(format!(
                "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{}'",
                compact(ctx.input)
            ))
        }),
    }
}

fn select(parsed: &AslPath, doc: &Value) -> Result<Selection, StatesError> {
    if parsed.is_definite() {
        return Ok(walk_definite(doc, &parsed.segments));
    }
    let text = parsed.to_rfc9535();
    let compiled = serde_json_path::JsonPath::parse(&text).map_err(|e| {
        StatesError::runtime(format!("Invalid path '{}' : {e}", parsed.normalized()))
    })?;
    let nodes = compiled.query(doc).all().into_iter().cloned().collect();
    Ok(Selection::Found(Value::Array(nodes)))
}

/// Walks names and indices directly: faster than a general query, and it knows which segment
/// failed, which Jayway's (and so AWS's) cause strings need.
fn walk_definite(doc: &Value, segments: &[Segment]) -> Selection {
    let mut current = doc;
    for (i, segment) in segments.iter().enumerate() {
        let next = match (segment, current) {
            (Segment::Name(name), Value::Object(map)) => map.get(name),
            (Segment::Index(index), Value::Array(items)) => {
                resolve_index(*index, items.len()).and_then(|i| items.get(i))
            }
            _ => None,
        };
        match next {
            Some(value) => current = value,
            None => return Selection::Missing { failed_at: i },
        }
    }
    Selection::Found(current.clone())
}

/// A Jayway index: negative counts from the end.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    if index >= 0 {
        usize::try_from(index).ok().filter(|i| *i < len)
    } else {
        let back = usize::try_from(index.unsigned_abs()).ok()?;
        len.checked_sub(back)
    }
}

/// AWS's cause for a definite path that selected nothing. Which wording AWS uses depends on the
/// field: InputPath reports Jayway's own exception text, other fields a sentence that quotes
/// the input.
fn not_found(
    path: &str,
    parsed: &AslPath,
    failed_at: usize,
    doc: &Value,
    field: &str,
) -> StatesError {
    match field {
        // Recorded for InputPath (INVALID_JSONPATH_IN_INPUTPATH). OutputPath reports the same way
        // in LocalStack's implementation, which is checked against AWS snapshots. GUESS: ItemsPath
        // is assumed to as well.
        "InputPath" | "OutputPath" | "ItemsPath" => StatesError::runtime(format!(
            "Invalid path '{path}' : {}",
            jayway_missing_message(parsed, failed_at, doc)
        )),
        // Recorded for Parameters keys ('value.$'), ErrorPath and CausePath. For a `$$` path the
        // quoted input is the context object (as LocalStack's AWS-checked implementation does).
        _ => StatesError::runtime(format!(
            "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{}'",
            compact(doc)
        )),
    }
}

/// Jayway's PathNotFoundException text: a missing leaf gives "No results for path: <path>"
/// (recorded); a missing intermediate property "Missing property in path <prefix>" (Jayway's
/// wording; not in a recorded case).
fn jayway_missing_message(parsed: &AslPath, failed_at: usize, doc: &Value) -> String {
    let is_leaf = failed_at + 1 == parsed.segments.len();
    let parent_is_object = matches!(
        walk_definite(doc, &parsed.segments[..failed_at]),
        Selection::Found(Value::Object(_))
    );
    if !is_leaf && parent_is_object && matches!(parsed.segments[failed_at], Segment::Name(_)) {
        format!(
            "Missing property in path {}",
            parsed.normalized_prefix(failed_at + 1)
        )
    } else {
        format!("No results for path: {}", parsed.normalized())
    }
}

/// Places `result` at a reference path inside a copy of `input`, creating missing
/// intermediate objects, as ResultPath does.
fn place_at_reference_path(input: &Value, result: Value, path: &str) -> Result<Value, StatesError> {
    let parsed = parse_runtime(path)?;
    if parsed.root != Root::Input || !parsed.is_reference_path() {
        return Err(StatesError::runtime(format!(
            "Invalid path '{path}' : ResultPath must be a reference path (names and array indices, starting with '$')"
        )));
    }
    if parsed.segments.is_empty() {
        return Ok(result);
    }
    let mut output = input.clone();
    let mut slot = &mut output;
    for (depth, segment) in parsed.segments.iter().enumerate() {
        slot = match (segment, slot) {
            (Segment::Name(name), Value::Object(map)) => map
                .entry(name.clone())
                .or_insert_with(|| Value::Object(Map::new())),
            (Segment::Index(index), Value::Array(items)) => {
                let len = items.len();
                match resolve_index(*index, len).and_then(|i| items.get_mut(i)) {
                    Some(item) => item,
                    None => return Err(reference_path_conflict(path, depth, segment, input)),
                }
            }
            _ => return Err(reference_path_conflict(path, depth, segment, input)),
        };
    }
    *slot = result;
    Ok(output)
}

/// ResultPath cannot be applied: the input (or a value on the way) is not an object (or an
/// array, for an index).
///
/// AWS's documentation lists `States.ResultPathMatchFailure` for this, but executions users
/// quote show the service raising the undocumented `States.ReferencePathConflict` instead.
/// Evidence (no recorded case of ours): AWS execution failures quoted by users, e.g.
/// `{"error": "States.ReferencePathConflict", "cause": "Unable to apply ReferencePath
/// $.someTaskResult to input \"input1\""}` (a string input, qiita.com/tsubasaogawa), and
/// `States.ReferencePathConflict: Unable to apply step "objects" to input {"discovery":{...}}`
/// when a value inside the input is in the way. So: the whole input in the way names the
/// reference path; a value inside it names the step that could not be taken.
fn reference_path_conflict(
    path: &str,
    depth: usize,
    segment: &Segment,
    input: &Value,
) -> StatesError {
    let cause = match segment {
        Segment::Name(name) if depth > 0 => {
            format!(
                "Unable to apply step \"{name}\" to input {}",
                compact(input)
            )
        }
        _ => format!(
            "Unable to apply ReferencePath {path} to input {}",
            compact(input)
        ),
    };
    StatesError::new(names::REFERENCE_PATH_CONFLICT, cause)
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;

    /// An input, a context object and two variables, for tests of path evaluation (also
    /// used by the payload template tests).
    pub(crate) struct Fixture {
        pub(crate) input: Value,
        context: Value,
        variables: Map<String, Value>,
    }

    impl Fixture {
        pub(crate) fn new(input: Value) -> Self {
            let mut variables = Map::new();
            variables.insert("x".to_owned(), json!({"deep": [1, 2, 3]}));
            variables.insert("name".to_owned(), json!("pikachu"));
            Self {
                input,
                context: json!({"Execution": {"Id": "exec-1", "Input": {"k": 1}}, "Map": {"Item": {"Value": 7}}}),
                variables,
            }
        }
        pub(crate) fn ctx(&self) -> PathContext<'_> {
            PathContext {
                input: &self.input,
                context: &self.context,
                variables: &self.variables,
                random: None,
            }
        }
    }

    #[test]
    fn definite_paths_on_input_context_and_variables() {
        let f = Fixture::new(json!({"a": {"b": [10, 20, 30]}, "delivery-partner": "ups"}));
        let ctx = f.ctx();
        assert_eq!(query("$", &ctx, "InputPath").expect("root"), f.input);
        assert_eq!(
            query("$.a.b[1]", &ctx, "InputPath").expect("index"),
            json!(20)
        );
        assert_eq!(
            query("$.a.b[-1]", &ctx, "InputPath").expect("negative index"),
            json!(30)
        );
        assert_eq!(
            query("$['a']['b'][0]", &ctx, "InputPath").expect("brackets"),
            json!(10)
        );
        assert_eq!(
            query("$.delivery-partner", &ctx, "x.$").expect("dash"),
            json!("ups")
        );
        assert_eq!(
            query("$$.Execution.Id", &ctx, "x.$").expect("context"),
            json!("exec-1")
        );
        assert_eq!(query("$$", &ctx, "x.$").expect("context root"), f.context);
        assert_eq!(
            query("$x.deep[2]", &ctx, "x.$").expect("variable"),
            json!(3)
        );
        assert_eq!(
            query("$name", &ctx, "x.$").expect("variable root"),
            json!("pikachu")
        );
    }

    #[test]
    fn indefinite_paths_give_arrays_even_when_empty() {
        let f =
            Fixture::new(json!({"items": [{"v": 1}, {"v": 2}, {"w": 3}], "n": [0, 1, 2, 3, 4, 5]}));
        let ctx = f.ctx();
        assert_eq!(
            query("$.items[*].v", &ctx, "x.$").expect("wildcard"),
            json!([1, 2])
        );
        assert_eq!(
            query("$.n[1:3]", &ctx, "x.$").expect("slice"),
            json!([1, 2])
        );
        assert_eq!(query("$.n[:1]", &ctx, "x.$").expect("slice"), json!([0]));
        assert_eq!(
            query("$.items[?(@.v > 1)]", &ctx, "x.$").expect("filter"),
            json!([{"v": 2}])
        );
        assert_eq!(
            query("$..v", &ctx, "x.$").expect("deep scan"),
            json!([1, 2])
        );
        // Recorded: `$.item.items[1:5].itemValue` on `{}` gives [].
        let empty = Fixture::new(json!({}));
        assert_eq!(
            query("$.item.items[1:5].itemValue", &empty.ctx(), "item.$").expect("no input"),
            json!([])
        );
        assert_eq!(
            query("$.items[*]", &empty.ctx(), "item.$").expect("no input"),
            json!([])
        );
    }

    #[test]
    fn escaped_bracket_name_matches_aws() {
        // ESCAPE_SEQUENCES_JSONPATH: `$['Test\""Name"']` on {"Test\\\"\"Name\"": "Value\"\\"}.
        let f = Fixture::new(json!({"Test\\\"\"Name\"": "Value\"\\"}));
        assert_eq!(
            query(r#"$['Test\""Name"']"#, &f.ctx(), "value.$").expect("found"),
            json!("Value\"\\")
        );
    }

    #[test]
    fn missing_path_causes_match_recorded_cases() {
        let f = Fixture::new(json!({"int-literal": 0}));
        let ctx = f.ctx();
        let err = query("$.no_such_jsonpath", &ctx, "value.$").expect_err("missing");
        assert_eq!(err.error, "States.Runtime");
        assert_eq!(
            err.cause,
            "The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be found in the input '{\"int-literal\":0}'"
        );
        let err = query("$.ErrorX", &ctx, "ErrorPath").expect_err("missing");
        assert_eq!(
            err.cause,
            "The JSONPath '$.ErrorX' specified for the field 'ErrorPath' could not be found in the input '{\"int-literal\":0}'"
        );
        let err = query("$.NoSuchInputPath", &ctx, "InputPath").expect_err("missing");
        assert_eq!(
            err.cause,
            "Invalid path '$.NoSuchInputPath' : No results for path: $['NoSuchInputPath']"
        );
    }

    #[test]
    fn missing_intermediate_property_uses_jayway_wording() {
        let f = Fixture::new(json!({"a": {}}));
        let err = query("$.a.b.c", &f.ctx(), "InputPath").expect_err("missing");
        assert_eq!(
            err.cause,
            "Invalid path '$.a.b.c' : Missing property in path $['a']['b']"
        );
        let err = query("$.a[3]", &f.ctx(), "InputPath").expect_err("not an array");
        assert_eq!(
            err.cause,
            "Invalid path '$.a[3]' : No results for path: $['a'][3]"
        );
    }

    #[test]
    fn query_optional_reports_absence_without_error() {
        let f = Fixture::new(json!({"a": null}));
        let ctx = f.ctx();
        assert_eq!(query_optional("$.a", &ctx).expect("ok"), Some(Value::Null));
        assert_eq!(query_optional("$.b", &ctx).expect("ok"), None);
        assert_eq!(query_optional("$undefined", &ctx).expect("ok"), None);
        assert!(query_optional("$.a[", &ctx).is_err());
    }

    #[test]
    fn undefined_variable_is_a_runtime_error() {
        let f = Fixture::new(json!({}));
        let err = query("$nope", &f.ctx(), "x.$").expect_err("undefined");
        assert_eq!(err.error, "States.Runtime");
    }

    #[test]
    fn result_path_variants() {
        let input = json!({"a": 1});
        assert_eq!(
            apply_result_path(&input, json!(2), None).expect("absent"),
            json!(2)
        );
        assert_eq!(
            apply_result_path(&input, json!(2), Some(&Value::Null)).expect("null"),
            input
        );
        assert_eq!(
            apply_result_path(&input, json!(2), Some(&json!("$"))).expect("root"),
            json!(2)
        );
        assert_eq!(
            apply_result_path(&input, json!(2), Some(&json!("$.b"))).expect("new key"),
            json!({"a": 1, "b": 2})
        );
        assert_eq!(
            apply_result_path(&input, json!(2), Some(&json!("$.a"))).expect("overwrite"),
            json!({"a": 2})
        );
        assert_eq!(
            apply_result_path(&input, json!(2), Some(&json!("$.x.y.z"))).expect("intermediates"),
            json!({"a": 1, "x": {"y": {"z": 2}}})
        );
        assert_eq!(
            apply_result_path(&json!({"l": [0, 1]}), json!("r"), Some(&json!("$.l[1]")))
                .expect("index"),
            json!({"l": [0, "r"]})
        );
    }

    #[test]
    fn result_path_keeps_key_order() {
        let input = json!({"z": 1, "a": 2});
        let out = apply_result_path(&input, json!(3), Some(&json!("$.m"))).expect("placed");
        assert_eq!(compact(&out), r#"{"z":1,"a":2,"m":3}"#);
    }

    /// AWS's error and wording as users quote them (see [`reference_path_conflict`]).
    #[test]
    fn result_path_conflicts_are_reference_path_conflicts() {
        let err = apply_result_path(&json!("input1"), json!(1), Some(&json!("$.someTaskResult")))
            .expect_err("string input");
        assert_eq!(err.error, "States.ReferencePathConflict");
        assert_eq!(
            err.cause,
            "Unable to apply ReferencePath $.someTaskResult to input \"input1\""
        );
        let err = apply_result_path(&json!({"a": 5}), json!(1), Some(&json!("$.a.b")))
            .expect_err("number");
        assert_eq!(err.error, "States.ReferencePathConflict");
        assert_eq!(err.cause, "Unable to apply step \"b\" to input {\"a\":5}");
        let err = apply_result_path(&json!({"l": []}), json!(1), Some(&json!("$.l[0]")))
            .expect_err("index");
        assert_eq!(err.error, "States.ReferencePathConflict");
        assert!(apply_result_path(&json!({}), json!(1), Some(&json!("$.a[*]"))).is_err());
        assert!(apply_result_path(&json!({}), json!(1), Some(&json!(3))).is_err());
    }

    /// Every truncation and every one-character deletion of valid paths: each must give a
    /// value or an error, never a panic.
    #[test]
    fn mangled_paths_never_panic() {
        let f = Fixture::new(json!({"a": {"b": [1, {"c": "é"}]}, "k y": 1}));
        let seeds = [
            r#"$.a.b[1]['c']"#,
            r#"$['k y'][?(@.c == 'x]')]..c[0:2:1]"#,
            r"$x.deep[-1]",
            r#"$$.Execution["Input"].k"#,
        ];
        for seed in seeds {
            let chars: Vec<char> = seed.chars().collect();
            for i in 0..=chars.len() {
                let truncated: String = chars[..i].iter().collect();
                let deleted: String = chars[..i].iter().chain(chars.iter().skip(i + 1)).collect();
                for path in [truncated, deleted] {
                    let _ = check_path(&path);
                    let _ = query(&path, &f.ctx(), "InputPath");
                    let _ =
                        apply_result_path(&f.input, json!(1), Some(&Value::String(path.clone())));
                }
            }
        }
    }

    #[test]
    fn load_time_checks() {
        assert!(check_path("$.a[?(@.x > 1)]").is_ok());
        assert!(check_path("$.a[").is_err());
        assert!(check_path("a").is_err());
        assert!(check_reference_path("$.a.b[0]").is_ok());
        assert!(check_reference_path("$.a[*]").is_err());
        assert!(check_reference_path("$$.a").is_err());
        assert!(check_reference_path("$var").is_err());
    }
}
