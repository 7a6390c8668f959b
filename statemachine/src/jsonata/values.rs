//! Conversion between `serde_json::Value` and jsonata-core's `JValue`, with AWS's number rules.
//!
//! JSONata numbers are IEEE doubles, as in JavaScript. AWS writes a double that holds a whole
//! number as an integer (`6`, never `6.0`), `-0` as `0`, and a non-finite result as the string
//! JavaScript names it by (`"Infinity"`, `"-Infinity"`, `"NaN"`), because JSON has no literal
//! for one. Whole numbers beyond the 64-bit integer range stay doubles (`1e21`), which is the
//! same JSON number AWS writes.

use std::rc::Rc;

use jsonata_core::value::{JMap, JValue};
use serde_json::{Number, Value};

/// The JSON value an expression sees for `value`. Every number becomes a double, as in
/// jsonata-js; integral ones print back as integers through [`to_json`].
pub(crate) fn to_jvalue(value: &Value) -> JValue {
    match value {
        Value::Null => JValue::Null,
        Value::Bool(b) => JValue::Bool(*b),
        Value::Number(n) => JValue::Number(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => JValue::string(s.as_str()),
        Value::Array(items) => JValue::array(items.iter().map(to_jvalue).collect()),
        Value::Object(map) => {
            let fields: JMap = map.iter().map(|(k, v)| (k.clone(), to_jvalue(v))).collect();
            JValue::Object(Rc::new(fields))
        }
    }
}

/// Why a `JValue` has no JSON form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotJson {
    /// The value is JSONata's `undefined` (no match, no result).
    Undefined,
    /// The value nests deeper than [`MAX_RESULT_DEPTH`].
    TooDeep,
}

/// Deepest nesting a result may have. A recursive expression can build a value thousands of
/// levels deep in milliseconds; everything downstream (serialisation, `Value`'s drop) recurses
/// per level, so a bound here keeps a hostile expression from overflowing the stack.
pub(crate) const MAX_RESULT_DEPTH: usize = 1_000;

/// The JSON form of an evaluation result, with AWS's number normalisation.
///
/// `undefined` at the top is [`NotJson::Undefined`]: the caller decides what that means for
/// the field. Inside arrays it is dropped and inside objects the key is left out, as
/// `JSON.stringify` does in jsonata-js. Functions and regexes have no JSON form either and are
/// treated the same way.
pub(crate) fn to_json(value: &JValue) -> Result<Value, NotJson> {
    to_json_at(value, 0)
}

fn to_json_at(value: &JValue, depth: usize) -> Result<Value, NotJson> {
    if depth > MAX_RESULT_DEPTH {
        return Err(NotJson::TooDeep);
    }
    match value {
        JValue::Null => Ok(Value::Null),
        JValue::Bool(b) => Ok(Value::Bool(*b)),
        JValue::Number(n) => Ok(number_to_json(*n)),
        JValue::String(s) => Ok(Value::String(s.to_string())),
        JValue::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items.iter() {
                match to_json_at(item, depth + 1) {
                    Ok(v) => out.push(v),
                    Err(NotJson::Undefined) => {}
                    Err(NotJson::TooDeep) => return Err(NotJson::TooDeep),
                }
            }
            Ok(Value::Array(out))
        }
        JValue::Object(fields) => {
            let mut out = serde_json::Map::with_capacity(fields.len());
            for (key, field) in fields.iter() {
                match to_json_at(field, depth + 1) {
                    Ok(v) => {
                        out.insert(key.clone(), v);
                    }
                    Err(NotJson::Undefined) => {}
                    Err(NotJson::TooDeep) => return Err(NotJson::TooDeep),
                }
            }
            Ok(Value::Object(out))
        }
        _ => Err(NotJson::Undefined),
    }
}

/// Largest magnitude below which every double is written as an integer: `2^64` for unsigned
/// values and `2^63` for negative ones keep the integer exact in `u64`/`i64`.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

/// One JSON number from a JSONata double, normalised as AWS writes it.
pub(crate) fn number_to_json(n: f64) -> Value {
    if n.is_nan() {
        return Value::String("NaN".to_owned());
    }
    if n.is_infinite() {
        let name = if n > 0.0 { "Infinity" } else { "-Infinity" };
        return Value::String(name.to_owned());
    }
    if n.fract() == 0.0 {
        // The casts are exact: `n` is integral and inside the target type's range.
        if (0.0..TWO_POW_64).contains(&n) {
            return Value::Number(Number::from(n as u64));
        }
        if (-TWO_POW_63..0.0).contains(&n) {
            return Value::Number(Number::from(n as i64));
        }
    }
    // Finite, so `from_f64` cannot fail; the fallback only keeps this total.
    Number::from_f64(n).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integral_doubles_become_integers() {
        assert_eq!(number_to_json(6.0), json!(6));
        assert_eq!(number_to_json(-6.0), json!(-6));
        assert_eq!(number_to_json(-0.0), json!(0));
        assert_eq!(
            serde_json::to_string(&number_to_json(6.0)).expect("serialises"),
            "6"
        );
    }

    #[test]
    fn fractions_stay_doubles() {
        assert_eq!(number_to_json(0.1), json!(0.1));
        assert_eq!(number_to_json(-2.5), json!(-2.5));
    }

    #[test]
    fn whole_numbers_beyond_i64_stay_exact_or_become_doubles() {
        // 1e19 fits u64 exactly; 1e21 does not fit any integer type and stays a double.
        assert_eq!(number_to_json(1e19), json!(10_000_000_000_000_000_000u64));
        assert_eq!(number_to_json(1e21), json!(1e21));
        assert_eq!(number_to_json(-1e19), json!(-1e19));
        assert_eq!(number_to_json(-TWO_POW_63), json!(i64::MIN));
    }

    #[test]
    fn non_finite_numbers_are_named_as_javascript_does() {
        assert_eq!(number_to_json(f64::INFINITY), json!("Infinity"));
        assert_eq!(number_to_json(f64::NEG_INFINITY), json!("-Infinity"));
        assert_eq!(number_to_json(f64::NAN), json!("NaN"));
    }

    #[test]
    fn round_trip_keeps_structure_and_key_order() {
        let value = json!({"z": 1, "a": [1.5, "s", null, true, {"k": []}], "m": 2.0});
        let back = to_json(&to_jvalue(&value)).expect("plain JSON has a JSON form");
        assert_eq!(
            back,
            json!({"z": 1, "a": [1.5, "s", null, true, {"k": []}], "m": 2})
        );
        let keys: Vec<&String> = back.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn undefined_has_no_json_form_and_is_dropped_inside_containers() {
        assert_eq!(to_json(&JValue::Undefined), Err(NotJson::Undefined));
        let array = JValue::array(vec![JValue::from(1i64), JValue::Undefined]);
        assert_eq!(to_json(&array), Ok(json!([1])));
    }

    #[test]
    fn results_nested_too_deep_are_refused() {
        let mut deep = JValue::Null;
        for _ in 0..=MAX_RESULT_DEPTH {
            deep = JValue::array(vec![deep]);
        }
        assert_eq!(to_json(&deep), Err(NotJson::TooDeep));
        let mut fine = JValue::Null;
        for _ in 0..MAX_RESULT_DEPTH {
            fine = JValue::array(vec![fine]);
        }
        assert!(to_json(&fine).is_ok());
    }
}
