//! The functions Step Functions adds to JSONata (`$partition`, `$range`, `$hash`, `$random`,
//! `$uuid`, `$parse`), and the one it takes away (`$eval`).
//!
//! Behaviour follows AWS's documentation and recorded executions:
//! - numeric arguments are rounded towards zero (`$partition(a, 2.9)` chunks by 2);
//! - arguments AWS answers with `undefined` rather than an error (a chunk size below 1, an
//!   empty array, a `$range` without a step or with a step pointing away from `end`, a `$hash`
//!   without an algorithm) return `undefined`, so the field fails with "returned nothing";
//! - `$range` returns a sequence, so a one-element range collapses to the bare number, as the
//!   recorded `$range(1, 9, 9)` → `1` shows.

use jsonata_core::evaluator::{Evaluator, EvaluatorError};
use jsonata_core::value::JValue;
use md5::Md5;
use rand::{Rng, SeedableRng};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::values::to_jvalue;
use crate::random::RandomSource;

/// The most elements one `$range` call may build. AWS refuses larger ranges with a memory
/// limit error; stopping here also keeps a hostile definition from allocating without bound.
pub(crate) const MAX_RANGE_LEN: usize = 360_145;

/// Installs the AWS functions on `evaluator` and disables `$eval`. Unseeded `$random()` and
/// `$uuid()` draw from `source` (the execution's seeded source, so runs are reproducible).
pub(crate) fn register(
    evaluator: &mut Evaluator,
    source: RandomSource,
) -> Result<(), EvaluatorError> {
    evaluator.register_fn("partition", partition)?;
    evaluator.register_fn("range", range)?;
    evaluator.register_fn("hash", hash)?;
    let uuid_source = source.clone();
    evaluator.register_fn("uuid", move |args: &[JValue]| uuid(args, &uuid_source))?;
    evaluator.register_fn("parse", parse)?;
    // `$random` exists in JSONata without a seed; AWS replaces it with a seedable one.
    evaluator.register_fn_override("random", move |args: &[JValue]| random(args, &source))?;
    // AWS does not allow `$eval` (use `$parse`); calling it is "not a function" there.
    evaluator.register_fn_override("eval", |_: &[JValue]| -> Result<JValue, EvaluatorError> {
        Err(EvaluatorError::TypeError(
            "T1006: Attempted to invoke a non-function".to_owned(),
        ))
    })?;
    Ok(())
}

/// JSONata's wording for an argument of the wrong type.
fn signature_error(function: &str, position: usize) -> EvaluatorError {
    EvaluatorError::TypeError(format!(
        "T0410: Argument {position} of function {function} does not match function signature"
    ))
}

/// Argument `index` (0-based), `undefined` when absent.
fn arg(args: &[JValue], index: usize) -> &JValue {
    args.get(index).unwrap_or(&JValue::Undefined)
}

/// A number argument, rounded towards zero. `Ok(None)` when undefined.
fn integer_arg(
    args: &[JValue],
    index: usize,
    function: &str,
) -> Result<Option<f64>, EvaluatorError> {
    match arg(args, index) {
        JValue::Undefined => Ok(None),
        JValue::Number(n) if n.is_finite() => Ok(Some(n.trunc())),
        _ => Err(signature_error(function, index + 1)),
    }
}

/// A string argument. `Ok(None)` when undefined.
fn string_arg<'a>(
    args: &'a [JValue],
    index: usize,
    function: &str,
) -> Result<Option<&'a str>, EvaluatorError> {
    match arg(args, index) {
        JValue::Undefined => Ok(None),
        JValue::String(s) => Ok(Some(s)),
        _ => Err(signature_error(function, index + 1)),
    }
}

/// `$partition(array, size)`: `array` in chunks of `size`, the last one holding the rest.
fn partition(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let items: Vec<JValue> = match arg(args, 0) {
        JValue::Undefined => return Ok(JValue::Undefined),
        JValue::Array(items) => items.to_vec(),
        // JSONata's array parameters accept a single value as a one-item array.
        single => vec![single.clone()],
    };
    let Some(size) = integer_arg(args, 1, "partition")? else {
        return Ok(JValue::Undefined);
    };
    if size < 1.0 || items.is_empty() {
        return Ok(JValue::Undefined);
    }
    // `size` is a whole number >= 1; anything beyond the item count makes one chunk.
    let size = if size >= items.len() as f64 {
        items.len()
    } else {
        size as usize
    };
    Ok(JValue::array(
        items
            .chunks(size)
            .map(|chunk| JValue::array(chunk.to_vec()))
            .collect(),
    ))
}

