//! DynamoDB stream records → [`RemovedRecord`]s.
//!
//! The event is kept as raw JSON per record ([`StreamEvent`]) and each record is parsed on its
//! own, so one malformed record is named and counted instead of failing the whole batch. Then:
//! - only REMOVE records go on; INSERT and MODIFY are counted (the event source mapping's filter
//!   normally keeps them out, so seeing them is worth a log line, not an error);
//! - a TTL delete is told apart by `userIdentity` (`type` `Service`, `principalId`
//!   `dynamodb.amazonaws.com`), read with `aws_lambda_events`' [`UserIdentity`];
//! - the old image is projected down to the table's key attributes plus the attributes the key
//!   template reads: an item can be 400 KB, an Express input at most 256 KiB, and a projected
//!   record is a few hundred bytes.
//!
//! Why not `aws_lambda_events::event::dynamodb::EventRecord` for the whole record: it
//! materialises every attribute of every image (`NewImage` too) as owned strings, so a batch of
//! large items costs their full size again before projection throws almost all of it away, and
//! one attribute serde_dynamo can't read (`{"S": 5}`) fails the record without saying which.
//! Here each record is read once, borrowing from the event's bytes: attribute values stay raw
//! JSON until projection keeps them, and only kept values are parsed. The layout is the same
//! one `aws_lambda_events` models (a test checks both agree on every sample event), and its
//! [`UserIdentity`] and batch response types are used as they are.
//!
//! Attribute values are handed over as DynamoDB JSON exactly as the stream carried them, even
//! when malformed: ValidateRecords rejects them by name (`MalformedRecord`,
//! `WrongAttributeType`, ...) and the failure report shows them. Only a record whose structure
//! is broken (not an object, a field of the wrong JSON type such as an array for `OldImage`, no
//! `eventID`, a REMOVE without `Keys`) is classified as malformed here, counted, and logged at
//! error level with whatever identifies it: DynamoDB never writes such a record, and no retry
//! could fix it. The trigger hands it over as a `MalformedRecord` rejection, so it is reported.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use aws_lambda_events::event::dynamodb::UserIdentity;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::contract::{DeleteKind, RemovedRecord};
use crate::key_template::Template;

/// The `principalId` DynamoDB's TTL process uses in a stream record's `userIdentity`.
pub const TTL_PRINCIPAL: &str = "dynamodb.amazonaws.com";
/// The `userIdentity.type` of a TTL delete.
pub const TTL_IDENTITY_TYPE: &str = "Service";

/// A DynamoDB stream event as the Lambda receives it, each record still raw.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<Box<RawValue>>,
}

/// Which attributes of an old image survive projection.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    /// A template reads one to a few attributes: a linear scan beats hashing every name.
    template_fields: Vec<String>,
}

impl Projection {
    /// Keeps what `template` reads (plus, always, the item's key attributes).
    pub fn for_template(template: &Template) -> Self {
        Projection {
            template_fields: template.fields().into_iter().map(str::to_owned).collect(),
        }
    }

    fn keeps(&self, name: &Name<'_>, keys: &Attributes<'_>) -> bool {
        self.template_fields.iter().any(|field| *field == name.0) || keys.contains(name)
    }
}

/// A REMOVE record, ready for an execution input.
///
/// Held as the [`RemovedRecord`]'s JSON, written straight from the stream record: kept
/// attribute values are copied verbatim (they are valid JSON, checked by the parse), so no
/// attribute is ever materialised and re-serialised on the way through. [`HandedOver::record`]
/// reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandedOver {
    pub event_id: String,
    pub sequence_number: String,
    pub delete_kind: DeleteKind,
    /// A serialised [`RemovedRecord`].
    pub json: String,
    /// Where parts of `json` sit. Crate-private, so only [`classify_record`], which wrote
    /// `json`, can describe it.
    pub(crate) layout: JsonLayout,
}

/// Byte ranges of a [`HandedOver`]'s JSON, so the trigger can cost a record without parsing the
/// whole of it again (see [`crate::trigger::DownstreamCost`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonLayout {
    /// The `eventId` value, quotes included.
    pub(crate) event_id: Range<usize>,
    /// The `keys` object.
    pub(crate) keys: Range<usize>,
    /// The projected `oldImage` object; `None` when it is `null`.
    pub(crate) old_image: Option<Range<usize>>,
}

impl HandedOver {
    /// The record as the contract type.
    pub fn record(&self) -> Result<RemovedRecord, serde_json::Error> {
        serde_json::from_str(&self.json)
    }
}

