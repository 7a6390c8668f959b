//! The 18 intrinsic functions, applied to already evaluated arguments.
//!
//! Behaviour follows the recorded conformance cases where they exist (noted per function) and
//! the AWS documentation otherwise. AWS records no cause strings for intrinsic argument
//! errors in our cases: every such message here is a GUESS in AWS's style, raised as
//! `States.Runtime`.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD as BASE64};
use md5::Digest as _;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Map, Number, Value};

use crate::error::StatesError;
use crate::jsonpath::compact;
use crate::random::RandomSource;

/// Decoding accepts input with or without `=` padding, as Java's basic Base64 decoder does
/// (GUESS: AWS's service is assumed to use it); encoding always pads.
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// AWS's limit on the string arguments of Base64Encode/Base64Decode/Hash.
const MAX_STRING_ARGUMENT: usize = 10_000;
/// AWS's limit on the length of the array States.ArrayRange produces.
const MAX_RANGE_ITEMS: usize = 1_000;

/// Arity of every function: (name, minimum, maximum; `None` is unbounded).
pub(crate) const SIGNATURES: &[(&str, usize, Option<usize>)] = &[
    ("States.Format", 1, None),
    ("States.StringToJson", 1, Some(1)),
    ("States.JsonToString", 1, Some(1)),
    ("States.Array", 0, None),
    ("States.ArrayPartition", 2, Some(2)),
    ("States.ArrayContains", 2, Some(2)),
    ("States.ArrayRange", 3, Some(3)),
    ("States.ArrayGetItem", 2, Some(2)),
    ("States.ArrayLength", 1, Some(1)),
    ("States.ArrayUnique", 1, Some(1)),
    ("States.Base64Encode", 1, Some(1)),
    ("States.Base64Decode", 1, Some(1)),
    ("States.Hash", 2, Some(2)),
    ("States.JsonMerge", 3, Some(3)),
    ("States.MathRandom", 2, Some(3)),
    ("States.MathAdd", 2, Some(2)),
    ("States.StringSplit", 2, Some(2)),
    ("States.UUID", 0, Some(0)),
];

/// Checks a call's function name and argument count. The `Err` is a plain message.
pub(crate) fn check_arity(name: &str, count: usize) -> Result<(), String> {
    let Some(&(_, min, max)) = SIGNATURES.iter().find(|(n, _, _)| *n == name) else {
        return Err(format!("'{name}' is not a known intrinsic function"));
    };
    let too_many = max.is_some_and(|max| count > max);
    if count < min || too_many {
        let expected = match max {
            Some(max) if max == min => format!("{min}"),
            Some(max) => format!("{min} to {max}"),
            None => format!("at least {min}"),
        };
        return Err(format!(
            "{name} takes {expected} argument(s), but {count} were given"
        ));
    }
    Ok(())
}

/// An evaluated argument. `Str` keeps a literal's raw text, so that States.Format can tell
/// an escaped `\{` from a placeholder.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    /// A string literal written in the definition (raw, escapes unprocessed).
    Literal(String),
    /// Any other value: a path's result, a nested call's result, a number, boolean or null.
    Value(Value),
}

impl Arg {
    fn into_value(self) -> Value {
        match self {
            Arg::Literal(raw) => Value::String(super::parser::unescape(&raw)),
            Arg::Value(v) => v,
        }
    }
}

/// [`apply_drawing`] without an execution's random source (unit tests).
#[cfg(test)]
pub(crate) fn apply(name: &str, args: Vec<Arg>) -> Result<Value, StatesError> {
    apply_drawing(name, args, None)
}