/// `$range(start, end, step)`: `start`, `start + step`, ... up to and including `end`.
fn range(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let start = integer_arg(args, 0, "range")?;
    let end = integer_arg(args, 1, "range")?;
    let step = integer_arg(args, 2, "range")?;
    let (Some(start), Some(end), Some(step)) = (start, end, step) else {
        return Ok(JValue::Undefined);
    };
    if step == 0.0 || (end - start) * step < 0.0 {
        return Ok(JValue::Undefined);
    }
    let count = ((end - start) / step).floor() + 1.0;
    if count > MAX_RANGE_LEN as f64 {
        return Err(EvaluatorError::EvaluationError(format!(
            "$range would produce {count} elements, more than the {MAX_RANGE_LEN} allowed"
        )));
    }
    // `count` is a whole number in 1..=MAX_RANGE_LEN.
    let values = (0..count as usize)
        .map(|i| JValue::Number(start + step * i as f64))
        .collect();
    Ok(JValue::sequence(values))
}

/// `$hash(value, algorithm)`: the lowercase hex digest of the string `value`.
fn hash(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let Some(value) = string_arg(args, 0, "hash")? else {
        return Ok(JValue::Undefined);
    };
    let Some(algorithm) = string_arg(args, 1, "hash")? else {
        return Ok(JValue::Undefined);
    };
    let bytes = value.as_bytes();
    let digest = match algorithm {
        "MD5" => hex::encode(Md5::digest(bytes)),
        "SHA-1" => hex::encode(Sha1::digest(bytes)),
        "SHA-256" => hex::encode(Sha256::digest(bytes)),
        "SHA-384" => hex::encode(Sha384::digest(bytes)),
        "SHA-512" => hex::encode(Sha512::digest(bytes)),
        other => {
            return Err(EvaluatorError::EvaluationError(format!(
                "Unsupported hashing algorithm '{other}'. Supported algorithms are MD5, SHA-1, SHA-256, SHA-384 \
                 and SHA-512"
            )));
        }
    };
    Ok(JValue::string(digest))
}

/// `$random([seed])`: a number in `[0, 1)`; the same seed always gives the same number.
fn random(args: &[JValue], source: &RandomSource) -> Result<JValue, EvaluatorError> {
    let value: f64 = match integer_arg(args, 0, "random")? {
        None => source.unit_f64(),
        // Seeds are whole numbers; the cast saturates for huge ones, which only narrows the
        // seed space and keeps the function total.
        Some(seed) => rand::rngs::StdRng::seed_from_u64(seed as i64 as u64).random(),
    };
    Ok(JValue::Number(value))
}

/// `$uuid()`: a random version 4 UUID.
fn uuid(_: &[JValue], source: &RandomSource) -> Result<JValue, EvaluatorError> {
    Ok(JValue::string(source.uuid_v4()))
}