/// What became of one stream record.
#[derive(Debug, Clone, PartialEq)]
pub enum Classified {
    /// A REMOVE record, ready for an execution input.
    Removed(HandedOver),
    /// An INSERT or MODIFY record: nothing to purge.
    Other { event_name: String },
    /// A record that can't be handed over: nothing identifies it.
    Malformed {
        event_id: Option<String>,
        reason: String,
    },
}

/// One stream record's outcome, with the sequence number the stream retries by.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifiedRecord {
    /// `dynamodb.SequenceNumber`: the `itemIdentifier` of a batch item failure.
    pub sequence_number: Option<String>,
    pub outcome: Classified,
}

/// Counts for the trigger's log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordCounts {
    pub removed: usize,
    pub ttl: usize,
    pub other: usize,
    pub malformed: usize,
}

impl RecordCounts {
    pub fn of(records: &[ClassifiedRecord]) -> Self {
        let mut counts = RecordCounts::default();
        for record in records {
            match &record.outcome {
                Classified::Removed(r) => {
                    counts.removed += 1;
                    if r.delete_kind == DeleteKind::Ttl {
                        counts.ttl += 1;
                    }
                }
                Classified::Other { .. } => counts.other += 1,
                Classified::Malformed { .. } => counts.malformed += 1,
            }
        }
        counts
    }
}

/// Classifies every record of `event`, in order.
pub fn classify_event(event: &StreamEvent, projection: &Projection) -> Vec<ClassifiedRecord> {
    event
        .records
        .iter()
        .map(|raw| classify_record(raw.get(), projection))
        .collect()
}

/// A stream record, borrowing from the event's bytes. Attribute maps are sorted by name
/// ([`Attributes`]), so the same record always serialises to the same bytes.
#[derive(Debug, Deserialize)]
struct LeanRecord<'a> {
    #[serde(rename = "eventID", borrow, default)]
    event_id: Option<Cow<'a, str>>,
    #[serde(rename = "eventName", borrow, default)]
    event_name: Option<Cow<'a, str>>,
    #[serde(rename = "userIdentity", borrow, default)]
    user_identity: Option<&'a RawValue>,
    #[serde(borrow, default)]
    dynamodb: Option<LeanChange<'a>>,
}

#[derive(Debug, Deserialize)]
struct LeanChange<'a> {
    #[serde(rename = "Keys", borrow, default)]
    keys: Option<Attributes<'a>>,
    /// `null` and absent both mean no image (KEYS_ONLY).
    #[serde(rename = "OldImage", borrow, default)]
    old_image: Option<Attributes<'a>>,
    #[serde(rename = "SequenceNumber", borrow, default)]
    sequence_number: Option<Cow<'a, str>>,
}

/// A DynamoDB attribute map with its values still raw JSON, sorted by name; a name given twice
/// keeps its last value, as a JSON object read into a map does. An image holds a dozen
/// attributes at most, usually: one sorted list costs one allocation, a `BTreeMap` one per
/// node and a comparison-heavy insert per name.
#[derive(Debug)]
struct Attributes<'a>(Vec<(Name<'a>, &'a RawValue)>);