/// Applies function `name` to its arguments (arity already checked). `States.UUID()` and
/// unseeded `States.MathRandom` draw from `random` (the execution's seeded source) when given,
/// else from a source seeded by the operating system.
pub(crate) fn apply_drawing(
    name: &str,
    args: Vec<Arg>,
    random: Option<&RandomSource>,
) -> Result<Value, StatesError> {
    check_arity(name, args.len()).map_err(StatesError::runtime)?;
    if name == "States.Format" {
        return format(args);
    }
    let args: Vec<Value> = args.into_iter().map(Arg::into_value).collect();
    let f = Call {
        name,
        args: &args,
        random,
    };
    match name {
        "States.StringToJson" => f.string_to_json(),
        "States.JsonToString" => Ok(Value::String(compact(&args[0]))),
        "States.Array" => Ok(Value::Array(args.clone())),
        "States.ArrayPartition" => f.array_partition(),
        "States.ArrayContains" => Ok(Value::Bool(f.array(0)?.contains(&args[1]))),
        "States.ArrayRange" => f.array_range(),
        "States.ArrayGetItem" => f.array_get_item(),
        "States.ArrayLength" => Ok(Value::from(f.array(0)?.len())),
        "States.ArrayUnique" => f.array_unique(),
        "States.Base64Encode" => Ok(Value::String(BASE64.encode(f.bounded_string(0)?))),
        "States.Base64Decode" => f.base64_decode(),
        "States.Hash" => f.hash(),
        "States.JsonMerge" => f.json_merge(),
        "States.MathRandom" => f.math_random(),
        "States.MathAdd" => f.math_add(),
        "States.StringSplit" => f.string_split(),
        "States.UUID" => Ok(Value::String(match random {
            Some(random) => random.uuid_v4(),
            None => RandomSource::from_entropy().uuid_v4(),
        })),
        other => Err(StatesError::runtime(format!(
            "'{other}' is not a known intrinsic function"
        ))),
    }
}

/// One call's name and evaluated arguments, with typed accessors that produce AWS-style errors.
struct Call<'a> {
    name: &'a str,
    args: &'a [Value],
    random: Option<&'a RandomSource>,
}

