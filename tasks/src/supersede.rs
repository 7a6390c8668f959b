//! The supersede check: was the removed item re-created since, still referencing the same object?
//!
//! A stream record can be processed seconds (or, on a replay, days) after the delete. If the
//! application has written the item again in the meantime (same primary key), its object may be
//! in use again. A consistent `GetItem` on the record's keys tells:
//! - no item: purge;
//! - an item whose key template renders to the same object key: *superseded*, nothing is deleted;
//! - an item that renders to another key, or can no longer be rendered (attribute gone or
//!   retyped): it references a different object, so the old one is still purged.
//!
//! A `ValidationException` means DynamoDB refused this one request: the keys do not match the
//! table's key schema (a wrong attribute name or type, typically in an edited replay). That is a
//! fact about the target, not the batch, so it comes back as [`SupersedeOutcome::KeysRejected`]
//! and the target is rejected alone. Every other error is classified by
//! [`crate::aws_errors::classify`]: throttling and 5xx are retryable, AccessDenied is not, and
//! none of them lets a target through unchecked.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

use crate::contract::{AttributeMap, PurgeTarget};
use crate::error::TaskError;
use crate::key_template::Template;

/// What the check found for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupersedeOutcome {
    /// The item exists again and references the same object: delete nothing.
    Superseded,
    /// Absent, or re-created pointing elsewhere: purge the old object.
    Purge,
    /// GetItem refused these keys (`ValidationException`); `detail` says why. The target can't
    /// be checked, so it must not be deleted either: the caller rejects it.
    KeysRejected { detail: String },
}

/// The DynamoDB error code for a request that does not fit the table (key schema mismatch,
/// malformed attribute), as opposed to a failure of the service.
const VALIDATION_EXCEPTION: &str = "ValidationException";

/// Reads the item behind `target.table_keys` (consistent read) and compares its key.
pub async fn check(
    client: &Client,
    table: &str,
    template: &Template,
    target: &PurgeTarget,
) -> Result<SupersedeOutcome, TaskError> {
    let key = match sdk_key(&target.table_keys) {
        Ok(key) => key,
        // Unreachable after `check_table_keys`, but a bad key still only concerns its target.
        Err(err) => {
            return Ok(SupersedeOutcome::KeysRejected {
                detail: err.to_string(),
            });
        }
    };
    // Fetch only what the template reads: the item can be 400 KB, the template needs bytes.
    let fields = template.fields();
    let mut request = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true);
    if !fields.is_empty() {
        let placeholders: Vec<String> = (0..fields.len()).map(|i| format!("#f{i}")).collect();
        request = request.projection_expression(placeholders.join(", "));
        for (placeholder, field) in placeholders.iter().zip(&fields) {
            request = request.expression_attribute_names(placeholder, *field);
        }
    }
    let output = match request.send().await {
        Ok(output) => output,
        Err(err) if err.code() == Some(VALIDATION_EXCEPTION) => {
            return Ok(SupersedeOutcome::KeysRejected {
                detail: format!(
                    "GetItem on table {table:?} refused the record's keys: {VALIDATION_EXCEPTION}: {}",
                    err.message().unwrap_or("no message")
                ),
            });
        }
        Err(err) => return Err(crate::aws_errors::classify("dynamodb", &err)),
    };
    let Some(item) = output.item() else {
        return Ok(SupersedeOutcome::Purge);
    };
    let image: AttributeMap = item
        .iter()
        .map(|(name, value)| (name.clone(), json_value(value)))
        .collect();
    Ok(match template.render_item(&image) {
        Ok(current) if current == target.key => SupersedeOutcome::Superseded,
        _ => SupersedeOutcome::Purge,
    })
}