impl<'a> Attributes<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn contains(&self, name: &Name<'_>) -> bool {
        self.0
            .binary_search_by(|(held, _)| held.0.as_ref().cmp(name.0.as_ref()))
            .is_ok()
    }

    fn iter(&self) -> impl Iterator<Item = &(Name<'a>, &'a RawValue)> {
        self.0.iter()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Attributes<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Attributes<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a DynamoDB attribute map")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut attributes: Vec<(Name<'de>, &'de RawValue)> =
                    Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(entry) = map.next_entry()? {
                    attributes.push(entry);
                }
                // Last one wins: reversed, a stable sort puts a name's last value first among
                // its duplicates, and `dedup_by` keeps the first.
                attributes.reverse();
                attributes.sort_by(|a, b| a.0.cmp(&b.0));
                attributes.dedup_by(|later, kept| later.0 == kept.0);
                Ok(Attributes(attributes))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// An attribute name, borrowed from the event unless it holds escapes. (`Cow<str>` inside a
/// map always allocates; every record's image has a dozen names, most of them thrown away.)
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Name<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Name<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Name<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an attribute name")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// Classifies one raw stream record. Never panics, whatever the JSON.
pub fn classify_record(raw: &str, projection: &Projection) -> ClassifiedRecord {
    let malformed = |event_id: Option<String>, sequence_number: Option<String>, reason: String| {
        ClassifiedRecord {
            sequence_number,
            outcome: Classified::Malformed { event_id, reason },
        }
    };
    let record: LeanRecord<'_> = match serde_json::from_str(raw) {
        Ok(record) => record,
        Err(err) => {
            // Salvage what identifies the record, so the log line can name it.
            return malformed(
                salvage_event_id(raw),
                salvage_sequence_number(raw),
                format!("not a stream record: {err}"),
            );
        }
    };
    let (keys, old_image, sequence_number) = match record.dynamodb {
        Some(change) => (
            change.keys,
            change.old_image,
            change.sequence_number.map(Cow::into_owned),
        ),
        None => (None, None, None),
    };
    let event_id = record
        .event_id
        .map(Cow::into_owned)
        .filter(|id| !id.is_empty());
    let Some(event_id) = event_id else {
        return malformed(None, sequence_number, "the record has no eventID".into());
    };
    match record.event_name.as_deref() {
        Some("REMOVE") => {}
        Some(other) => {
            return ClassifiedRecord {
                sequence_number,
                outcome: Classified::Other {
                    event_name: other.to_owned(),
                },
            };
        }
        None => {
            return malformed(
                Some(event_id),
                sequence_number,
                "the record has no eventName".into(),
            );
        }
    }
    let keys = match keys {
        Some(keys) if !keys.is_empty() => keys,
        _ => {
            return malformed(
                Some(event_id),
                sequence_number,
                "the REMOVE record has no Keys".into(),
            );
        }
    };
    // An image always holds the item's keys, so an empty one means there was none.
    let old_image = old_image.filter(|image| !image.is_empty());
    let delete_kind = delete_kind(&event_id, record.user_identity);
    let sequence = sequence_number.clone().unwrap_or_default();
    let (json, layout) = match write_removed_record(
        &event_id,
        &sequence,
        delete_kind,
        &keys,
        old_image.as_ref(),
        projection,
    ) {
        Ok(written) => written,
        Err(err) => {
            return malformed(
                Some(event_id),
                sequence_number,
                format!("cannot write the record: {err}"),
            );
        }
    };
    let outcome = Classified::Removed(HandedOver {
        event_id,
        sequence_number: sequence,
        delete_kind,
        json,
        layout,
    });
    ClassifiedRecord {
        sequence_number,
        outcome,
    }
}

