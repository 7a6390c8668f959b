//! One record → a purge target, a named rejection, or an ignored record.
//!
//! Rejection reasons (stable names, see [`RejectionReason`]), checked in this order:
//!
//! | Reason | When |
//! |---|---|
//! | `MalformedRecord` | the record's keys or a template attribute are not valid DynamoDB JSON (`{"S": 5}`, `{"Q": ..}`, a `B` key that is not base64, an `N` key that is not a DynamoDB number, an empty key, ...), or the supersede check's read refused the keys with a `ValidationException` (they do not match the table's key schema; see [`crate::validate_records`]) |
//! | `MissingOldImage` | the record has no old image (a KEYS_ONLY or NEW_IMAGE stream) |
//! | `MissingAttribute` | the key template names an attribute the old image does not have |
//! | `WrongAttributeType` | a template attribute is not S or N, or `\|subtype` meets a value that is not `type/subtype` |
//! | `UnsafeKey` | empty, over 1024 bytes, leading `/`, `*` or `?`, control or invisible characters, or a segment that an origin, proxy or OS could normalise to `.`, `..` or nothing (`;` parameters, whitespace, trailing dots, combining marks, default-ignorables, NFKC, lenient percent-decoding; see [`crate::key_safety`]) |
//! | `KeyOutsidePrefix` | the key is not under `PURGE_KEY_PREFIX`, or a replayed target names another bucket than `PURGE_BUCKET` |
//! | `SupersedeUnchecked` | the supersede check's BatchGetItem still left the key unprocessed after its retries (see [`crate::supersede`]): the object is kept |
//!
//! The trigger rejects one more way, before any execution: a record too large for any execution
//! input is handed over as the rejection these rules give it, else as `RecordTooLarge` (see
//! [`crate::trigger`]).
//!
//! Not rejections: a TTL delete under `PURGE_TTL_DELETES=ignore` is *ignored*
//! ([`IgnoreReason::TtlDelete`]); an item re-created with the same object is *superseded*
//! ([`crate::supersede`]). Both are reported in their own lists and delete nothing.
//!
//! Replayed targets (a failure report's `replayInput.targets`) are not trusted: the bucket, the
//! key rules and the prefix are checked again, and their CDN paths are recomputed from the
//! configured path templates rather than taken from the input.
//!
//! # Trust boundary
//!
//! An execution input (its `records` or its replayed `targets`) is trusted exactly as much as the
//! stream itself: anyone who can call `StartExecution` on the state machine, or edit a failure
//! report before replaying it, can name any key inside `PURGE_KEY_PREFIX`. A replayed target's
//! key is not re-derived from the item (the item is gone), so the checks here cannot tell a
//! genuine key from a crafted one. The guards are the prefix ([`check_key`]) and the
//! delete-objects IAM policy, which grants `s3:DeleteObject` on `bucket/prefix*` only; that is
//! why a non-empty `PURGE_KEY_PREFIX` is recommended.

use std::borrow::Cow;

use crate::config::{Config, ConfigError, TtlPolicy};
use crate::contract::{
    AttributeMap, DeleteKind, IgnoreReason, IgnoredRecord, PurgeTarget, Rejection, RejectionReason,
    RemovedRecord,
};
use crate::key_safety::{KeySafetyError, check_key, check_key_rules, check_prefix};
use crate::key_template::{RenderError, Template};

/// The configuration validation needs, borrowed from [`Config`].
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub bucket: &'a str,
    pub key_template: &'a Template,
    pub key_prefix: &'a str,
    pub path_templates: &'a [Template],
    pub ttl_deletes: TtlPolicy,
}

impl<'a> Rules<'a> {
    /// Fails with the named missing variable when `PURGE_BUCKET` or `PURGE_KEY_TEMPLATE` is unset.
    pub fn from_config(config: &'a Config) -> Result<Self, ConfigError> {
        Ok(Rules {
            bucket: config.bucket()?,
            key_template: config.key_template()?,
            key_prefix: &config.key_prefix,
            path_templates: &config.path_templates,
            ttl_deletes: config.ttl_deletes,
        })
    }
}

/// What one record becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Target(PurgeTarget),
    Rejected(Rejection),
    Ignored(IgnoredRecord),
}

