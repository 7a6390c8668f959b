//! What one record can become downstream, in bytes of state data: the cost the packing budgets.

use std::borrow::Cow;

use serde_json::value::RawValue;

use crate::config::{Config, TtlPolicy};
use crate::contract::AttributeMap;
use crate::key_safety::check_key;
use crate::key_template::{RenderError, scalar_attribute};
use crate::paths::{encoded_path_len, percent_encoded_len};
use crate::records::HandedOver;
use crate::validation::{Rules, Verdict, validate_record};

/// An upper bound, in bytes of state data, of what one record can become in any one state of
/// the purge state machine, derived by running ValidateRecords' own rules on it.
///
/// One record ends up as exactly one entry of each list a state carries, so the largest form it
/// takes bounds its share of every state's data:
/// - its projected JSON: ValidateRecords' input, and ReportFailures' `originalInput` after a
///   caught error;
/// - its verdict (a target, a rejection or an ignored record): ValidateRecords' result and its
///   `rejections` variable; a superseded record holds a subset of its target's fields;
/// - its target as a `DeleteFailure` (the target plus a code and a message of bounded size,
///   see [`crate::delete::bounded_error_text`]): DeleteObjects' result, the `deleteFailures`
///   variable and ReportFailures' arguments; a deleted target is smaller;
/// - its CDN paths, percent-encoded (up to 3 bytes per key byte) as BatchPaths writes them:
///   BatchPaths' result, the Map's items and the failed batches in `failedInvalidations`;
///   counted twice, because ReportFailures puts a failed batch whole into one SNS message
///   (256 KiB at most), in its list and again in the `replayInput` (a batch can't be split: its
///   CallerReference names its exact paths).
///
/// The verdict is computed with the trigger's configuration, which must match
/// validate-records' (`PURGE_KEY_TEMPLATE`, `PURGE_KEY_PREFIX`, `PURGE_PATH_TEMPLATES`,
/// `PURGE_BUCKET`); without `PURGE_BUCKET` the bucket name is taken at S3's maximum length, and
/// a TTL delete is costed as a purge (the larger outcome) whatever `PURGE_TTL_DELETES` says.
#[derive(Debug, Clone)]
pub struct DownstreamCost<'a> {
    pub(super) rules: Rules<'a>,
    /// Each of `rules.path_templates`' shape, in order, when it has the plain one.
    pub(super) path_shapes: Vec<Option<PlainPath>>,
}

/// A bucket name of S3's maximum length, 63 characters, for a trigger without `PURGE_BUCKET`.
const LONGEST_BUCKET: &str = "bucket-name-of-the-longest-length-s3-allows-sixty-three-chars-x";

/// What a `DeleteFailure` adds to its target: `{"target":`, `,"code":""`, `,"message":""`, `}`
/// and the code and message at their caps (they need no JSON escaping).
const DELETE_FAILURE_EXTRA_BYTES: usize = r#"{"target":,"code":"","message":""}"#.len()
    + crate::delete::MAX_ERROR_CODE_BYTES
    + crate::delete::MAX_ERROR_MESSAGE_BYTES;

impl<'a> DownstreamCost<'a> {
    /// `None` without a key template: nothing can be predicted.
    pub fn from_config(config: &'a Config) -> Option<Self> {
        let rules = Rules {
            bucket: config.bucket.as_deref().unwrap_or(LONGEST_BUCKET),
            key_template: config.key_template.as_ref()?,
            key_prefix: &config.key_prefix,
            path_templates: &config.path_templates,
            ttl_deletes: TtlPolicy::Purge,
        };
        let path_shapes = config.path_templates.iter().map(PlainPath::of).collect();
        Some(DownstreamCost { rules, path_shapes })
    }

    /// The bound for one record, its separating comma included.
    pub fn cost(&self, record: &HandedOver) -> usize {
        let largest = self
            .target_bound(record)
            .unwrap_or_else(|| self.verdict_bound(record));
        record.json.len().max(largest) + 1
    }