/// `$parse(jsonString)`: the JSON value the string holds.
fn parse(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let Some(text) = string_arg(args, 0, "parse")? else {
        return Ok(JValue::Undefined);
    };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        EvaluatorError::EvaluationError(format!("Unable to parse the JSON string: {e}"))
    })?;
    Ok(to_jvalue(&value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(n: f64) -> JValue {
        JValue::Number(n)
    }

    fn ints(values: &[i64]) -> JValue {
        JValue::array(values.iter().map(|&v| JValue::Number(v as f64)).collect())
    }

    #[test]
    fn partition_chunks_with_remainder_last() {
        let items = ints(&[0, 1, 2]);
        let got = partition(&[items.clone(), num(2.0)]).expect("valid arguments");
        assert_eq!(got, JValue::array(vec![ints(&[0, 1]), ints(&[2])]));
        let got = partition(&[items, num(5.0)]).expect("valid arguments");
        assert_eq!(got, JValue::array(vec![ints(&[0, 1, 2])]));
    }

    #[test]
    fn partition_truncates_size_and_answers_undefined_for_degenerate_input() {
        let got = partition(&[ints(&[0, 1, 2, 3]), num(2.9)]).expect("valid arguments");
        assert_eq!(got, JValue::array(vec![ints(&[0, 1]), ints(&[2, 3])]));
        assert!(
            partition(&[ints(&[1]), num(0.0)])
                .expect("ok")
                .is_undefined()
        );
        assert!(
            partition(&[ints(&[]), num(2.0)])
                .expect("ok")
                .is_undefined()
        );
        assert!(
            partition(&[ints(&[1]), num(-1.0)])
                .expect("ok")
                .is_undefined()
        );
        assert!(partition(&[ints(&[1]), JValue::string("2")]).is_err());
    }

    #[test]
    fn range_is_inclusive_when_step_lands_on_end() {
        assert_eq!(
            range(&[num(0.0), num(9.0), num(3.0)]).expect("ok"),
            JValue::sequence(vec![num(0.0), num(3.0), num(6.0), num(9.0)])
        );
        assert_eq!(
            range(&[num(0.0), num(10.0), num(3.0)])
                .expect("ok")
                .as_array()
                .map(Vec::len),
            Some(4)
        );
        assert_eq!(
            range(&[num(5.0), num(1.0), num(-2.0)]).expect("ok"),
            JValue::sequence(vec![num(5.0), num(3.0), num(1.0)])
        );
    }

    #[test]
    fn range_undefined_cases_and_limit() {
        assert!(range(&[num(0.0), num(9.0)]).expect("ok").is_undefined());
        assert!(
            range(&[num(0.0), num(9.0), num(0.0)])
                .expect("ok")
                .is_undefined()
        );
        assert!(
            range(&[num(0.0), num(9.0), num(-1.0)])
                .expect("ok")
                .is_undefined()
        );
        assert!(range(&[num(1.0), num(360_145.0), num(1.0)]).is_ok());
        assert!(range(&[num(1.0), num(360_146.0), num(1.0)]).is_err());
        assert!(range(&[JValue::string("a"), num(1.0), num(1.0)]).is_err());
    }

    #[test]
    fn range_truncates_arguments_towards_zero() {
        let got = range(&[num(-1.7), num(2.0), num(1.0)]).expect("ok");
        assert_eq!(
            got,
            JValue::sequence(vec![num(-1.0), num(0.0), num(1.0), num(2.0)])
        );
    }

    #[test]
    fn hash_supports_every_aws_algorithm() {
        let cases = [
            ("MD5", "5d41402abc4b2a76b9719d911017c592"),
            ("SHA-1", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
            (
                "SHA-256",
                "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            ),
            (
                "SHA-384",
                "59e1748777448c69de6b800d7a33bbfb9ff1b463e44354c3553bcdb9c666fa90125a3c79f90397bdf5f6a13de828684f",
            ),
            (
                "SHA-512",
                "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043",
            ),
        ];
        for (algorithm, digest) in cases {
            let got =
                hash(&[JValue::string("hello"), JValue::string(algorithm)]).expect("supported");
            assert_eq!(got, JValue::string(digest), "{algorithm}");
        }
    }

    #[test]
    fn hash_rejects_unknown_algorithms_and_is_case_sensitive() {
        assert!(hash(&[JValue::string("x"), JValue::string("sha-256")]).is_err());
        assert!(hash(&[JValue::string("x"), JValue::string("CRC32")]).is_err());
        assert!(hash(&[JValue::string("x")]).expect("ok").is_undefined());
        assert!(hash(&[num(1.0), JValue::string("MD5")]).is_err());
    }

    #[test]
    fn random_is_in_unit_interval_and_reproducible_with_a_seed() {
        let source = RandomSource::seeded(5);
        for _ in 0..100 {
            let n = random(&[], &source).expect("ok").as_f64().expect("number");
            assert!((0.0..1.0).contains(&n));
        }
        let a = random(&[num(42.0)], &source).expect("ok");
        let b = random(&[num(42.9)], &RandomSource::seeded(6)).expect("ok");
        let c = random(&[num(43.0)], &source).expect("ok");
        assert_eq!(
            a, b,
            "seeds are truncated to whole numbers, and the source plays no part"
        );
        assert_ne!(a, c);
        assert!(random(&[JValue::string("seed")], &source).is_err());
    }

    #[test]
    fn unseeded_random_and_uuid_follow_the_source() {
        let (one, two) = (RandomSource::seeded(9), RandomSource::seeded(9));
        assert_eq!(
            random(&[], &one).expect("ok"),
            random(&[], &two).expect("ok")
        );
        assert_eq!(uuid(&[], &one).expect("ok"), uuid(&[], &two).expect("ok"));
        assert_ne!(
            uuid(&[], &one).expect("ok"),
            uuid(&[], &RandomSource::seeded(10)).expect("ok")
        );
    }

    #[test]
    fn uuid_is_a_version_4_uuid() {
        let source = RandomSource::from_entropy();
        let got = uuid(&[], &source).expect("ok");
        let text = got.as_str().expect("string");
        let parsed = uuid::Uuid::parse_str(text).expect("valid UUID");
        assert_eq!(parsed.get_version_num(), 4);
        assert_ne!(uuid(&[], &source).expect("ok"), got);
    }

    #[test]
    fn parse_reads_any_json_value() {
        assert_eq!(parse(&[JValue::string("1")]).expect("ok"), num(1.0));
        assert_eq!(
            parse(&[JValue::string("true")]).expect("ok"),
            JValue::Bool(true)
        );
        assert_eq!(
            parse(&[JValue::string("[1, 2, \"HelloWorld\"]")]).expect("ok"),
            JValue::array(vec![num(1.0), num(2.0), JValue::string("HelloWorld")])
        );
        assert!(parse(&[JValue::string("{not json")]).is_err());
        assert!(parse(&[num(1.0)]).is_err());
        assert!(parse(&[]).expect("ok").is_undefined());
    }
}