impl Call<'_> {
    fn type_error(&self, index: usize, expected: &str) -> StatesError {
        StatesError::runtime(format!(
            "The argument at index {index} of the intrinsic function {} must be {expected}, but was: {}",
            self.name,
            compact(&self.args[index])
        ))
    }

    fn invalid(&self, message: impl std::fmt::Display) -> StatesError {
        StatesError::runtime(format!(
            "The intrinsic function {} failed: {message}",
            self.name
        ))
    }

    fn string(&self, index: usize) -> Result<&str, StatesError> {
        self.args[index]
            .as_str()
            .ok_or_else(|| self.type_error(index, "a string"))
    }

    fn bounded_string(&self, index: usize) -> Result<&str, StatesError> {
        let s = self.string(index)?;
        if s.chars().count() > MAX_STRING_ARGUMENT {
            return Err(self.invalid(format!(
                "the string is longer than {MAX_STRING_ARGUMENT} characters"
            )));
        }
        Ok(s)
    }

    fn array(&self, index: usize) -> Result<&Vec<Value>, StatesError> {
        self.args[index]
            .as_array()
            .ok_or_else(|| self.type_error(index, "an array"))
    }

    fn object(&self, index: usize) -> Result<&Map<String, Value>, StatesError> {
        self.args[index]
            .as_object()
            .ok_or_else(|| self.type_error(index, "a JSON object"))
    }

    fn boolean(&self, index: usize) -> Result<bool, StatesError> {
        self.args[index]
            .as_bool()
            .ok_or_else(|| self.type_error(index, "a boolean"))
    }

    /// An integer argument; an integral float such as `2.0` is accepted.
    fn integer(&self, index: usize) -> Result<i64, StatesError> {
        let value = &self.args[index];
        if let Some(i) = value.as_i64() {
            return Ok(i);
        }
        match value.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
            _ => Err(self.type_error(index, "an integer")),
        }
    }

    fn number(&self, index: usize) -> Result<f64, StatesError> {
        self.args[index]
            .as_f64()
            .ok_or_else(|| self.type_error(index, "a number"))
    }

    /// Recorded: "" and " " give null, "-0" gives 0, "\"HelloWorld\"" gives "HelloWorld".
    fn string_to_json(&self) -> Result<Value, StatesError> {
        let text = self.string(0)?.trim();
        if text.is_empty() {
            return Ok(Value::Null);
        }
        let parsed: Value = serde_json::from_str(text)
            .map_err(|e| self.invalid(format!("the string is not valid JSON ({e})")))?;
        Ok(normalize_negative_zero(parsed))
    }

    /// Recorded: [0,1,2] by 2 gives [[0,1],[2]]; [] gives []; a chunk larger than the array
    /// gives one chunk.
    fn array_partition(&self) -> Result<Value, StatesError> {
        let items = self.array(0)?;
        let size = self.integer(1)?;
        let size = usize::try_from(size)
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| self.type_error(1, "a positive integer"))?;
        Ok(Value::Array(
            items
                .chunks(size)
                .map(|chunk| Value::Array(chunk.to_vec()))
                .collect(),
        ))
    }

    /// Recorded: (0, 9, 3) gives [0,3,6,9]; (1, 9, 9) gives [1]. The end is inclusive.
    fn array_range(&self) -> Result<Value, StatesError> {
        let (start, end, step) = (self.integer(0)?, self.integer(1)?, self.integer(2)?);
        if step == 0 {
            return Err(self.invalid("the step must not be 0"));
        }
        let mut items = Vec::new();
        let mut current = start;
        while (step > 0 && current <= end) || (step < 0 && current >= end) {
            if items.len() == MAX_RANGE_ITEMS {
                return Err(
                    self.invalid(format!("the range has more than {MAX_RANGE_ITEMS} items"))
                );
            }
            items.push(Value::from(current));
            match current.checked_add(step) {
                Some(next) => current = next,
                None => break,
            }
        }
        Ok(Value::Array(items))
    }

    fn array_get_item(&self) -> Result<Value, StatesError> {
        let items = self.array(0)?;
        let index = self.integer(1)?;
        usize::try_from(index)
            .ok()
            .and_then(|i| items.get(i))
            .cloned()
            .ok_or_else(|| {
                self.invalid(format!(
                    "the index {index} is out of bounds for an array of length {}",
                    items.len()
                ))
            })
    }

    /// Keeps the first occurrence of each value, in order. Values are compared by a canonical
    /// text (object keys sorted), so a large input array costs linear, not quadratic, time.
    fn array_unique(&self) -> Result<Value, StatesError> {
        let mut seen = std::collections::HashSet::new();
        let unique = self
            .array(0)?
            .iter()
            .filter(|item| seen.insert(canonical_text(item)))
            .cloned()
            .collect();
        Ok(Value::Array(unique))
    }

    fn base64_decode(&self) -> Result<Value, StatesError> {
        let bytes = BASE64_LENIENT
            .decode(self.bounded_string(0)?)
            .map_err(|e| self.invalid(format!("the string is not valid base64 ({e})")))?;
        String::from_utf8(bytes)
            .map(Value::String)
            .map_err(|_| self.invalid("the decoded data is not valid UTF-8"))
    }

    /// Recorded: MD5, SHA-256 and SHA-512 of "input data" as lowercase hex.
    fn hash(&self) -> Result<Value, StatesError> {
        let data = self.bounded_string(0)?.as_bytes();
        let digest = match self.string(1)? {
            "MD5" => hex::encode(md5::Md5::digest(data)),
            "SHA-1" => hex::encode(sha1::Sha1::digest(data)),
            "SHA-256" => hex::encode(sha2::Sha256::digest(data)),
            "SHA-384" => hex::encode(sha2::Sha384::digest(data)),
            "SHA-512" => hex::encode(sha2::Sha512::digest(data)),
            other => {
                return Err(self.invalid(format!(
                    "the hash algorithm '{other}' is not supported; use MD5, SHA-1, SHA-256, SHA-384 or SHA-512"
                )));
            }
        };
        Ok(Value::String(digest))
    }

    /// A shallow merge: the second object's keys win. AWS supports only the shallow mode, so
    /// the third argument must be false.
    fn json_merge(&self) -> Result<Value, StatesError> {
        let (left, right) = (self.object(0)?, self.object(1)?);
        if self.boolean(2)? {
            return Err(self.invalid(
                "only the shallow merge mode is supported; the third argument must be false",
            ));
        }
        let mut merged = left.clone();
        for (key, value) in right {
            merged.insert(key.clone(), value.clone());
        }
        Ok(Value::Object(merged))
    }

    /// A random integer in [start, end). With a seed argument the number is a function of the
    /// seed alone (ours, not AWS's: no engine can reproduce AWS's random numbers); without one
    /// it comes from the execution's source, so a seeded execution is reproducible.
    fn math_random(&self) -> Result<Value, StatesError> {
        let (start, end) = (self.integer(0)?, self.integer(1)?);
        if start >= end {
            return Err(self.invalid("the start must be less than the end"));
        }
        let value = match self.args.get(2) {
            Some(_) => {
                let seed = self.integer(2)?;
                rand::rngs::StdRng::seed_from_u64(seed as u64).random_range(start..end)
            }
            None => match self.random {
                Some(random) => random.integer_in(start, end),
                None => RandomSource::from_entropy().integer_in(start, end),
            },
        };
        Ok(Value::from(value))
    }

    /// Recorded: each operand is rounded as Java's Math.round does (half up: -1.5 gives -1,
    /// 2.5 gives 3) before adding, and the result is an integer.
    fn math_add(&self) -> Result<Value, StatesError> {
        let a = java_round(self.number(0)?);
        let b = java_round(self.number(1)?);
        a.checked_add(b)
            .map(Value::from)
            .ok_or_else(|| self.invalid("the sum is out of range"))
    }

    /// Recorded: splits on every character of the delimiter string and drops empty parts
    /// (",,,," gives []; "This.is+a,test=string" on ".+,=" gives 5 parts).
    fn string_split(&self) -> Result<Value, StatesError> {
        let text = self.string(0)?;
        let delimiters: Vec<char> = self.string(1)?.chars().collect();
        let parts = text
            .split(|c: char| delimiters.contains(&c))
            .filter(|part| !part.is_empty())
            .map(|part| Value::String(part.to_owned()))
            .collect();
        Ok(Value::Array(parts))
    }
}