/// Applies every rule to one removed record.
pub fn validate_record(record: &RemovedRecord, rules: &Rules<'_>) -> Verdict {
    let reject = |reason, detail: String| {
        Verdict::Rejected(Rejection {
            event_id: record.event_id.clone(),
            keys: record.keys.clone(),
            reason,
            detail,
        })
    };
    if let Err(detail) = check_table_keys(&record.keys) {
        return reject(RejectionReason::MalformedRecord, detail);
    }
    if record.delete_kind == DeleteKind::Ttl && rules.ttl_deletes == TtlPolicy::Ignore {
        return Verdict::Ignored(IgnoredRecord {
            event_id: record.event_id.clone(),
            keys: record.keys.clone(),
            reason: IgnoreReason::TtlDelete,
        });
    }
    let Some(image) = &record.old_image else {
        return reject(
            RejectionReason::MissingOldImage,
            "the record has no old image; set the table's stream view type to NEW_AND_OLD_IMAGES or OLD_IMAGE".into(),
        );
    };
    let key = match rules.key_template.render_item(image) {
        Ok(key) => key,
        Err(err) => {
            let detail = format!("{err} (key template `{}`)", rules.key_template);
            return reject(render_reason(&err), detail);
        }
    };
    match target_for(key, rules, &record.event_id, &record.keys) {
        Ok(target) => Verdict::Target(target),
        Err((reason, detail)) => reject(reason, detail),
    }
}

/// Re-checks a replayed target as if it were new: nothing in a replay input is trusted.
/// The verdict is a target (with recomputed paths) or a rejection, never `Ignored`. The
/// rejection is the first of [`target_refusals`].
pub fn recheck_target(target: &PurgeTarget, rules: &Rules<'_>) -> Verdict {
    if let Some((reason, detail)) = target_refusals(target, rules).into_iter().next() {
        return Verdict::Rejected(Rejection {
            event_id: target.event_id.clone(),
            keys: target.table_keys.clone(),
            reason,
            detail,
        });
    }
    match target_for(
        target.key.clone(),
        rules,
        &target.event_id,
        &target.table_keys,
    ) {
        Ok(target) => Verdict::Target(target),
        Err((reason, detail)) => Verdict::Rejected(Rejection {
            event_id: target.event_id.clone(),
            keys: target.table_keys.clone(),
            reason,
            detail,
        }),
    }
}

/// Every reason ValidateRecords has to refuse a replayed target, in the order it checks them:
/// its table keys, its bucket, the key rules, the prefix. Empty: it would be deleted (unless
/// the supersede check finds its item again). [`recheck_target`] rejects with the first;
/// `purgeflow replay --dry-run` lists them all.
pub fn target_refusals(target: &PurgeTarget, rules: &Rules<'_>) -> Vec<(RejectionReason, String)> {
    let mut refusals = Vec::new();
    if let Err(detail) = check_table_keys(&target.table_keys) {
        refusals.push((RejectionReason::MalformedRecord, detail));
    }
    if target.bucket != rules.bucket {
        refusals.push((
            RejectionReason::KeyOutsidePrefix,
            format!(
                "replayed target names bucket {:?}, but PURGE_BUCKET is {:?}",
                target.bucket, rules.bucket
            ),
        ));
    }
    for check in [
        check_key_rules(&target.key),
        check_prefix(&target.key, rules.key_prefix),
    ] {
        if let Err(err) = check {
            refusals.push((key_rejection_reason(&err), err.to_string()));
        }
    }
    refusals
}

fn key_rejection_reason(err: &KeySafetyError) -> RejectionReason {
    match err {
        KeySafetyError::UnsafeKey { .. } => RejectionReason::UnsafeKey,
        KeySafetyError::KeyOutsidePrefix { .. } => RejectionReason::KeyOutsidePrefix,
    }
}

fn target_for(
    key: String,
    rules: &Rules<'_>,
    event_id: &str,
    table_keys: &AttributeMap,
) -> Result<PurgeTarget, (RejectionReason, String)> {
    check_key(&key, rules.key_prefix)
        .map_err(|err| (key_rejection_reason(&err), err.to_string()))?;
    let paths = paths_for(&key, rules.path_templates);
    Ok(PurgeTarget {
        bucket: rules.bucket.to_owned(),
        key,
        paths,
        event_id: event_id.to_owned(),
        table_keys: table_keys.clone(),
    })
}

