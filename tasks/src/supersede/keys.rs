//! Item keys, three ways: DynamoDB JSON (what targets carry), SDK values (what requests send),
//! and [`ItemKey`], a canonical form that says when two keys name the same item.
//!
//! BatchGetItem answers with items in no particular order, so each returned item is matched back
//! to the key that asked for it by its key attributes. DynamoDB normalises numbers (`7.0`, `07`
//! and `7E0` are one key, and it answers `7`), so comparing raw strings could miss a re-created
//! item and purge its object; [`ItemKey`] compares numbers by value. The same form dedupes a
//! batch: BatchGetItem refuses a request that names one item twice.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

use crate::contract::AttributeMap;
use crate::error::TaskError;

/// An SDK key or item.
pub(crate) type SdkItem = HashMap<String, AttributeValue>;

/// A key attribute's value, compared the way DynamoDB compares keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum KeyValue {
    S(String),
    /// See [`canonical_number`].
    N(String),
    B(Vec<u8>),
}

/// The identity of one item: its key attributes by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ItemKey(BTreeMap<String, KeyValue>);

impl ItemKey {
    /// The identity an SDK key names; `None` if an attribute is not S, N or B (never a key).
    pub(crate) fn of_key(key: &SdkItem) -> Option<ItemKey> {
        key.iter()
            .map(|(name, value)| Some((name.clone(), key_value(value)?)))
            .collect::<Option<BTreeMap<_, _>>>()
            .map(ItemKey)
    }

    /// The identity of a returned `item` under this key's attribute names, to compare with it.
    pub(crate) fn same_names_in(&self, item: &SdkItem) -> Option<ItemKey> {
        self.0
            .keys()
            .map(|name| Some((name.clone(), key_value(item.get(name)?)?)))
            .collect::<Option<BTreeMap<_, _>>>()
            .map(ItemKey)
    }