/// A text that is equal for two values exactly when the values are equal as JSON (object key
/// order does not matter; `1` and `1.0` stay different, as in `Value`'s own equality).
fn canonical_text(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let body: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| {
                    format!(
                        "{}:{}",
                        compact(&Value::String(k.clone())),
                        canonical_text(v)
                    )
                })
                .collect();
            format!("{{{}}}", body.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(canonical_text)
                .collect::<Vec<_>>()
                .join(",")
        ),
        scalar => compact(scalar),
    }
}

/// Java's Math.round: floor(x + 0.5), saturating like Java does for huge values.
fn java_round(x: f64) -> i64 {
    // `as` saturates at i64's bounds and maps NaN to 0, which matches Java's Math.round.
    (x + 0.5).floor() as i64
}

/// Recorded: States.StringToJson("-0") gives 0, not -0.0.
fn normalize_negative_zero(value: Value) -> Value {
    match value {
        Value::Number(n) if n.as_f64() == Some(0.0) && n.is_f64() => Value::Number(Number::from(0)),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(normalize_negative_zero).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, normalize_negative_zero(v)))
                .collect(),
        ),
        other => other,
    }
}

/// States.Format: each `{}` takes the next argument's text; `\{` and `\}` are literal braces.
fn format(args: Vec<Arg>) -> Result<Value, StatesError> {
    let mut args = args.into_iter();
    let template = match args.next() {
        Some(Arg::Literal(raw)) => raw,
        // A template read from a path follows the same escaping rules as a literal (GUESS:
        // AWS documents the rules for literals only).
        Some(Arg::Value(Value::String(s))) => s,
        Some(Arg::Value(other)) => {
            return Err(StatesError::runtime(format!(
                "The argument at index 0 of the intrinsic function States.Format must be a string, but was: {}",
                compact(&other)
            )));
        }
        None => {
            return Err(StatesError::runtime(
                "States.Format takes at least 1 argument(s), but 0 were given",
            ));
        }
    };
    let values: Vec<Value> = args.map(Arg::into_value).collect();
    let mut out = String::with_capacity(template.len());
    let mut used = 0;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&next) if matches!(next, '\'' | '{' | '}' | '\\') => {
                    out.push(next);
                    chars.next();
                }
                _ => out.push('\\'),
            },
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                let Some(value) = values.get(used) else {
                    return Err(format_count_error(
                        values.len(),
                        count_placeholders(&template),
                    ));
                };
                out.push_str(&java_text(value));
                used += 1;
            }
            c => out.push(c),
        }
    }
    if used != values.len() {
        return Err(format_count_error(values.len(), used));
    }
    Ok(Value::String(out))
}