/// The CDN paths of `key`, unencoded (BatchPaths encodes them for CloudFront), deduplicated in
/// template order.
pub fn paths_for(key: &str, path_templates: &[Template]) -> Vec<String> {
    let mut paths: Vec<String> = Vec::with_capacity(path_templates.len());
    for template in path_templates {
        // Path templates are checked at config load to use only `{key}`; the lookup can't fail.
        let rendered = template.render_with(|_| Ok(Cow::Borrowed(key)));
        if let Ok(path) = rendered
            && !paths.contains(&path)
        {
            paths.push(path);
        }
    }
    paths
}

fn render_reason(err: &RenderError) -> RejectionReason {
    match err {
        RenderError::MissingAttribute { .. } => RejectionReason::MissingAttribute,
        RenderError::WrongAttributeType { .. } | RenderError::NotAMediaType { .. } => {
            RejectionReason::WrongAttributeType
        }
        RenderError::MalformedAttribute { .. } => RejectionReason::MalformedRecord,
    }
}

/// A table key is non-empty, and each of its attributes is `{"S": string}`, `{"N": number}` or
/// `{"B": base64}`, non-empty: the only key types DynamoDB allows. The supersede check sends
/// these keys to DynamoDB and reports carry them, so they must be exact: one bad key must reject
/// its own record here, not fail the whole batch when it is converted for the SDK.
pub fn check_table_keys(keys: &AttributeMap) -> Result<(), String> {
    if keys.is_empty() {
        return Err("the record has no key attributes".into());
    }
    for (name, value) in keys {
        let typed = value
            .as_object()
            .filter(|object| object.len() == 1)
            .and_then(|object| object.iter().next())
            .and_then(|(kind, inner)| Some((kind.as_str(), inner.as_str()?)));
        let Some((kind, text)) = typed else {
            return Err(format!(
                "key attribute `{name}` is not a DynamoDB S, N or B value: {value}"
            ));
        };
        let problem = match kind {
            "S" | "B" if text.is_empty() => Some("is empty; DynamoDB key attributes never are"),
            "S" => None,
            "N" => check_dynamodb_number(text).err(),
            "B" => aws_smithy_types::base64::decode(text)
                .err()
                .map(|_| "is not valid base64"),
            _ => Some("is not of type S, N or B"),
        };
        if let Some(problem) = problem {
            return Err(format!(
                "key attribute `{name}` ({kind}) {problem}: {value}"
            ));
        }
    }
    Ok(())
}

/// Most significant digits DynamoDB keeps in a number.
const DYNAMODB_MAX_DIGITS: usize = 38;
/// Decimal exponent range of a non-zero DynamoDB number in scientific notation
/// (1E-130 ..= 9.99…E+125).
const DYNAMODB_EXPONENTS: std::ops::RangeInclusive<i64> = -130..=125;