    /// The common case, a record that becomes a target, bounded without building the target:
    /// the trigger costs every record of a 10,000-record batch, so this parses only the
    /// projected old image (found through the record's [`crate::records::JsonLayout`]), borrowed
    /// (no attribute map, no owned strings for what it only measures), and skips everything
    /// [`validate_record`] clones. `None` for any other record, which [`Self::verdict_bound`]
    /// then costs exactly.
    ///
    /// The target's `eventId` and `tableKeys` are counted at their length in the record's JSON:
    /// the trigger wrote the event id with serde_json, and copied the keys verbatim from the
    /// stream, which serde_json can only write back as long or shorter (it drops insignificant
    /// whitespace and escapes no more than JSON requires). Paths are counted once per path
    /// template, before ValidateRecords drops duplicates: never less than it keeps.
    pub(super) fn target_bound(&self, record: &HandedOver) -> Option<usize> {
        let layout = &record.layout;
        let image: RawImage<'_> =
            serde_json::from_str(record.json.get(layout.old_image.clone()?)?).ok()?;
        let (event_id_bytes, keys_bytes) = (layout.event_id.len(), layout.keys.len());
        // validate_record's order: the old image, the key it renders, the key's safety.
        let key = self
            .rules
            .key_template
            .render_with(|name| image.scalar(name))
            .ok()?;
        check_key(&key, self.rules.key_prefix).ok()?;
        let key_json = json_len(&key);
        let key_encoded = percent_encoded_len(&key);
        let mut paths_json = 0;
        let mut encoded_paths = 0;
        for (template, shape) in self.rules.path_templates.iter().zip(&self.path_shapes) {
            let (path_json, path_encoded) = match shape {
                // `"<before>" "<key>" "<after>"` joined: the three strings' quotes become one pair.
                Some(plain) => (
                    plain.before_json + key_json + plain.after_json - 4,
                    plain.encoded + key_encoded,
                ),
                None => {
                    // Path templates are checked at config load to use only `{key}`; this can't fail.
                    let path = template
                        .render_with(|_| Ok(Cow::Borrowed(key.as_str())))
                        .ok()?;
                    (json_len(&path), encoded_path_len(&path))
                }
            };
            paths_json += path_json + 1;
            encoded_paths += path_encoded + 3;
        }
        let target = TARGET_FRAME_BYTES
            + json_len(self.rules.bucket)
            + key_json
            + paths_json
            + event_id_bytes
            + keys_bytes;
        // Malformed table keys (checked first, but not parsed here) make a rejection instead,
        // which can echo one key attribute in its detail, escaped once more.
        let malformed_keys = event_id_bytes + 3 * keys_bytes + MALFORMED_KEYS_EXTRA_BYTES;
        Some(Self::largest_target_form(target, encoded_paths).max(malformed_keys))
    }

    /// Any record, exactly: its verdict by ValidateRecords' own rules.
    pub(super) fn verdict_bound(&self, record: &HandedOver) -> usize {
        // The trigger wrote this JSON itself, so it parses; if it ever did not, ValidateRecords
        // would refuse the whole input before any state grew, and its input bytes are all it
        // could cost.
        let Ok(parsed) = record.record() else {
            return record.json.len();
        };
        match validate_record(&parsed, &self.rules) {
            Verdict::Target(target) => {
                let encoded_paths = target
                    .paths
                    .iter()
                    .map(|path| encoded_path_len(path) + 3)
                    .sum();
                Self::largest_target_form(json_len(&target), encoded_paths)
            }
            Verdict::Rejected(rejection) => json_len(&rejection),
            Verdict::Ignored(ignored) => json_len(&ignored),
        }
    }

    /// The larger of a target's forms: as a `DeleteFailure`, and as encoded paths, counted twice
    /// for a failure report's message. `encoded_paths` counts `"<path>",` per path (encoded
    /// paths need no escaping).
    fn largest_target_form(target_bytes: usize, encoded_paths: usize) -> usize {
        (target_bytes + DELETE_FAILURE_EXTRA_BYTES).max(2 * encoded_paths)
    }
}

/// A path template of the plain shape `<before>{key}<after>` (the usual `/{key}`,
/// `/thumbs/{key}`), sized once so that the quick bound adds up a record's path sizes instead of
/// rendering and encoding every path. Both sizes are additive over concatenation: JSON escapes
/// and [`crate::paths::encode_path`] percent-encodes one character or byte at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PlainPath {
    /// `<before>` and `<after>` as JSON strings, quotes included.
    pub(super) before_json: usize,
    pub(super) after_json: usize,
    /// `<before><after>` percent-encoded, without the key.
    pub(super) encoded: usize,
}

impl PlainPath {
    /// `None` for a template of any other shape (a filter such as `{key|lower}`, `{key}` twice,
    /// escaped braces, no leading `/`): those paths are rendered.
    fn of(template: &crate::key_template::Template) -> Option<PlainPath> {
        let source = template.source();
        if source.matches('{').count() != 1 || source.matches('}').count() != 1 {
            return None;
        }
        let (before, after) = source.split_once("{key}")?;
        // encode_path adds a leading `/` to a path without one, which is not additive.
        if !before.starts_with('/') {
            return None;
        }
        // Belt and braces: the template renders a key with every kind of character verbatim.
        const PROBE: &str = "Probe Key/%\"~\u{e9}\u{1F34C}";
        let rendered = template.render_with(|_| Ok(Cow::Borrowed(PROBE))).ok()?;
        if rendered != format!("{before}{PROBE}{after}") {
            return None;
        }
        Some(PlainPath {
            before_json: json_len(before),
            after_json: json_len(after),
            encoded: percent_encoded_len(before) + percent_encoded_len(after),
        })
    }
}

