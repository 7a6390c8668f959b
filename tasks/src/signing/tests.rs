use super::*;
use crate::contract::{DeleteKind, InvalidationBatch, PurgeTarget, RemovedRecord};
use serde_json::json;

fn map(value: Value) -> serde_json::Map<String, Value> {
    value.as_object().expect("object").clone()
}

fn input() -> ExecutionInput {
    ExecutionInput {
        batch_id: "b-1".into(),
        records: vec![RemovedRecord {
            event_id: "e1".into(),
            sequence_number: "100".into(),
            delete_kind: DeleteKind::User,
            keys: map(json!({"photo_id": {"S": "p1"}})),
            old_image: Some(map(
                json!({"photo_id": {"S": "p1"}, "type": {"S": "image/jpeg"}}),
            )),
        }],
        targets: vec![PurgeTarget {
            bucket: "photo-bucket".into(),
            key: "images/a.jpg".into(),
            paths: vec!["/images/a.jpg".into()],
            event_id: "e2".into(),
            table_keys: map(json!({"photo_id": {"S": "p2"}, "owner": {"S": "u1"}})),
        }],
        batches: vec![InvalidationBatch {
            distribution_id: "E2QWRUHEXAMPLE".into(),
            caller_reference: "ref-1".into(),
            paths: vec!["/images/b.jpg".into()],
        }],
        mac: None,
        rejections: Vec::new(),
    }
}

