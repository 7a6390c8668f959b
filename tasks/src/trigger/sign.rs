//! Signing a packed execution input (feature `kms`): the trigger's MAC, see `crate::signing`.

use crate::TaskError;
use crate::contract::{ExecutionInput, from_value};
use crate::signing::MacKey;

/// `input` (a packed execution input's JSON text) with its MAC: read once as ValidateRecords
/// will read it, MAC'd by KMS (one GenerateMac call), and the `mac` field appended to the text
/// as it was written, so the records are not written out again. The packing budget reserves
/// [`crate::signing::MAX_MAC_FIELD_BYTES`] for the field.
pub async fn signed_input(input: &str, key: &MacKey) -> Result<String, TaskError> {
    let value: serde_json::Value = serde_json::from_str(input)
        .map_err(|e| TaskError::InvalidInput(format!("packed input is not JSON: {e}")))?;
    let parsed: ExecutionInput = from_value(value)?;
    let mac = key.sign(&parsed).await?;
    let body = input
        .trim_end()
        .strip_suffix('}')
        .ok_or_else(|| TaskError::InvalidInput("packed input is not a JSON object".into()))?;
    let field = serde_json::to_string(&mac)
        .map_err(|e| TaskError::InvalidInput(format!("cannot write the MAC: {e}")))?;
    Ok(format!("{body},\"mac\":{field}}}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::tests::fake;

    #[tokio::test]
    async fn the_signed_text_reads_back_as_the_same_input_with_a_mac_that_verifies() {
        let text = r#"{"batchId":"b-1","records":[{"eventId":"e1","sequenceNumber":"1","deleteKind":"user","keys":{"id":{"S":"1"}},"oldImage":{"id":{"S":"1"},"image_key":{"S":"images/a.jpg"}}}]}"#;
        let (generate, verify) = (fake::generate_rule(), fake::verify_rule());
        let key = fake::key(&[&generate, &verify]);
        let signed = signed_input(text, &key).await.expect("signs");
        assert!(signed.len() - text.len() <= crate::signing::MAX_MAC_FIELD_BYTES);
        let read: ExecutionInput = serde_json::from_str(&signed).expect("an execution input");
        assert!(read.mac.is_some());
        key.verify(&read).await.expect("verifies");
        let mut unsigned = read.clone();
        unsigned.mac = None;
        assert_eq!(
            unsigned,
            serde_json::from_str::<ExecutionInput>(text).expect("input")
        );
    }
}