/// DynamoDB JSON key (already checked by [`crate::validation::check_table_keys`]) → SDK key.
fn sdk_key(keys: &AttributeMap) -> Result<HashMap<String, AttributeValue>, TaskError> {
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

/// SDK attribute → DynamoDB JSON, so the current item renders with the same template code as
/// the stream's old image.
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
pub(crate) mod tests {
    use super::*;
    use aws_sdk_dynamodb::config::retry::RetryConfig;
    use aws_sdk_dynamodb::operation::get_item::{GetItemError, GetItemOutput};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    /// SDK retries off: retrying is the state machine's job, and each attempt consumes a rule.
    pub(crate) fn client_with_mode(mode: RuleMode, rules: &[&Rule]) -> Client {
        mock_client!(aws_sdk_dynamodb, mode, rules, |conf| conf
            .retry_config(RetryConfig::disabled()))
    }

    fn client(rules: &[&Rule]) -> Client {
        client_with_mode(RuleMode::Sequential, rules)
    }

    fn target(key: &str) -> PurgeTarget {
        PurgeTarget {
            bucket: "photo-bucket".into(),
            key: key.into(),
            paths: vec![format!("/{key}")],
            event_id: "evt-1".into(),
            table_keys: json!({"photo_id": {"S": "p1"}, "n": {"N": "7"}})
                .as_object()
                .expect("object")
                .clone(),
        }
    }

    fn template() -> Template {
        Template::parse("{photo_id}.{type|subtype}").expect("template")
    }

    fn item(type_: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("photo_id".to_owned(), AttributeValue::S("p1".into())),
            ("type".to_owned(), AttributeValue::S(type_.into())),
        ])
    }

    #[tokio::test]
    async fn recreated_item_with_same_key_is_superseded() {
        let rule = mock!(Client::get_item)
            .match_requests(|req| {
                req.consistent_read() == Some(true)
                    && req.table_name() == Some("photos")
                    && req.key().and_then(|k| k.get("photo_id"))
                        == Some(&AttributeValue::S("p1".into()))
                    && req.key().and_then(|k| k.get("n")) == Some(&AttributeValue::N("7".into()))
                    && req.projection_expression() == Some("#f0, #f1")
                    && req
                        .expression_attribute_names()
                        .and_then(|n| n.get("#f1"))
                        .map(String::as_str)
                        == Some("type")
            })
            .then_output(|| {
                GetItemOutput::builder()
                    .set_item(Some(item("image/jpeg")))
                    .build()
            });
        let outcome = check(&client(&[&rule]), "photos", &template(), &target("p1.jpeg")).await;
        assert_eq!(outcome.ok(), Some(SupersedeOutcome::Superseded));
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn recreated_item_with_another_object_still_purges_the_old_one() {
        let rule = mock!(Client::get_item).then_output(|| {
            GetItemOutput::builder()
                .set_item(Some(item("image/png")))
                .build()
        });
        let outcome = check(&client(&[&rule]), "photos", &template(), &target("p1.jpeg")).await;
        assert_eq!(outcome.ok(), Some(SupersedeOutcome::Purge));
    }

    #[tokio::test]
    async fn recreated_item_without_the_attribute_still_purges() {
        let rule = mock!(Client::get_item).then_output(|| {
            let mut item = item("x");
            item.insert("type".into(), AttributeValue::Bool(true));
            GetItemOutput::builder().set_item(Some(item)).build()
        });
        let outcome = check(&client(&[&rule]), "photos", &template(), &target("p1.jpeg")).await;
        assert_eq!(outcome.ok(), Some(SupersedeOutcome::Purge));
    }

    #[tokio::test]
    async fn absent_item_purges() {
        let rule = mock!(Client::get_item).then_output(|| GetItemOutput::builder().build());
        let outcome = check(&client(&[&rule]), "photos", &template(), &target("p1.jpeg")).await;
        assert_eq!(outcome.ok(), Some(SupersedeOutcome::Purge));
    }

    #[tokio::test]
    async fn throttling_is_a_retryable_error() {
        let rule = mock!(Client::get_item).then_error(|| {
            GetItemError::generic(
                ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .message("Rate of requests exceeds the allowed throughput.")
                    .build(),
            )
        });
        let err = check(&client(&[&rule]), "photos", &template(), &target("p1.jpeg"))
            .await
            .expect_err("throttled");
        assert_eq!(err.error_type(), crate::error::names::THROTTLED);
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn access_denied_is_named_and_not_retried() {
        let rule = mock!(Client::get_item).then_error(|| {
            GetItemError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("not authorized to perform: dynamodb:GetItem")
                    .build(),
            )
        });
        let err = check(&client(&[&rule]), "photos", &template(), &target("p1.jpeg"))
            .await
            .expect_err("denied");
        assert_eq!(err.error_type(), crate::error::names::ACCESS_DENIED);
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("dynamodb:GetItem"), "{err}");
    }

    #[tokio::test]
    async fn a_key_schema_mismatch_rejects_the_target_not_the_batch() {
        let rule = mock!(Client::get_item).then_error(|| {
            GetItemError::generic(
                ErrorMetadata::builder()
                    .code("ValidationException")
                    .message("The provided key element does not match the schema")
                    .build(),
            )
        });
        let outcome = check(&client(&[&rule]), "photos", &template(), &target("p1.jpeg"))
            .await
            .expect("a per-target outcome, not a task error");
        let SupersedeOutcome::KeysRejected { detail } = outcome else {
            panic!("expected KeysRejected, got {outcome:?}")
        };
        assert_eq!(
            detail,
            "GetItem on table \"photos\" refused the record's keys: ValidationException: \
             The provided key element does not match the schema"
        );
    }

    #[tokio::test]
    async fn transient_errors_stay_task_errors() {
        let rule = mock!(Client::get_item).then_error(|| {
            GetItemError::generic(
                ErrorMetadata::builder()
                    .code("InternalServerError")
                    .message("try again")
                    .build(),
            )
        });
        let err = check(&client(&[&rule]), "photos", &template(), &target("p1.jpeg"))
            .await
            .expect_err("transient");
        assert!(err.is_retryable(), "{err:?}");
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
            Some(&AttributeValue::B(aws_smithy_types::Blob::new(vec![
                0, 1, 2
            ])))
        );
        assert_eq!(
            json_value(&AttributeValue::B(aws_smithy_types::Blob::new(vec![
                0, 1, 2
            ]))),
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
