//! Signing a report's replay inputs (feature `kms`), and the rule that keeps a report from
//! laundering an input: a `replayInput` gets a MAC only when the content it holds was verified.
//!
//! - Lists gathered by the execution (failed deletes, failed batches) come from ValidateRecords'
//!   output, which says in state data whether the input's MAC verified (`inputSignature`).
//!   Nothing outside the execution can write state data, so `verified` there is trusted.
//! - After a caught error the replay input is the execution's original input, which came from
//!   outside: ReportFailures verifies its MAC itself (one VerifyMac). Missing or wrong → the
//!   input is carried as `unreplayableInput` (`UnsignedInput` / `BadSignature`), never replayed
//!   or signed; admitted through the opt-out → replayed unsigned.
//! - When KMS can't be reached the report still goes out, with its replay input unsigned and
//!   `unsignedReplay` saying why: a report is never lost to a KMS outage, and an unsigned replay
//!   input deletes nothing without the opt-out.

use crate::TaskError;
use crate::contract::{
    ExecutionInput, ReportInput, UnreplayableReason, UnsignedReplay, UnsignedReplayReason, parse,
};
use crate::signing::{InputSignature, MacPolicy};

use super::ReportMessage;

/// What may be done with a report's replay inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayTrust {
    /// Verified content: sign every replay input.
    Sign,
    /// Not verified (or KMS unavailable): publish unsigned, saying why.
    Unsigned(UnsignedReplay),
    /// The original input's MAC is missing or wrong: don't replay it at all.
    Refuse(UnreplayableReason, String),
}

/// The most characters of a KMS error kept in `unsignedReplay.detail`: the report's size
/// budget reserves [`super::SIGNATURE_RESERVE_BYTES`] for the MAC or this note.
const MAX_DETAIL_CHARS: usize = 160;

fn unsigned(reason: UnsignedReplayReason, detail: impl Into<String>) -> ReplayTrust {
    let detail: String = detail
        .into()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_DETAIL_CHARS)
        .collect();
    ReplayTrust::Unsigned(UnsignedReplay { reason, detail })
}

/// Decides [`ReplayTrust`] for `input` (see the module docs). At most one VerifyMac call.
pub async fn replay_trust(mac: &MacPolicy, input: &ReportInput) -> ReplayTrust {
    let not_verified = || {
        unsigned(
            UnsignedReplayReason::InputNotVerified,
            "the execution's input was admitted without a verified MAC (PURGE_ALLOW_UNSIGNED_INPUTS=true); replaying this needs it too",
        )
    };
    match (&input.caught, &input.original_input) {
        (Some(_), Some(original)) => {
            let Ok(parsed) = parse::<ExecutionInput>(original.clone()) else {
                // Not an execution input: carried as unreplayable, nothing to sign.
                return ReplayTrust::Sign;
            };
            match mac.check(&parsed).await {
                Ok(InputSignature::Verified) => ReplayTrust::Sign,
                Ok(InputSignature::Unverified) => not_verified(),
                Err(TaskError::UnsignedInput { .. }) => ReplayTrust::Refuse(
                    UnreplayableReason::UnsignedInput,
                    "the execution input carries no mac: purgeflow did not make it, so it deleted nothing; \
                     if a person wrote it on purpose, start it with PURGE_ALLOW_UNSIGNED_INPUTS=true"
                        .to_owned(),
                ),
                Err(TaskError::BadSignature { detail, .. }) => {
                    ReplayTrust::Refuse(UnreplayableReason::BadSignature, detail)
                }
                Err(err) => unsigned(
                    UnsignedReplayReason::KmsUnavailable,
                    format!("the input's MAC could not be checked: {err}"),
                ),
            }
        }
        _ if input.input_signature == Some(InputSignature::Verified) => ReplayTrust::Sign,
        _ => not_verified(),
    }
}