    /// The key's attribute names, sorted.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

fn key_value(value: &AttributeValue) -> Option<KeyValue> {
    match value {
        AttributeValue::S(s) => Some(KeyValue::S(s.clone())),
        AttributeValue::N(n) => Some(KeyValue::N(canonical_number(n))),
        AttributeValue::B(b) => Some(KeyValue::B(b.as_ref().to_vec())),
        _ => None,
    }
}

/// A DynamoDB number by value: `[-]digits e exponent` with no leading or trailing zeros in the
/// digits, or `0`. `7`, `7.0`, `+007` and `0.7e1` all become `7e0`. Text that is not a number
/// (DynamoDB would refuse it) is kept as it is, behind a marker no number has.
fn canonical_number(text: &str) -> String {
    let raw = || format!("?{text}");
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => match exponent.parse::<i64>() {
            Ok(exponent) => (mantissa, exponent),
            Err(_) => return raw(),
        },
        None => (unsigned, 0),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if integer.len() + fraction.len() == 0 || !digits_only(integer) || !digits_only(fraction) {
        return raw();
    }
    let digits = format!("{integer}{fraction}");
    let significant = digits.trim_start_matches('0');
    let trimmed = significant.trim_end_matches('0');
    if trimmed.is_empty() {
        return "0".to_owned();
    }
    let shifted = i64::try_from(fraction.len())
        .ok()
        .zip(i64::try_from(significant.len() - trimmed.len()).ok())
        .and_then(|(fraction, trailing)| exponent.checked_sub(fraction)?.checked_add(trailing));
    let Some(exponent) = shifted else {
        return raw();
    };
    let sign = if negative { "-" } else { "" };
    format!("{sign}{trimmed}e{exponent}")
}

/// DynamoDB JSON key (already checked by [`crate::validation::check_table_keys`]) → SDK key.
pub(crate) fn sdk_key(keys: &AttributeMap) -> Result<SdkItem, TaskError> {
    keys.iter()
        .map(|(name, value)| {
            let invalid = || {
                TaskError::InvalidInput(format!(
                    "key attribute `{name}` is not an S, N or B value: {value}"
                ))
            };
            let (kind, inner) = value
                .as_object()
                .filter(|o| o.len() == 1)
                .and_then(|o| o.iter().next())
                .ok_or_else(invalid)?;
            let text = inner.as_str().ok_or_else(invalid)?;
            let attribute = match kind.as_str() {
                "S" => AttributeValue::S(text.to_owned()),
                "N" => AttributeValue::N(text.to_owned()),
                "B" => AttributeValue::B(aws_smithy_types::Blob::new(
                    aws_smithy_types::base64::decode(text).map_err(|_| invalid())?,
                )),
                _ => return Err(invalid()),
            };
            Ok((name.clone(), attribute))
        })
        .collect()
}

/// SDK item → DynamoDB JSON, so the current item renders with the same template code as the
/// stream's old image.
pub(crate) fn json_image(item: &SdkItem) -> AttributeMap {
    item.iter()
        .map(|(name, value)| (name.clone(), json_value(value)))
        .collect()
}

/// SDK attribute → DynamoDB JSON.
fn json_value(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": aws_smithy_types::base64::encode(b.as_ref()) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(n) => json!({ "NULL": n }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        AttributeValue::Bs(v) => {
            json!({ "BS": v.iter().map(|b| aws_smithy_types::base64::encode(b.as_ref())).collect::<Vec<_>>() })
        }
        AttributeValue::L(v) => json!({ "L": v.iter().map(json_value).collect::<Vec<_>>() }),
        AttributeValue::M(m) => {
            let map: serde_json::Map<String, Value> =
                m.iter().map(|(k, v)| (k.clone(), json_value(v))).collect();
            json!({ "M": map })
        }
        // A type newer than this SDK: not S or N, so the template reports WrongAttributeType.
        _ => json!({ "UNKNOWN": null }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::Blob;

    fn key(pairs: &[(&str, AttributeValue)]) -> SdkItem {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect()
    }

    #[test]
    fn numbers_compare_by_value() {
        for same in ["7", "7.0", "+007", "0.7e1", "70E-1", "7.000e0"] {
            assert_eq!(canonical_number(same), "7e0", "{same}");
        }
        for zero in ["0", "-0", "0.000", "0e5"] {
            assert_eq!(canonical_number(zero), "0", "{zero}");
        }
        assert_eq!(canonical_number("-1200"), "-12e2");
        assert_eq!(canonical_number("0.0012"), "12e-4");
        assert_ne!(canonical_number("12"), canonical_number("1.2"));
        assert_ne!(canonical_number("12"), canonical_number("-12"));
        assert_eq!(
            canonical_number("1e999999999999999999999"),
            "?1e999999999999999999999"
        );
        assert_eq!(canonical_number("abc"), "?abc");
        assert_eq!(canonical_number("."), "?.");
    }

    #[test]
    fn an_item_matches_its_key_whatever_the_number_spelling() {
        let asked = ItemKey::of_key(&key(&[
            ("id", AttributeValue::S("a".into())),
            ("n", AttributeValue::N("7.0".into())),
        ]))
        .expect("a key");
        let item = key(&[
            ("id", AttributeValue::S("a".into())),
            ("n", AttributeValue::N("7".into())),
            ("image_key", AttributeValue::S("images/a.jpg".into())),
        ]);
        assert_eq!(asked.same_names_in(&item), Some(asked.clone()));
        assert_eq!(asked.names().collect::<Vec<_>>(), ["id", "n"]);
        let other = key(&[
            ("id", AttributeValue::S("a".into())),
            ("n", AttributeValue::N("8".into())),
        ]);
        assert_ne!(asked.same_names_in(&other), Some(asked.clone()));
        let missing = key(&[("id", AttributeValue::S("a".into()))]);
        assert_eq!(asked.same_names_in(&missing), None);
    }

    #[test]
    fn strings_and_binaries_compare_exactly() {
        let s = |v: &str| ItemKey::of_key(&key(&[("id", AttributeValue::S(v.into()))]));
        assert_ne!(s("a"), s("A"));
        assert_ne!(
            s("7"),
            ItemKey::of_key(&key(&[("id", AttributeValue::N("7".into()))]))
        );
        let b = |v: &[u8]| ItemKey::of_key(&key(&[("id", AttributeValue::B(Blob::new(v)))]));
        assert_eq!(b(&[0, 1]), b(&[0, 1]));
        assert_ne!(b(&[0, 1]), b(&[0, 1, 0]));
        assert_eq!(
            ItemKey::of_key(&key(&[("id", AttributeValue::Bool(true))])),
            None
        );
    }

    #[test]
    fn binary_keys_round_trip_and_bad_keys_are_invalid_input() {
        let keys = json!({"b": {"B": "AAEC"}})
            .as_object()
            .expect("object")
            .clone();
        let sdk = sdk_key(&keys).expect("valid");
        assert_eq!(
            sdk.get("b"),
            Some(&AttributeValue::B(Blob::new(vec![0, 1, 2])))
        );
        assert_eq!(
            json_value(&AttributeValue::B(Blob::new(vec![0, 1, 2]))),
            json!({"B": "AAEC"})
        );
        for bad in [
            json!({"b": {"B": "!!"}}),
            json!({"b": {"M": {}}}),
            json!({"b": "x"}),
        ] {
            let keys = bad.as_object().expect("object").clone();
            assert!(
                matches!(sdk_key(&keys), Err(TaskError::InvalidInput(_))),
                "{bad}"
            );
        }
    }
}