/// Writes a [`RemovedRecord`]'s JSON (the contract's camelCase field names) with the kept
/// attribute values copied verbatim from the stream, and where its parts sit.
fn write_removed_record(
    event_id: &str,
    sequence_number: &str,
    delete_kind: DeleteKind,
    keys: &Attributes<'_>,
    old_image: Option<&Attributes<'_>>,
    projection: &Projection,
) -> Result<(String, JsonLayout), serde_json::Error> {
    let mut out: Vec<u8> = Vec::with_capacity(256);
    out.extend_from_slice(br#"{"eventId":"#);
    let event_id_at = out.len();
    serde_json::to_writer(&mut out, event_id)?;
    let event_id_span = event_id_at..out.len();
    out.extend_from_slice(br#","sequenceNumber":"#);
    serde_json::to_writer(&mut out, sequence_number)?;
    out.extend_from_slice(br#","deleteKind":"#);
    serde_json::to_writer(&mut out, &delete_kind)?;
    out.extend_from_slice(br#","keys":"#);
    let keys_at = out.len();
    write_attributes(&mut out, keys.iter())?;
    let keys_span = keys_at..out.len();
    out.extend_from_slice(br#","oldImage":"#);
    let old_image_span = match old_image {
        None => {
            out.extend_from_slice(b"null");
            None
        }
        Some(image) => {
            let at = out.len();
            write_attributes(
                &mut out,
                image
                    .iter()
                    .filter(|(name, _)| projection.keeps(name, keys)),
            )?;
            Some(at..out.len())
        }
    };
    out.push(b'}');
    let layout = JsonLayout {
        event_id: event_id_span,
        keys: keys_span,
        old_image: old_image_span,
    };
    // Everything written is UTF-8 (serde_json output and slices of a `str`).
    let json = String::from_utf8(out).map_err(|e| serde::ser::Error::custom(e.to_string()))?;
    Ok((json, layout))
}

fn write_attributes<'a, 'b: 'a>(
    out: &mut Vec<u8>,
    attributes: impl Iterator<Item = &'a (Name<'b>, &'b RawValue)>,
) -> Result<(), serde_json::Error> {
    out.push(b'{');
    for (i, (name, value)) in attributes.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, name.0.as_ref())?;
        out.push(b':');
        out.extend_from_slice(value.get().as_bytes());
    }
    out.push(b'}');
    Ok(())
}

fn delete_kind(event_id: &str, identity: Option<&RawValue>) -> DeleteKind {
    let Some(raw) = identity else {
        return DeleteKind::User;
    };
    match serde_json::from_str::<Option<UserIdentity>>(raw.get()) {
        Ok(Some(identity))
            if identity.type_ == TTL_IDENTITY_TYPE && identity.principal_id == TTL_PRINCIPAL =>
        {
            DeleteKind::Ttl
        }
        Ok(_) => DeleteKind::User,
        Err(err) => {
            // Purging is the safe side: a record that may be a TTL delete is still a delete.
            tracing::warn!(event_id, error = %err, "unreadable userIdentity; treating the record as a user delete");
            DeleteKind::User
        }
    }
}

/// For a record that doesn't parse at all: its `eventID`, if one can be read on its own.
fn salvage_event_id(raw: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Id {
        #[serde(rename = "eventID")]
        event_id: Option<String>,
    }
    serde_json::from_str::<Id>(raw).ok()?.event_id
}

/// For a record that doesn't parse at all: its sequence number, if one can be read on its own.
fn salvage_sequence_number(raw: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Outer {
        dynamodb: Option<Inner>,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(rename = "SequenceNumber")]
        sequence_number: Option<String>,
    }
    serde_json::from_str::<Outer>(raw)
        .ok()?
        .dynamodb?
        .sequence_number
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A stream record in the exact Lambda shape.
    pub(crate) fn stream_record(
        event_name: &str,
        seq: &str,
        keys: Value,
        old_image: Option<Value>,
    ) -> Value {
        let mut change = json!({
            "ApproximateCreationDateTime": 1_718_000_000.0,
            "Keys": keys,
            "SequenceNumber": seq,
            "SizeBytes": 120,
            "StreamViewType": if old_image.is_some() { "NEW_AND_OLD_IMAGES" } else { "KEYS_ONLY" }
        });
        if let Some(image) = old_image {
            change["OldImage"] = image;
        }
        json!({
            "eventID": format!("evt-{seq}"),
            "eventName": event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-1",
            "dynamodb": change,
            "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/photos/stream/2024-06-10T00:00:00.000"
        })
    }

    fn photo_projection() -> Projection {
        Projection::for_template(&Template::parse("{photo_id}.{type|subtype}").expect("parses"))
    }

    fn classify(value: &Value) -> ClassifiedRecord {
        classify_record(&value.to_string(), &photo_projection())
    }

    fn removed(c: ClassifiedRecord) -> RemovedRecord {
        match c.outcome {
            Classified::Removed(r) => {
                let record = r.record().expect("handed-over JSON is a RemovedRecord");
                assert_eq!(
                    (r.event_id.as_str(), r.sequence_number.as_str()),
                    (record.event_id.as_str(), record.sequence_number.as_str())
                );
                assert_eq!(r.delete_kind, record.delete_kind);
                check_layout(&r, &record);
                record
            }
            other => panic!("expected a removed record, got {other:?}"),
        }
    }

    /// The layout points at exactly the JSON of the record's event id, keys and old image.
    pub(crate) fn check_layout(handed_over: &HandedOver, record: &RemovedRecord) {
        let part = |range: &Range<usize>| -> Value {
            serde_json::from_str(&handed_over.json[range.clone()])
                .expect("a layout range holds one JSON value")
        };
        let layout = &handed_over.layout;
        assert_eq!(part(&layout.event_id), json!(record.event_id));
        assert_eq!(part(&layout.keys), Value::Object(record.keys.clone()));
        assert_eq!(
            layout.old_image.as_ref().map(part),
            record.old_image.clone().map(Value::Object)
        );
    }

    #[test]
    fn a_repeated_attribute_name_keeps_its_last_value_and_names_come_out_sorted() {
        // Values are copied verbatim, spaces included; `title` is projected away.
        let raw = r#"{"eventID": "e1", "eventName": "REMOVE", "dynamodb": {"SequenceNumber": "1",
            "Keys": {"photo_id": {"S": "p0"}, "photo_id": {"S": "p1"}},
            "OldImage": {"type": {"S": "image/gif"}, "title": {"S": "t"}, "photo_id": {"S": "p1"}, "type": {"S": "image/png"}}}}"#;
        let Classified::Removed(handed_over) = classify_record(raw, &photo_projection()).outcome
        else {
            panic!("a REMOVE record")
        };
        assert!(
            handed_over.json.ends_with(r#""keys":{"photo_id":{"S": "p1"}},"oldImage":{"photo_id":{"S": "p1"},"type":{"S": "image/png"}}}"#),
            "{}",
            handed_over.json
        );
        check_layout(
            &handed_over,
            &handed_over.record().expect("a RemovedRecord"),
        );
    }

    #[test]
    fn remove_record_becomes_a_removed_record() {
        let rec = stream_record(
            "REMOVE",
            "111",
            json!({"photo_id": {"S": "p1"}}),
            Some(
                json!({"photo_id": {"S": "p1"}, "type": {"S": "image/jpeg"}, "title": {"S": "x"}}),
            ),
        );
        let c = classify(&rec);
        assert_eq!(c.sequence_number.as_deref(), Some("111"));
        let r = removed(c);
        assert_eq!(r.event_id, "evt-111");
        assert_eq!(r.delete_kind, DeleteKind::User);
        assert_eq!(Value::Object(r.keys), json!({"photo_id": {"S": "p1"}}));
        assert_eq!(
            r.old_image.map(Value::Object),
            Some(json!({"photo_id": {"S": "p1"}, "type": {"S": "image/jpeg"}}))
        );
    }

    #[test]
    fn escaped_attribute_names_are_read_like_plain_ones() {
        // `ty\u0070e` is `type`: the name can't be borrowed, and must still be projected.
        let raw = stream_record(
            "REMOVE",
            "12",
            json!({"photo_id": {"S": "p1"}}),
            Some(json!({"photo_id": {"S": "p1"}})),
        )
        .to_string()
        .replace(
            r#""OldImage":{"#,
            r#""OldImage":{"ty\u0070e":{"S":"image/png"},"#,
        );
        let r = removed(classify_record(&raw, &photo_projection()));
        assert_eq!(
            r.old_image.map(Value::Object),
            Some(json!({"photo_id": {"S": "p1"}, "type": {"S": "image/png"}}))
        );
    }

    #[test]
    fn insert_and_modify_are_counted_as_other() {
        for name in ["INSERT", "MODIFY"] {
            let rec = stream_record(name, "5", json!({"photo_id": {"S": "p1"}}), None);
            assert_eq!(
                classify(&rec).outcome,
                Classified::Other {
                    event_name: name.to_owned()
                }
            );
        }
    }

    #[test]
    fn ttl_delete_is_told_by_user_identity() {
        let mut rec = stream_record("REMOVE", "7", json!({"photo_id": {"S": "p1"}}), None);
        rec["userIdentity"] = json!({"type": "Service", "principalId": TTL_PRINCIPAL});
        assert_eq!(removed(classify(&rec)).delete_kind, DeleteKind::Ttl);
        // Same principal but not a Service identity, or another service: a user delete.
        rec["userIdentity"] = json!({"type": "User", "principalId": TTL_PRINCIPAL});
        assert_eq!(removed(classify(&rec)).delete_kind, DeleteKind::User);
        rec["userIdentity"] = json!({"type": "Service", "principalId": "lambda.amazonaws.com"});
        assert_eq!(removed(classify(&rec)).delete_kind, DeleteKind::User);
    }

    #[test]
    fn keys_only_record_has_no_old_image() {
        let rec = stream_record("REMOVE", "8", json!({"photo_id": {"S": "p1"}}), None);
        assert_eq!(removed(classify(&rec)).old_image, None);
        let mut rec = rec;
        rec["dynamodb"]["OldImage"] = Value::Null;
        assert_eq!(removed(classify(&rec)).old_image, None);
    }

    #[test]
    fn a_400_kb_item_projects_to_a_few_hundred_bytes() {
        let big = "x".repeat(390_000);
        let rec = stream_record(
            "REMOVE",
            "9",
            json!({"user_id": {"S": "u1"}, "photo_id": {"S": "p1"}}),
            Some(json!({
                "user_id": {"S": "u1"},
                "photo_id": {"S": "p1"},
                "type": {"S": "image/png"},
                "description": {"S": big},
                "tags": {"SS": ["a", "b"]},
                "exif": {"M": {"iso": {"N": "100"}}},
                "thumb": {"B": "AAECAwQ="}
            })),
        );
        assert!(rec.to_string().len() > 390_000);
        let r = removed(classify(&rec));
        let size = serde_json::to_vec(&r).expect("serialises").len();
        assert!(size < 400, "projected record is {size} bytes");
        let image = r.old_image.expect("has an image");
        let names: Vec<&str> = image.keys().map(String::as_str).collect();
        assert_eq!(names, ["photo_id", "type", "user_id"]);
    }

    #[test]
    fn malformed_attribute_is_handed_over_raw() {
        let rec = stream_record(
            "REMOVE",
            "10",
            json!({"photo_id": {"S": "p1"}}),
            Some(json!({"photo_id": {"S": "p1"}, "type": {"S": 5}, "junk": {"Q": 1}})),
        );
        let r = removed(classify(&rec));
        assert_eq!(r.event_id, "evt-10");
        assert_eq!(r.sequence_number, "10");
        // Projected like any other: `junk` is dropped, the bad `type` goes on to be named.
        assert_eq!(
            r.old_image.map(Value::Object),
            Some(json!({"photo_id": {"S": "p1"}, "type": {"S": 5}}))
        );
    }

    #[test]
    fn unidentifiable_records_are_malformed_not_panics() {
        let samples = [
            json!(42),
            json!("REMOVE"),
            json!({}),
            json!({"eventName": "REMOVE"}),
            json!({"eventID": "e", "eventName": "REMOVE", "dynamodb": {"SequenceNumber": "3"}}),
            json!({"eventID": "e", "eventName": "REMOVE", "dynamodb": {"Keys": "k"}}),
            json!({"eventID": "e", "eventName": "REMOVE", "dynamodb": {"Keys": {"a": {"S": "1"}}, "OldImage": [1]}}),
            json!({"eventID": 7, "eventName": "REMOVE", "dynamodb": {"Keys": {"a": {"S": "1"}}}}),
        ];
        for sample in samples {
            let c = classify(&sample);
            assert!(
                matches!(c.outcome, Classified::Malformed { .. }),
                "{sample}: {c:?}"
            );
        }
        let c = classify(
            &json!({"eventID": "e", "eventName": "REMOVE", "dynamodb": {"SequenceNumber": "3"}}),
        );
        assert_eq!(c.sequence_number.as_deref(), Some("3"));
    }

    #[test]
    fn event_with_mixed_records_is_classified_in_order_and_counted() {
        let records = [
            stream_record("INSERT", "1", json!({"photo_id": {"S": "a"}}), None),
            stream_record("REMOVE", "2", json!({"photo_id": {"S": "b"}}), None),
            json!({"nonsense": true}),
            stream_record("MODIFY", "3", json!({"photo_id": {"S": "c"}}), None),
        ];
        let event: StreamEvent =
            serde_json::from_value(json!({ "Records": records })).expect("event parses");
        let classified = classify_event(&event, &photo_projection());
        assert_eq!(classified.len(), 4);
        assert_eq!(
            RecordCounts::of(&classified),
            RecordCounts {
                removed: 1,
                ttl: 0,
                other: 2,
                malformed: 1
            }
        );
        assert_eq!(classified[1].sequence_number.as_deref(), Some("2"));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// No input makes classification panic; whatever it is, it gets an outcome.
        #[test]
        fn classify_never_panics(raw in "\\PC{0,64}") {
            let projection = Projection::for_template(&Template::parse("{a}").expect("template"));
            let _ = classify_record(&raw, &projection);
        }

        /// Any JSON value as a record, or as its `dynamodb` part, is classified, never a panic,
        /// and a handed-over record always reads back as the contract type.
        #[test]
        fn arbitrary_json_shapes_are_classified(
            name in prop_oneof![Just("REMOVE"), Just("INSERT"), Just("X")],
            old_image in prop_oneof![
                Just("null".to_owned()),
                Just("[]".to_owned()),
                Just(r#"{"a":{"S":1}}"#.to_owned()),
                "\\{\"a\":\\{\"[SNBQ]\":\"[a-z]{0,3}\"\\}\\}",
            ],
        ) {
            let raw = format!(r#"{{"eventID":"e","eventName":"{name}","dynamodb":{{"Keys":{{"k":{{"S":"1"}}}},"OldImage":{old_image},"SequenceNumber":"9"}}}}"#);
            let projection = Projection::for_template(&Template::parse("{a}").expect("template"));
            let classified = classify_record(&raw, &projection);
            if let Classified::Removed(handed_over) = &classified.outcome {
                let record = handed_over.record();
                prop_assert!(record.is_ok(), "{}", handed_over.json);
                if let Ok(record) = record {
                    tests::check_layout(handed_over, &record);
                }
            }
        }
    }
}