fn count_placeholders(template: &str) -> usize {
    let mut count = 0;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                count += 1;
            }
            _ => {}
        }
    }
    count
}

fn format_count_error(arguments: usize, placeholders: usize) -> StatesError {
    StatesError::runtime(format!(
        "The intrinsic function States.Format failed: the template has {placeholders} placeholder(s) but {arguments} argument(s) were given"
    ))
}

/// How AWS renders a value inside States.Format: Java's toString of the parsed value.
/// Recorded: strings as is, null as `null`, numbers as written, and an object as
/// `{Arg1=1, Arg2=[]}` (Java's Map and List toString).
fn java_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(java_text).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{k}={}", java_text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(name: &str, args: Vec<Value>) -> Result<Value, StatesError> {
        apply(name, args.into_iter().map(Arg::Value).collect())
    }

    fn ok(name: &str, args: Vec<Value>) -> Value {
        run(name, args).expect("function succeeds")
    }

    #[test]
    fn format_renders_like_aws() {
        let lit = |s: &str| Arg::Literal(s.to_owned());
        let fmt = |args: Vec<Arg>| apply("States.Format", args).expect("formats");
        assert_eq!(
            fmt(vec![
                lit("Formatting argument {}."),
                Arg::Value(json!(null))
            ]),
            json!("Formatting argument null.")
        );
        assert_eq!(
            fmt(vec![lit("Formatting argument {}."), Arg::Value(json!(1.1))]),
            json!("Formatting argument 1.1.")
        );
        assert_eq!(
            fmt(vec![
                lit("fst={} and snd={}."),
                Arg::Value(json!({"Arg1": 1, "Arg2": []})),
                Arg::Value(json!(" "))
            ]),
            json!("fst={Arg1=1, Arg2=[]} and snd= .")
        );
        assert_eq!(
            fmt(vec![lit(r"\{} is {} \\ it\'s"), Arg::Value(json!("x"))]),
            json!(r"{} is x \ it's")
        );
        assert_eq!(
            fmt(vec![lit("list {}"), Arg::Value(json!([1, "a", [true]]))]),
            json!("list [1, a, [true]]")
        );
        // A template from a path (recorded with $AnswerTemplate = "It's {}!").
        assert_eq!(
            apply(
                "States.Format",
                vec![Arg::Value(json!("It's {}!")), Arg::Value(json!("Pikachu"))]
            )
            .expect("formats"),
            json!("It's Pikachu!")
        );
    }

    #[test]
    fn format_argument_count_must_match_placeholders() {
        let lit = |s: &str| Arg::Literal(s.to_owned());
        assert!(apply("States.Format", vec![lit("{} {}"), Arg::Value(json!(1))]).is_err());
        assert!(
            apply(
                "States.Format",
                vec![lit("{}"), Arg::Value(json!(1)), Arg::Value(json!(2))]
            )
            .is_err()
        );
        assert!(apply("States.Format", vec![Arg::Value(json!(3))]).is_err());
    }

    #[test]
    fn json_conversions() {
        assert_eq!(ok("States.StringToJson", vec![json!("")]), json!(null));
        assert_eq!(ok("States.StringToJson", vec![json!(" ")]), json!(null));
        assert_eq!(ok("States.StringToJson", vec![json!("-0")]), json!(0));
        assert_eq!(ok("States.StringToJson", vec![json!("1.1")]), json!(1.1));
        assert_eq!(
            ok("States.StringToJson", vec![json!("\"HelloWorld\"")]),
            json!("HelloWorld")
        );
        assert_eq!(
            ok("States.StringToJson", vec![json!("{\"b\":1,\"a\":[2]}")]),
            json!({"b": 1, "a": [2]})
        );
        assert!(run("States.StringToJson", vec![json!("{nope")]).is_err());
        assert!(run("States.StringToJson", vec![json!(1)]).is_err());
        assert_eq!(
            ok("States.JsonToString", vec![json!([1, 2, "HelloWorld"])]),
            json!("[1,2,\"HelloWorld\"]")
        );
        assert_eq!(
            ok("States.JsonToString", vec![json!("HelloWorld")]),
            json!("\"HelloWorld\"")
        );
        assert_eq!(
            ok("States.JsonToString", vec![json!({"z": 1, "a": null})]),
            json!("{\"z\":1,\"a\":null}")
        );
    }

    #[test]
    fn arrays() {
        assert_eq!(ok("States.Array", vec![]), json!([]));
        assert_eq!(
            ok("States.Array", vec![json!(null), json!({"a": 1})]),
            json!([null, {"a": 1}])
        );
        assert_eq!(
            ok("States.ArrayPartition", vec![json!([0, 1, 2, 3]), json!(3)]),
            json!([[0, 1, 2], [3]])
        );
        assert_eq!(
            ok("States.ArrayPartition", vec![json!([]), json!(2)]),
            json!([])
        );
        assert!(run("States.ArrayPartition", vec![json!([1]), json!(0)]).is_err());
        assert!(run("States.ArrayPartition", vec![json!("x"), json!(1)]).is_err());
        assert_eq!(
            ok(
                "States.ArrayContains",
                vec![json!([[1, 2, 3], 2]), json!([1, 2, 3])]
            ),
            json!(true)
        );
        assert_eq!(
            ok("States.ArrayContains", vec![json!([]), json!([])]),
            json!(false)
        );
        assert_eq!(
            ok(
                "States.ArrayContains",
                vec![json!([true, false]), json!(false)]
            ),
            json!(true)
        );
        assert_eq!(
            ok("States.ArrayRange", vec![json!(0), json!(9), json!(3)]),
            json!([0, 3, 6, 9])
        );
        assert_eq!(
            ok("States.ArrayRange", vec![json!(1), json!(9), json!(9)]),
            json!([1])
        );
        assert_eq!(
            ok("States.ArrayRange", vec![json!(5), json!(1), json!(-2)]),
            json!([5, 3, 1])
        );
        assert!(run("States.ArrayRange", vec![json!(0), json!(1), json!(0)]).is_err());
        assert!(run("States.ArrayRange", vec![json!(0), json!(5000), json!(1)]).is_err());
        assert_eq!(
            ok(
                "States.ArrayGetItem",
                vec![json!([1, 2, 3, 4, 5, 6]), json!(5)]
            ),
            json!(6)
        );
        assert!(run("States.ArrayGetItem", vec![json!([1]), json!(1)]).is_err());
        assert!(run("States.ArrayGetItem", vec![json!([1]), json!(-1)]).is_err());
        assert_eq!(ok("States.ArrayLength", vec![json!([1, 2, 3])]), json!(3));
        assert_eq!(
            ok(
                "States.ArrayUnique",
                vec![json!([1, 2, 2, 3, {"a": 1}, {"a": 1}, null, null])]
            ),
            json!([1, 2, 3, {"a": 1}, null])
        );
        assert_eq!(
            ok(
                "States.ArrayUnique",
                vec![json!([{"a": 1, "b": 2}, {"b": 2, "a": 1}, 1, 1.0, "1"])]
            ),
            json!([{"a": 1, "b": 2}, 1, 1.0, "1"])
        );
        let many: Vec<Value> = (0..100_000).map(Value::from).collect();
        assert_eq!(
            ok("States.ArrayUnique", vec![Value::Array(many)])
                .as_array()
                .map(Vec::len),
            Some(100_000)
        );
    }

    #[test]
    fn encoding_and_hashing() {
        assert_eq!(
            ok("States.Base64Encode", vec![json!("Data to encode")]),
            json!("RGF0YSB0byBlbmNvZGU=")
        );
        assert_eq!(ok("States.Base64Encode", vec![json!("")]), json!(""));
        assert_eq!(
            ok("States.Base64Decode", vec![json!("SGVsbG8gV29ybGQ=")]),
            json!("Hello World")
        );
        assert_eq!(
            ok("States.Base64Decode", vec![json!("SGVsbG8gV29ybGQ")]),
            json!("Hello World")
        );
        assert_eq!(ok("States.Base64Decode", vec![json!("")]), json!(""));
        assert!(run("States.Base64Decode", vec![json!("***")]).is_err());
        assert!(
            run("States.Base64Decode", vec![json!("/w==")]).is_err(),
            "0xFF is not UTF-8"
        );
        assert!(run("States.Base64Encode", vec![json!("x".repeat(10_001))]).is_err());
        assert_eq!(
            ok("States.Hash", vec![json!("input data"), json!("MD5")]),
            json!("812f45842bc6d66ee14572ce20db8e86")
        );
        assert_eq!(
            ok("States.Hash", vec![json!("input data"), json!("SHA-256")]),
            json!("b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3")
        );
        assert_eq!(
            ok("States.Hash", vec![json!("abc"), json!("SHA-1")]),
            json!("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
        assert_eq!(
            ok("States.Hash", vec![json!("abc"), json!("SHA-384")]),
            json!(
                "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"
            )
        );
        assert!(run("States.Hash", vec![json!("abc"), json!("SHA-3")]).is_err());
    }

    #[test]
    fn json_merge_is_shallow() {
        assert_eq!(
            ok(
                "States.JsonMerge",
                vec![
                    json!({"a": 1, "b": {"x": 1}}),
                    json!({"b": {"y": 2}, "c": 3}),
                    json!(false)
                ]
            ),
            json!({"a": 1, "b": {"y": 2}, "c": 3})
        );
        assert!(run("States.JsonMerge", vec![json!({}), json!({}), json!(true)]).is_err());
        assert!(run("States.JsonMerge", vec![json!([]), json!({}), json!(false)]).is_err());
    }

    #[test]
    fn math() {
        for (a, b, sum) in [
            (1.49, 1.5, 3),
            (-1.5, 0.0, -1),
            (-1.51, 0.0, -2),
            (2.5, 0.0, 3),
            (-0.5, 0.5, 1),
            (-2.5, 0.0, -2),
            (-1.5, -1.51, -3),
        ] {
            assert_eq!(
                ok("States.MathAdd", vec![json!(a), json!(b)]),
                json!(sum),
                "{a} + {b}"
            );
        }
        assert_eq!(
            ok("States.MathAdd", vec![json!(111), json!(-1)]),
            json!(110)
        );
        assert!(run("States.MathAdd", vec![json!("1"), json!(1)]).is_err());
        let seeded = ok("States.MathRandom", vec![json!(0), json!(999), json!(3)]);
        assert_eq!(
            seeded,
            ok("States.MathRandom", vec![json!(0), json!(999), json!(3)]),
            "same seed, same number"
        );
        for _ in 0..100 {
            let n = ok("States.MathRandom", vec![json!(-99999), json!(-9999)])
                .as_i64()
                .expect("integer");
            assert!((-99999..-9999).contains(&n));
        }
        assert!(run("States.MathRandom", vec![json!(5), json!(5)]).is_err());
    }

    #[test]
    fn string_split_and_uuid() {
        assert_eq!(
            ok("States.StringSplit", vec![json!(",,,,"), json!(",")]),
            json!([])
        );
        assert_eq!(
            ok("States.StringSplit", vec![json!(" , "), json!(",")]),
            json!([" ", " "])
        );
        assert_eq!(
            ok(
                "States.StringSplit",
                vec![json!("This.is+a,test=string"), json!(".+,=")]
            ),
            json!(["This", "is", "a", "test", "string"])
        );
        assert_eq!(
            ok(
                "States.StringSplit",
                vec![json!("split on T and \nnew line"), json!("T\n")]
            ),
            json!(["split on ", " and ", "new line"])
        );
        let id = ok("States.UUID", vec![]);
        let parsed = uuid::Uuid::parse_str(id.as_str().expect("string")).expect("valid uuid");
        assert_eq!(parsed.get_version_num(), 4);
    }

    #[test]
    fn arity_is_checked() {
        assert!(check_arity("States.UUID", 1).is_err());
        assert!(check_arity("States.MathRandom", 3).is_ok());
        assert!(check_arity("States.MathRandom", 4).is_err());
        assert!(check_arity("States.Nope", 0).is_err());
        assert!(run("States.ArrayLength", vec![]).is_err());
    }
}