/// A number as DynamoDB accepts it: `[+-]digits[.digits][e[+-]digits]` (at least one digit in
/// the mantissa), at most 38 significant digits, and a magnitude between 1E-130 and 1E+126.
fn check_dynamodb_number(text: &str) -> Result<(), &'static str> {
    const SYNTAX: &str = "is not a number (expected digits, an optional fraction and exponent)";
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (unsigned, None),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if integer.len() + fraction.len() == 0 || !all_digits(integer) || !all_digits(fraction) {
        return Err(SYNTAX);
    }
    let exponent: i64 = match exponent {
        None => 0,
        Some(exponent) => {
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            // Past 6 digits the number is out of range anyway; the cap keeps the parse exact.
            if digits.is_empty() || !all_digits(digits) {
                return Err(SYNTAX);
            }
            if digits.trim_start_matches('0').len() > 6 {
                return Err("is outside DynamoDB's number range (1E-130 to 9.9E+125)");
            }
            exponent.parse().map_err(|_| SYNTAX)?
        }
    };
    let digits: Vec<u8> = integer.bytes().chain(fraction.bytes()).collect();
    let Some(first) = digits.iter().position(|&d| d != b'0') else {
        return Ok(()); // zero, however written
    };
    let last = digits.iter().rposition(|&d| d != b'0').unwrap_or(first);
    if last - first + 1 > DYNAMODB_MAX_DIGITS {
        return Err("has more than 38 significant digits");
    }
    // The exponent of the first significant digit in scientific notation.
    let integer_len = i64::try_from(integer.len()).map_err(|_| SYNTAX)?;
    let first = i64::try_from(first).map_err(|_| SYNTAX)?;
    if !DYNAMODB_EXPONENTS.contains(&(exponent + integer_len - 1 - first)) {
        return Err("is outside DynamoDB's number range (1E-130 to 9.9E+125)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    struct Fixture {
        template: Template,
        paths: Vec<Template>,
        prefix: String,
        ttl: TtlPolicy,
    }

    impl Fixture {
        fn new(template: &str, prefix: &str) -> Self {
            Fixture {
                template: Template::parse(template).expect("template"),
                paths: ["/{key}", "/thumbs/{key}"]
                    .iter()
                    .map(|p| Template::parse(p).expect("path"))
                    .collect(),
                prefix: prefix.to_owned(),
                ttl: TtlPolicy::Purge,
            }
        }

        fn rules(&self) -> Rules<'_> {
            Rules {
                bucket: "photo-bucket",
                key_template: &self.template,
                key_prefix: &self.prefix,
                path_templates: &self.paths,
                ttl_deletes: self.ttl,
            }
        }
    }

    fn map(value: Value) -> AttributeMap {
        value.as_object().expect("object").clone()
    }

    fn record(image: Option<Value>) -> RemovedRecord {
        RemovedRecord {
            event_id: "evt-1".into(),
            sequence_number: "100".into(),
            delete_kind: DeleteKind::User,
            keys: map(json!({"photo_id": {"S": "p1"}})),
            old_image: image.map(map),
        }
    }

    fn photo(type_: Value) -> RemovedRecord {
        record(Some(json!({"photo_id": {"S": "p1"}, "type": type_})))
    }

    #[track_caller]
    fn rejected(verdict: Verdict, reason: RejectionReason) -> Rejection {
        match verdict {
            Verdict::Rejected(r) if r.reason == reason => r,
            other => panic!("expected {reason:?}, got {other:?}"),
        }
    }

    fn image_key(key: &str) -> RemovedRecord {
        record(Some(
            json!({"photo_id": {"S": "p1"}, "image_key": {"S": key}}),
        ))
    }

    #[test]
    fn valid_photo_record_becomes_a_target_with_all_paths() {
        let f = Fixture::new("{photo_id}.{type|subtype}", "");
        let verdict = validate_record(&photo(json!({"S": "image/jpeg"})), &f.rules());
        let Verdict::Target(target) = verdict else {
            panic!("expected a target, got {verdict:?}")
        };
        assert_eq!(target.bucket, "photo-bucket");
        assert_eq!(target.key, "p1.jpeg");
        assert_eq!(target.paths, ["/p1.jpeg", "/thumbs/p1.jpeg"]);
        assert_eq!(target.event_id, "evt-1");
        assert_eq!(
            Value::Object(target.table_keys),
            json!({"photo_id": {"S": "p1"}})
        );
    }

    #[test]
    fn missing_old_image() {
        let f = Fixture::new("{image_key}", "");
        let r = rejected(
            validate_record(&record(None), &f.rules()),
            RejectionReason::MissingOldImage,
        );
        assert!(r.detail.contains("NEW_AND_OLD_IMAGES"), "{}", r.detail);
        assert_eq!(Value::Object(r.keys), json!({"photo_id": {"S": "p1"}}));
    }

    #[test]
    fn missing_attribute() {
        let f = Fixture::new("{image_key}", "");
        let r = rejected(
            validate_record(&photo(json!({"S": "image/png"})), &f.rules()),
            RejectionReason::MissingAttribute,
        );
        assert_eq!(
            r.detail,
            "attribute `image_key` is missing (key template `{image_key}`)"
        );
    }

    #[test]
    fn wrong_attribute_type() {
        let f = Fixture::new("{photo_id}.{type|subtype}", "");
        let r = rejected(
            validate_record(&photo(json!({"BOOL": true})), &f.rules()),
            RejectionReason::WrongAttributeType,
        );
        assert!(
            r.detail
                .starts_with("attribute `type` is of type BOOL, expected S or N"),
            "{}",
            r.detail
        );
        rejected(
            validate_record(&photo(json!({"S": "jpeg"})), &f.rules()),
            RejectionReason::WrongAttributeType,
        );
    }

    #[test]
    fn malformed_attribute_and_malformed_keys() {
        let f = Fixture::new("{photo_id}.{type|subtype}", "");
        rejected(
            validate_record(&photo(json!({"S": 5})), &f.rules()),
            RejectionReason::MalformedRecord,
        );
        for keys in [
            json!({}),
            json!({"photo_id": {"S": 1}}),
            json!({"photo_id": {"BOOL": true}}),
            json!({"photo_id": "p1"}),
        ] {
            let mut rec = photo(json!({"S": "image/png"}));
            rec.keys = map(keys.clone());
            rejected(
                validate_record(&rec, &f.rules()),
                RejectionReason::MalformedRecord,
            );
        }
    }

    #[test]
    fn table_keys_must_be_base64_binary_and_dynamodb_numbers() {
        for good in [
            json!({"b": {"B": "AAEC"}}),
            json!({"n": {"N": "7"}}),
            json!({"n": {"N": "-0.5"}}),
            json!({"n": {"N": "+12.e3"}}),
            json!({"n": {"N": ".5E-3"}}),
            json!({"n": {"N": "000"}}),
            json!({"n": {"N": "1E-130"}}),
            json!({"n": {"N": "9.9999999999999999999999999999999999999E+125"}}),
            json!({"n": {"N": "12345678901234567890123456789012345678000"}}),
        ] {
            assert_eq!(check_table_keys(&map(good.clone())), Ok(()), "{good}");
        }
        for (bad, expected) in [
            (
                json!({"b": {"B": "***not base64***"}}),
                "key attribute `b` (B) is not valid base64",
            ),
            (json!({"b": {"B": ""}}), "key attribute `b` (B) is empty"),
            (json!({"s": {"S": ""}}), "key attribute `s` (S) is empty"),
            (
                json!({"n": {"N": "abc"}}),
                "key attribute `n` (N) is not a number",
            ),
            (
                json!({"n": {"N": ""}}),
                "key attribute `n` (N) is not a number",
            ),
            (
                json!({"n": {"N": "."}}),
                "key attribute `n` (N) is not a number",
            ),
            (
                json!({"n": {"N": "1e"}}),
                "key attribute `n` (N) is not a number",
            ),
            (
                json!({"n": {"N": " 1"}}),
                "key attribute `n` (N) is not a number",
            ),
            (
                json!({"n": {"N": "NaN"}}),
                "key attribute `n` (N) is not a number",
            ),
            (
                json!({"n": {"N": "0x10"}}),
                "key attribute `n` (N) is not a number",
            ),
            (
                json!({"n": {"N": "1E126"}}),
                "key attribute `n` (N) is outside",
            ),
            (
                json!({"n": {"N": "1E-131"}}),
                "key attribute `n` (N) is outside",
            ),
            (
                json!({"n": {"N": "1E99999999999999999999"}}),
                "key attribute `n` (N) is outside",
            ),
            (
                json!({"n": {"N": "123456789012345678901234567890123456789"}}),
                "key attribute `n` (N) has more than 38 significant digits",
            ),
        ] {
            let detail = check_table_keys(&map(bad.clone())).expect_err("malformed");
            assert!(detail.starts_with(expected), "{bad}: {detail}");
        }
    }

    #[test]
    fn a_bad_table_key_rejects_only_its_replayed_target() {
        let f = Fixture::new("{image_key}", "images/");
        let mut bad = replayed("photo-bucket", "images/a.jpg");
        bad.table_keys = map(json!({"id": {"B": "***not base64***"}}));
        let r = rejected(
            recheck_target(&bad, &f.rules()),
            RejectionReason::MalformedRecord,
        );
        assert!(r.detail.contains("not valid base64"), "{}", r.detail);
        bad.table_keys = map(json!({"id": {"N": "abc"}}));
        rejected(
            recheck_target(&bad, &f.rules()),
            RejectionReason::MalformedRecord,
        );
    }

    #[test]
    fn unsafe_keys_are_rejected_one_form_at_a_time() {
        let f = Fixture::new("{image_key}", "");
        for key in [
            "",
            "/etc/passwd",
            "images/../secret.jpg",
            "../secret.jpg",
            "images/*",
            "images/a?.jpg",
            "images/a\u{0}.jpg",
            "images/a\n.jpg",
            "images/%2e%2e/secret.jpg",
            "images/\u{FF0E}\u{FF0E}/secret.jpg",
            &"k".repeat(1025),
        ] {
            rejected(
                validate_record(&image_key(key), &f.rules()),
                RejectionReason::UnsafeKey,
            );
        }
    }

    #[test]
    fn key_outside_prefix() {
        let f = Fixture::new("{image_key}", "images/");
        let r = rejected(
            validate_record(&image_key("private/a.jpg"), &f.rules()),
            RejectionReason::KeyOutsidePrefix,
        );
        assert!(r.detail.contains("\"images/\""), "{}", r.detail);
        rejected(
            validate_record(&image_key("imagesX/a.jpg"), &f.rules()),
            RejectionReason::KeyOutsidePrefix,
        );
        assert!(matches!(
            validate_record(&image_key("images/a.jpg"), &f.rules()),
            Verdict::Target(_)
        ));
    }

    #[test]
    fn ttl_deletes_follow_the_policy() {
        let mut f = Fixture::new("{photo_id}.{type|subtype}", "");
        let mut rec = photo(json!({"S": "image/gif"}));
        rec.delete_kind = DeleteKind::Ttl;
        assert!(matches!(
            validate_record(&rec, &f.rules()),
            Verdict::Target(_)
        ));
        f.ttl = TtlPolicy::Ignore;
        let Verdict::Ignored(ignored) = validate_record(&rec, &f.rules()) else {
            panic!("expected ignored")
        };
        assert_eq!(ignored.reason, IgnoreReason::TtlDelete);
        // A user delete is never ignored.
        rec.delete_kind = DeleteKind::User;
        assert!(matches!(
            validate_record(&rec, &f.rules()),
            Verdict::Target(_)
        ));
    }

    #[test]
    fn identical_path_templates_give_one_path() {
        let paths: Vec<Template> = ["/{key}", "/{key}"]
            .iter()
            .map(|p| Template::parse(p).expect("path"))
            .collect();
        assert_eq!(paths_for("a.jpg", &paths), ["/a.jpg"]);
    }

    fn replayed(bucket: &str, key: &str) -> PurgeTarget {
        PurgeTarget {
            bucket: bucket.into(),
            key: key.into(),
            paths: vec!["/*".into()],
            event_id: "evt-9".into(),
            table_keys: map(json!({"photo_id": {"S": "p9"}})),
        }
    }

    #[test]
    fn replayed_targets_are_checked_again_and_paths_recomputed() {
        let f = Fixture::new("{image_key}", "images/");
        let Verdict::Target(ok) =
            recheck_target(&replayed("photo-bucket", "images/a.jpg"), &f.rules())
        else {
            panic!("a valid replay is a target")
        };
        // The replay's own paths (a wildcard!) are not trusted.
        assert_eq!(ok.paths, ["/images/a.jpg", "/thumbs/images/a.jpg"]);
        rejected(
            recheck_target(&replayed("other-bucket", "images/a.jpg"), &f.rules()),
            RejectionReason::KeyOutsidePrefix,
        );
        rejected(
            recheck_target(&replayed("photo-bucket", "images/../x"), &f.rules()),
            RejectionReason::UnsafeKey,
        );
        rejected(
            recheck_target(&replayed("photo-bucket", "private/x"), &f.rules()),
            RejectionReason::KeyOutsidePrefix,
        );
        let mut bad_keys = replayed("photo-bucket", "images/a.jpg");
        bad_keys.table_keys = map(json!({"photo_id": {"M": {}}}));
        rejected(
            recheck_target(&bad_keys, &f.rules()),
            RejectionReason::MalformedRecord,
        );
    }

    #[test]
    fn rules_need_bucket_and_template() {
        let config = Config::from_lookup(|_| None).expect("defaults");
        let err = Rules::from_config(&config).expect_err("bucket missing");
        assert!(
            err.to_string().starts_with("PURGE_BUCKET is not set"),
            "{err}"
        );
    }
}