#[test]
fn the_canonical_form_sorts_keys_at_every_depth_and_has_no_whitespace() {
    let text = canonical_json(&input());
    assert!(text.starts_with(r#"{"batchId":"b-1","batches":[{"callerReference":"ref-1","#));
    assert!(text.contains(r#""tableKeys":{"owner":{"S":"u1"},"photo_id":{"S":"p2"}}"#));
    assert!(!text.contains(' '), "{text}");
}

#[test]
fn field_order_defaults_and_unknown_fields_do_not_change_the_message() {
    let reordered: ExecutionInput = serde_json::from_value(json!({
        "targets": [{"tableKeys": {"owner": {"S": "u1"}, "photo_id": {"S": "p2"}}, "eventId": "e2",
                     "paths": ["/images/a.jpg"], "key": "images/a.jpg", "bucket": "photo-bucket"}],
        "batches": [{"paths": ["/images/b.jpg"], "callerReference": "ref-1", "distributionId": "E2QWRUHEXAMPLE"}],
        "records": [{"oldImage": {"type": {"S": "image/jpeg"}, "photo_id": {"S": "p1"}},
                     "keys": {"photo_id": {"S": "p1"}}, "deleteKind": "user",
                     "sequenceNumber": "100", "eventId": "e1"}],
        "batchId": "b-1",
        "comment": "an unknown field purgeflow ignores"
    }))
    .expect("an execution input");
    assert_eq!(message(&reordered), message(&input()));

    let mut only_records = input();
    only_records.targets.clear();
    only_records.batches.clear();
    let without_lists: ExecutionInput =
        serde_json::from_value(serde_json::to_value(&only_records).expect("json"))
            .expect("reads back");
    let mut with_empty_lists = serde_json::to_value(&only_records).expect("json");
    with_empty_lists["targets"] = json!([]);
    with_empty_lists["batches"] = json!([]);
    let with_empty_lists: ExecutionInput =
        serde_json::from_value(with_empty_lists).expect("reads back");
    assert_eq!(message(&without_lists), message(&with_empty_lists));
}

/// One change to an input.
type Edit = Box<dyn Fn(&mut ExecutionInput)>;

#[test]
fn the_mac_itself_is_not_signed_but_every_field_that_can_delete_is() {
    let base = message(&input());
    let mut signed = input();
    signed.mac = Some(Mac {
        version: 1,
        key_id: "k".into(),
        value: "00".repeat(32),
    });
    assert_eq!(message(&signed), base, "the mac field is left out");

    let edits: Vec<(&str, Edit)> = vec![
        ("batchId", Box::new(|i| i.batch_id.push('x'))),
        (
            "target bucket",
            Box::new(|i| i.targets[0].bucket = "other".into()),
        ),
        (
            "target key",
            Box::new(|i| i.targets[0].key = "images/b.jpg".into()),
        ),
        (
            "target paths",
            Box::new(|i| i.targets[0].paths.push("/x".into())),
        ),
        (
            "tableKeys",
            Box::new(|i| {
                i.targets[0]
                    .table_keys
                    .insert("photo_id".into(), json!({"S": "gone"}));
            }),
        ),
        ("record keys", Box::new(|i| i.records[0].keys.clear())),
        ("old image", Box::new(|i| i.records[0].old_image = None)),
        (
            "delete kind",
            Box::new(|i| i.records[0].delete_kind = DeleteKind::Ttl),
        ),
        (
            "batch paths",
            Box::new(|i| i.batches[0].paths.push("/images/*".into())),
        ),
        (
            "caller reference",
            Box::new(|i| i.batches[0].caller_reference = "ref-2".into()),
        ),
        ("a removed target", Box::new(|i| i.targets.clear())),
    ];
    for (what, edit) in edits {
        let mut edited = input();
        edit(&mut edited);
        assert_ne!(message(&edited), base, "{what} must be covered by the MAC");
    }
}

#[test]
fn the_message_is_the_domain_and_a_sha256_digest_within_kms_limits() {
    let message = message(&input());
    assert!(message.starts_with(b"purgeflow.executionInput.v1\n"));
    assert_eq!(message.len(), DOMAIN.len() + 32);
    assert!(message.len() <= 4096, "KMS takes at most 4096 bytes");
}

#[test]
fn a_mac_field_fits_its_reserve() {
    let mac = Mac {
        version: MAC_VERSION,
        key_id: format!(
            "arn:aws:kms:ap-southeast-2:123456789012:alias/{}",
            "a".repeat(250)
        ),
        value: "ab".repeat(32),
    };
    let field = format!(",\"mac\":{}", serde_json::to_string(&mac).expect("json"));
    assert!(field.len() <= MAX_MAC_FIELD_BYTES, "{}", field.len());
}

/// A stand-in for the KMS HMAC key in unit tests: GenerateMac and VerifyMac mocks that compute
/// a keyed digest of the message, so different contents get different MACs and an edit fails
/// verification, as with KMS.
#[cfg(feature = "kms")]
pub(crate) mod fake {
    use super::*;
    use aws_sdk_kms::Client;
    use aws_sdk_kms::operation::generate_mac::{GenerateMacInput, GenerateMacOutput};
    use aws_sdk_kms::operation::verify_mac::{VerifyMacError, VerifyMacOutput};
    use aws_sdk_kms::primitives::Blob;
    use aws_sdk_kms::types::MacAlgorithmSpec;
    use aws_sdk_kms::types::error::KmsInvalidMacException;
    use aws_smithy_mocks::{MockResponse, Rule, RuleMode, mock, mock_client};

    pub const KEY: &str =
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    pub fn fake_mac(message: &[u8]) -> Vec<u8> {
        Sha256::digest([b"key".as_slice(), message].concat()).to_vec()
    }

    /// GenerateMac's answer as KMS gives it: the fake MAC of the request's message.
    pub fn generated(req: &GenerateMacInput) -> GenerateMacOutput {
        GenerateMacOutput::builder()
            .mac(Blob::new(fake_mac(
                req.message().expect("message").as_ref(),
            )))
            .key_id(KEY)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .build()
    }

    pub fn generate_rule() -> Rule {
        mock!(Client::generate_mac)
            .match_requests(|req| req.key_id() == Some(KEY))
            .then_compute_output(generated)
    }

    pub fn verify_rule() -> Rule {
        mock!(Client::verify_mac)
            .match_requests(|req| req.key_id() == Some(KEY))
            .then_compute_response(|req| {
                let message = req.message().expect("message").as_ref();
                if req.mac().expect("mac").as_ref() == fake_mac(message).as_slice() {
                    MockResponse::Output(
                        VerifyMacOutput::builder()
                            .mac_valid(true)
                            .key_id(KEY)
                            .build(),
                    )
                } else {
                    MockResponse::Error(VerifyMacError::KmsInvalidMacException(
                        KmsInvalidMacException::builder()
                            .message("the MAC is not valid")
                            .build(),
                    ))
                }
            })
    }

    /// The key over `rules` (any order).
    pub fn key(rules: &[&Rule]) -> MacKey {
        let client: Client = mock_client!(aws_sdk_kms, RuleMode::MatchAny, rules);
        MacKey::new(client, KEY)
    }

    /// `input` signed as the fake key signs, without a call.
    pub fn signed(mut input: ExecutionInput) -> ExecutionInput {
        input.mac = Some(Mac {
            version: MAC_VERSION,
            key_id: KEY.into(),
            value: hex::encode(fake_mac(&message(&input))),
        });
        input
    }
}

#[cfg(feature = "kms")]
mod kms {
    use super::fake::{KEY, fake_mac, generated, key, verify_rule as verifying_rule};
    use super::*;
    use crate::error::names;
    use aws_sdk_kms::Client;
    use aws_sdk_kms::operation::verify_mac::VerifyMacError;
    use aws_sdk_kms::types::MacAlgorithmSpec;
    use aws_smithy_mocks::mock;
    use aws_smithy_types::error::ErrorMetadata;

    #[tokio::test]
    async fn sign_sends_the_message_with_hmac_sha_256_and_records_the_key() {
        let expected = message(&input());
        let rule = mock!(Client::generate_mac)
            .match_requests(move |req| {
                req.key_id() == Some(KEY)
                    && req.mac_algorithm() == Some(&MacAlgorithmSpec::HmacSha256)
                    && req.message().map(|b| b.as_ref()) == Some(expected.as_slice())
            })
            .then_compute_output(generated);
        let signed = key(&[&rule]).signed(input()).await.expect("signs");
        let mac = signed.mac.expect("a mac");
        assert_eq!(mac.version, 1);
        assert_eq!(mac.key_id, KEY);
        assert_eq!(mac.value, hex::encode(fake_mac(&message(&input()))));
    }

    fn signed_input() -> ExecutionInput {
        super::fake::signed(input())
    }

    #[tokio::test]
    async fn a_signed_input_verifies() {
        let rule = verifying_rule();
        key(&[&rule]).verify(&signed_input()).await.expect("valid");
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn an_edited_input_is_refused_as_a_bad_signature() {
        let rule = verifying_rule();
        let mut edited = signed_input();
        edited.targets[0].key = "images/someone-elses.jpg".into();
        match key(&[&rule]).verify(&edited).await {
            Err(SigningError::Refused(MacProblem::BadSignature(detail))) => {
                assert!(detail.contains("edited"), "{detail}");
            }
            other => panic!("expected a bad signature, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_unsigned_or_malformed_mac_is_refused_without_asking_kms() {
        let rule = verifying_rule();
        let key = key(&[&rule]);
        assert!(matches!(
            key.verify(&input()).await,
            Err(SigningError::Refused(MacProblem::Unsigned))
        ));
        for (version, value) in [
            (1, "not hex".to_owned()),
            (1, "ab".into()),
            (2, "ab".repeat(32)),
        ] {
            let mut odd = input();
            odd.mac = Some(Mac {
                version,
                key_id: KEY.into(),
                value,
            });
            assert!(matches!(
                key.verify(&odd).await,
                Err(SigningError::Refused(MacProblem::BadSignature(_)))
            ));
        }
        assert_eq!(rule.num_calls(), 0);
    }

    #[tokio::test]
    async fn kms_failures_are_named_not_taken_for_a_verdict() {
        let throttled = mock!(Client::verify_mac).then_error(|| {
            VerifyMacError::generic(
                ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .message("rate exceeded")
                    .build(),
            )
        });
        match key(&[&throttled]).verify(&signed_input()).await {
            Err(SigningError::Kms(err)) => assert_eq!(err.error_type(), names::THROTTLED),
            other => panic!("expected a KMS error, got {other:?}"),
        }
    }
}