/// Signs (or marks unsigned) the replay input of every message, and writes its body again.
/// Returns how many GenerateMac calls were made.
pub async fn sign_messages(
    messages: &mut [ReportMessage],
    mac: &MacPolicy,
    trust: &ReplayTrust,
) -> Result<usize, TaskError> {
    let mut calls = 0;
    for message in messages.iter_mut() {
        let Some(replay) = message.report.replay_input.as_mut() else {
            continue;
        };
        let outcome = match (trust, &mac.key) {
            (ReplayTrust::Sign, Some(key)) => {
                calls += 1;
                match key.sign(replay).await {
                    Ok(signature) => {
                        replay.mac = Some(signature);
                        None
                    }
                    Err(err) => Some(unsigned(
                        UnsignedReplayReason::KmsUnavailable,
                        format!("GenerateMac failed: {err}"),
                    )),
                }
            }
            (ReplayTrust::Sign, None) => Some(unsigned(
                UnsignedReplayReason::InputNotVerified,
                "no PURGE_MAC_KEY_ID to sign with (PURGE_ALLOW_UNSIGNED_INPUTS=true)",
            )),
            (other, _) => Some(other.clone()),
        };
        if let Some(ReplayTrust::Unsigned(note)) = outcome {
            replay.mac = None;
            message.report.unsigned_replay = Some(note);
        }
        message.body = serde_json::to_string(&message.report).map_err(|e| {
            TaskError::InvalidInput(format!("cannot serialise the failure report: {e}"))
        })?;
    }
    Ok(calls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{
        CaughtError, DeleteFailure, PurgeTarget, UnreplayableReason, UnsignedReplayReason,
    };
    use crate::report::{SNS_MAX_MESSAGE_BYTES, build_messages_refusing};
    use crate::schema_check::assert_valid;
    use crate::signing::tests::fake;
    use aws_sdk_kms::operation::generate_mac::GenerateMacError;
    use aws_smithy_mocks::{Rule, mock};
    use aws_smithy_types::error::ErrorMetadata;
    use serde_json::json;

    fn target(key: &str) -> PurgeTarget {
        PurgeTarget {
            bucket: "photo-bucket".into(),
            key: key.into(),
            paths: vec![format!("/{key}")],
            event_id: "e1".into(),
            table_keys: json!({"id": {"S": "1"}})
                .as_object()
                .expect("object")
                .clone(),
        }
    }

    fn original() -> ExecutionInput {
        ExecutionInput {
            batch_id: "b-1".into(),
            records: Vec::new(),
            targets: vec![target("images/a.jpg")],
            batches: Vec::new(),
            mac: None,
            rejections: Vec::new(),
        }
    }

    fn caught(original: &ExecutionInput) -> ReportInput {
        ReportInput {
            execution_name: "b-1".into(),
            execution_arn: None,
            execution_start_time: None,
            batch_id: "b-1".into(),
            rejections: Vec::new(),
            delete_failures: Vec::new(),
            failed_invalidations: Vec::new(),
            dropped_batches: Vec::new(),
            caught: Some(CaughtError {
                error: "PurgeFlow.UnsignedInput".into(),
                cause: "x".into(),
            }),
            original_input: Some(serde_json::to_value(original).expect("json")),
            input_signature: None,
        }
    }

    fn listed(signature: Option<InputSignature>) -> ReportInput {
        ReportInput {
            caught: None,
            original_input: None,
            delete_failures: vec![DeleteFailure {
                target: target("images/b.jpg"),
                code: "AccessDenied".into(),
                message: "legal hold".into(),
            }],
            input_signature: signature,
            ..caught(&original())
        }
    }

    fn policy(rules: &[&Rule]) -> MacPolicy {
        MacPolicy {
            key: Some(fake::key(rules)),
            allow_unsigned: false,
        }
    }

    /// What ReportFailures publishes for `input`: trust, build, sign.
    async fn publish(mac: &MacPolicy, input: &ReportInput) -> Vec<crate::contract::FailureReport> {
        let trust = replay_trust(mac, input).await;
        let refusal = match &trust {
            ReplayTrust::Refuse(reason, detail) => Some((*reason, detail.clone())),
            _ => None,
        };
        let mut messages =
            build_messages_refusing(input, SNS_MAX_MESSAGE_BYTES, refusal).expect("builds");
        sign_messages(&mut messages, mac, &trust)
            .await
            .expect("signs");
        for message in &messages {
            let body: serde_json::Value = serde_json::from_str(&message.body).expect("json");
            assert_valid("failure-report.schema.json", &body);
            assert_eq!(body, serde_json::to_value(&message.report).expect("json"));
        }
        messages.into_iter().map(|m| m.report).collect()
    }

    #[tokio::test]
    async fn an_unsigned_input_is_reported_but_never_signed_or_replayed() {
        let (generate, verify) = (fake::generate_rule(), fake::verify_rule());
        let reports = publish(&policy(&[&generate, &verify]), &caught(&original())).await;
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].replay_input, None, "no replay input to launder");
        let unreplayable = reports[0].unreplayable_input.as_ref().expect("carried");
        assert_eq!(unreplayable.reason, UnreplayableReason::UnsignedInput);
        assert_eq!(
            unreplayable.input,
            serde_json::to_value(original()).expect("json")
        );
        assert_eq!(generate.num_calls(), 0, "nothing was signed");
    }

    #[tokio::test]
    async fn an_edited_input_is_reported_as_a_bad_signature_and_not_signed() {
        let (generate, verify) = (fake::generate_rule(), fake::verify_rule());
        let mut edited = fake::signed(original());
        edited.targets[0].key = "images/other.jpg".into();
        let reports = publish(&policy(&[&generate, &verify]), &caught(&edited)).await;
        assert_eq!(reports[0].replay_input, None);
        assert_eq!(
            reports[0].unreplayable_input.as_ref().map(|u| u.reason),
            Some(UnreplayableReason::BadSignature)
        );
        assert_eq!(generate.num_calls(), 0);
    }

    /// The replay input's MAC verifies with the policy's key.
    async fn assert_verifies(mac: &MacPolicy, replay: &ExecutionInput) {
        mac.key
            .as_ref()
            .expect("key")
            .verify(replay)
            .await
            .expect("verifies");
    }

    #[tokio::test]
    async fn a_verified_original_is_replayed_with_a_fresh_mac_that_verifies() {
        let (generate, verify) = (fake::generate_rule(), fake::verify_rule());
        let mac = policy(&[&generate, &verify]);
        let reports = publish(&mac, &caught(&fake::signed(original()))).await;
        let replay = reports[0].replay_input.clone().expect("replayed whole");
        assert!(replay.mac.is_some());
        assert_eq!(reports[0].unsigned_replay, None);
        assert_verifies(&mac, &replay).await;
    }

    #[tokio::test]
    async fn lists_are_signed_only_when_validate_records_verified_the_input() {
        let (generate, verify) = (fake::generate_rule(), fake::verify_rule());
        let mac = policy(&[&generate, &verify]);
        let signed = publish(&mac, &listed(Some(InputSignature::Verified))).await;
        let replay = signed[0]
            .replay_input
            .clone()
            .expect("failed delete replayed");
        assert_verifies(&mac, &replay).await;

        for signature in [Some(InputSignature::Unverified), None] {
            let reports = publish(&mac, &listed(signature)).await;
            let replay = reports[0].replay_input.as_ref().expect("still replayable");
            assert_eq!(
                replay.mac, None,
                "{signature:?}: admitted unsigned, stays unsigned"
            );
            assert_eq!(
                reports[0].unsigned_replay.as_ref().map(|u| u.reason),
                Some(UnsignedReplayReason::InputNotVerified)
            );
        }
        assert_eq!(generate.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_kms_outage_still_publishes_the_report_unsigned_and_says_why() {
        let denied = mock!(aws_sdk_kms::Client::generate_mac).then_error(|| {
            GenerateMacError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("not allowed")
                    .build(),
            )
        });
        let reports = publish(&policy(&[&denied]), &listed(Some(InputSignature::Verified))).await;
        assert!(
            reports[0]
                .replay_input
                .as_ref()
                .is_some_and(|r| r.mac.is_none())
        );
        let note = reports[0].unsigned_replay.as_ref().expect("says why");
        assert_eq!(note.reason, UnsignedReplayReason::KmsUnavailable);
        assert!(note.detail.contains("GenerateMac"), "{}", note.detail);
    }
}