/// A projected old image with its values still raw JSON: a handful of attributes, so a list
/// searched by name beats building a map. Names holding JSON escapes can't be borrowed and fail
/// the parse, which sends the record to the exact path.
struct RawImage<'a>(Vec<(&'a str, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for RawImage<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawImage<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a DynamoDB attribute map")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut attributes = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some(entry) = map.next_entry::<&'de str, &'de RawValue>()? {
                    attributes.push(entry);
                }
                Ok(RawImage(attributes))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

impl<'a> RawImage<'a> {
    /// The S or N value of attribute `name`, exactly as
    /// [`crate::key_template::scalar_attribute`] reads it from an attribute map (where a
    /// repeated name keeps its last value). The usual `{"S": "..."}` is borrowed; anything else
    /// goes through `scalar_attribute` itself.
    fn scalar(&self, name: &str) -> Result<Cow<'a, str>, RenderError> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct PlainString<'a> {
            #[serde(rename = "S")]
            s: &'a str,
        }
        let Some(&(_, raw)) = self
            .0
            .iter()
            .rev()
            .find(|(attribute, _)| *attribute == name)
        else {
            return Err(RenderError::MissingAttribute {
                name: name.to_owned(),
            });
        };
        if let Some(text) = unescaped_plain_string(raw.get()) {
            return Ok(Cow::Borrowed(text));
        }
        if let Ok(plain) = serde_json::from_str::<PlainString<'a>>(raw.get()) {
            return Ok(Cow::Borrowed(plain.s));
        }
        let value: serde_json::Value =
            serde_json::from_str(raw.get()).map_err(|err| RenderError::MalformedAttribute {
                name: name.to_owned(),
                detail: err.to_string(),
            })?;
        let item: AttributeMap = std::iter::once((name.to_owned(), value)).collect();
        scalar_attribute(&item, name).map(|value| Cow::Owned(value.to_owned()))
    }
}

/// The text of `raw` when it is exactly `{"S":"<text>"}` with nothing to unescape, as the
/// trigger writes the usual attribute (it copies values verbatim, and DynamoDB writes them so):
/// the string without a JSON parse. `raw` is valid JSON (it was read as such), so text free of
/// `"` and `\` is the string's value as it stands. Anything else (spaces, escapes, another
/// type) is `None`, for the full parse.
fn unescaped_plain_string(raw: &str) -> Option<&str> {
    let text = raw.strip_prefix(r#"{"S":""#)?.strip_suffix(r#""}"#)?;
    (!text.contains(['"', '\\'])).then_some(text)
}

/// A serialised [`crate::contract::PurgeTarget`] around its values (a path's separating comma
/// is counted with the path, one too many, to keep the sum simple).
const TARGET_FRAME_BYTES: usize = r#"{"bucket":,"key":,"paths":[],"eventId":,"tableKeys":}"#.len();

/// A MalformedRecord rejection around its event id, keys and echoed attribute: the field
/// names, the reason and the detail's words (`key attribute `…` is not a DynamoDB S, N or B
/// value: …`, whose attribute name is counted within the keys).
const MALFORMED_KEYS_EXTRA_BYTES: usize = 160;

/// Serialised size of `value`, without building the string.
pub(super) fn json_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Contract types always serialise; a failure would leave a smaller count, so count it as
    // unbounded instead.
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX / 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn only_a_bare_s_without_escapes_takes_the_shortcut() {
        assert_eq!(
            unescaped_plain_string(r#"{"S":"p-1.jpeg"}"#),
            Some("p-1.jpeg")
        );
        assert_eq!(unescaped_plain_string(r#"{"S":""}"#), Some(""));
        for raw in [
            r#"{"S": "p-1"}"#,
            r#"{"S":"a\"b"}"#,
            r#"{"S":"a\u0041"}"#,
            r#"{"S":"a","N":"1"}"#,
            r#"{"N":"1"}"#,
            r#"{"S":5}"#,
        ] {
            assert_eq!(unescaped_plain_string(raw), None, "{raw}");
        }
    }

    proptest! {
        /// The shortcut never reads a string other than serde_json's.
        #[test]
        fn the_shortcut_agrees_with_the_parse(text in "\\PC{0,16}|[\"\\\\a/]{0,6}") {
            let raw = serde_json::json!({ "S": text }).to_string();
            let read = unescaped_plain_string(&raw);
            prop_assert!(read.is_none() || read == Some(text.as_str()), "{raw}");
            if !text.contains(['"', '\\']) && !text.chars().any(char::is_control) {
                prop_assert_eq!(read, Some(text.as_str()));
            }
        }
    }
}
