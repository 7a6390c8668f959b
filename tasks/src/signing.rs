//! The MAC on execution inputs: only inputs purgeflow made can delete.
//!
//! Anyone who can start an execution, paste into the console or send to the failure queue could
//! otherwise delete any object inside the prefix: `tableKeys` of an item that does not exist
//! pass the supersede check. So the trigger signs every execution input it starts, every report
//! signs its `replayInput`, and ValidateRecords verifies the MAC before anything is touched.
//!
//! **What is signed** (version 1). The execution input as purgeflow reads it (the typed
//! [`ExecutionInput`]: `batchId`, `records` with their keys, delete kinds and projected old
//! images, replayed `targets` with bucket, key, paths, eventId and `tableKeys`, replayed
//! `batches` with distribution, CallerReference and paths), without its `mac` field, written as
//! **canonical JSON**: object keys sorted by their UTF-8 bytes at every depth, no whitespace,
//! strings escaped as serde_json writes them, numbers as serde_json writes them, fields at
//! their serde defaults written out (so `"targets": []` and no `targets` sign the same). Field
//! order and unknown fields (which purgeflow ignores, so they can't delete) do not matter; any
//! change to what purgeflow acts on does. KMS takes at most 4,096 bytes per message, so the
//! MAC is over a fixed-size digest of that text:
//!
//! ```text
//! HMAC-SHA-256(key, "purgeflow.executionInput.v1\n" || SHA-256(canonical JSON))
//! ```
//!
//! computed by KMS (`GenerateMac` / `VerifyMac`, `HMAC_SHA_256`) with the stack's HMAC_256 key.
//! The key never leaves KMS. The input carries it as
//! `"mac": {"version": 1, "keyId": "<key ARN>", "value": "<64 hex digits>"}`. `keyId` only
//! says which key signed; verification always uses the configured key (`PURGE_MAC_KEY_ID`),
//! never the one an input names.
//!
//! **Who may sign what.** A MAC is only ever put on content that was verified or made inside the
//! trust boundary: the trigger signs what it builds from the stream; ReportFailures signs a
//! `replayInput` only when the execution's own input verified (see `report/`); the dispatcher
//! signs the batches of the deferral queue, which only the state machine can write to.
//! Content admitted unsigned through `PURGE_ALLOW_UNSIGNED_INPUTS` is never signed later, so
//! the opt-out can't launder an input into one that deletes once it is turned off again.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::contract::ExecutionInput;

/// The version of the signed form above; a MAC of another version is refused.
pub const MAC_VERSION: u32 = 1;

/// What the digest is prefixed with: the version, and what kind of document it is, so a MAC
/// made for one purpose can never be presented for another.
const DOMAIN: &[u8] = b"purgeflow.executionInput.v1\n";

/// KMS's name of the algorithm (the key spec is HMAC_256).
pub const ALGORITHM: &str = "HMAC_SHA_256";

/// The most bytes the `mac` field adds to an input's JSON, `,"mac":{...}` included: budgets
/// (the trigger's packing, a report's SNS size) reserve this much. A key ARN is at most ~100
/// characters; an alias ARN up to 256 + the ARN's head.
pub const MAX_MAC_FIELD_BYTES: usize = 512;

/// The `mac` field of an execution input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mac {
    pub version: u32,
    /// The key that signed (KMS's key ARN from GenerateMac). Informational: verification uses
    /// the configured key.
    pub key_id: String,
    /// The HMAC, lowercase hex.
    pub value: String,
}

/// What ValidateRecords found out about an input's MAC, handed on in state data so that
/// ReportFailures knows whether what it reports may be signed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InputSignature {
    /// The MAC verified against the configured key.
    Verified,
    /// Admitted without a verified MAC, through `PURGE_ALLOW_UNSIGNED_INPUTS=true`.
    Unverified,
}

/// Why an input's MAC is not good. The names are stable (they become error and report names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MacProblem {
    /// No `mac` field.
    Unsigned,
    /// A `mac` field that does not verify: the content was edited, or it was signed with
    /// another key, or the MAC is malformed. The detail says which, as far as it is known.
    BadSignature(String),
}

impl MacProblem {
    pub fn detail(&self) -> String {
        match self {
            MacProblem::Unsigned => "the input carries no `mac`: purgeflow did not make it \
                                     (set PURGE_ALLOW_UNSIGNED_INPUTS=true to admit hand-written inputs)"
                .to_owned(),
            MacProblem::BadSignature(detail) => detail.clone(),
        }
    }
}

/// The canonical JSON text of `input` without its MAC (see the module docs).
pub fn canonical_json(input: &ExecutionInput) -> String {
    let mut unsigned = input.clone();
    unsigned.mac = None;
    // A typed value always serialises (string keys, no non-finite floats).
    let value = serde_json::to_value(&unsigned).unwrap_or(Value::Null);
    let mut out = String::new();
    write_canonical(&value, &mut out);
    out
}

/// The bytes KMS MACs: the domain, then the SHA-256 digest of the canonical JSON.
pub fn message(input: &ExecutionInput) -> Vec<u8> {
    let digest = Sha256::digest(canonical_json(input).as_bytes());
    let mut message = Vec::with_capacity(DOMAIN.len() + digest.len());
    message.extend_from_slice(DOMAIN);
    message.extend_from_slice(&digest);
    message
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Checks the parts of a MAC that need no KMS call: its version and the form of its value.
#[cfg_attr(not(feature = "kms"), allow(dead_code))]
fn check_form(mac: &Mac) -> Result<Vec<u8>, MacProblem> {
    if mac.version != MAC_VERSION {
        return Err(MacProblem::BadSignature(format!(
            "mac.version {} is not one this purgeflow verifies ({MAC_VERSION})",
            mac.version
        )));
    }
    hex::decode(&mac.value)
        .ok()
        .filter(|bytes| bytes.len() == 32)
        .ok_or_else(|| {
            MacProblem::BadSignature("mac.value is not 64 hex digits (an HMAC-SHA-256)".to_owned())
        })
}

#[cfg(feature = "kms")]
pub use with_kms::{MacKey, MacPolicy, SigningError};

#[cfg(feature = "kms")]
mod with_kms {
    use aws_sdk_kms::Client;
    use aws_sdk_kms::primitives::Blob;
    use aws_sdk_kms::types::MacAlgorithmSpec;

    use super::{InputSignature, Mac, MacProblem, check_form, message};
    use crate::TaskError;
    use crate::config::{Config, ConfigError};
    use crate::contract::ExecutionInput;

    /// How ValidateRecords (and `purgeflow replay`) treat an input's MAC: the configured key,
    /// and whether an input without a MAC is admitted (`PURGE_ALLOW_UNSIGNED_INPUTS`).
    #[derive(Debug, Clone, PartialEq)]
    pub struct MacPolicy {
        pub key: Option<MacKey>,
        pub allow_unsigned: bool,
    }

    impl MacPolicy {
        /// The check `config` asks for, with `client` for the key (`None`: no KMS client, only
        /// valid with unsigned inputs allowed). Fails like [`Config::require_mac_key`].
        pub fn from_config(config: &Config, client: Option<Client>) -> Result<Self, ConfigError> {
            config.require_mac_key()?;
            let key = match (&config.mac_key_id, client) {
                (Some(key_id), Some(client)) => Some(MacKey::new(client, key_id.clone())),
                _ => None,
            };
            if key.is_none() && !config.allow_unsigned_inputs {
                return Err(ConfigError::Invalid {
                    variable: crate::config::MAC_KEY_ID,
                    value: config.mac_key_id.clone().unwrap_or_default(),
                    expected: "a KMS client to sign and verify with it".to_owned(),
                });
            }
            Ok(MacPolicy {
                key,
                allow_unsigned: config.allow_unsigned_inputs,
            })
        }

        /// What `PURGE_ALLOW_UNSIGNED_INPUTS=true` without a key does: every input is admitted
        /// unverified. For tests of what happens after the check.
        pub fn unsigned_allowed() -> Self {
            MacPolicy {
                key: None,
                allow_unsigned: true,
            }
        }

        /// Checks `input`'s MAC before anything is touched: verified with the key, or admitted
        /// without one only when unsigned inputs are allowed. A missing MAC is
        /// `PurgeFlow.UnsignedInput`, a wrong one `PurgeFlow.BadSignature` (even when unsigned
        /// inputs are allowed: an edited signed input is tampering, and whoever hand-writes an
        /// input leaves the MAC out). KMS failures keep their retryable names.
        pub async fn check(&self, input: &ExecutionInput) -> Result<InputSignature, TaskError> {
            let refused = |problem: MacProblem| match problem {
                MacProblem::Unsigned => TaskError::UnsignedInput {
                    batch_id: input.batch_id.clone(),
                },
                MacProblem::BadSignature(detail) => TaskError::BadSignature {
                    batch_id: input.batch_id.clone(),
                    detail,
                },
            };
            match (&input.mac, &self.key) {
                (None, _) if self.allow_unsigned => {
                    tracing::warn!(batch_id = %input.batch_id, "unsigned execution input admitted (PURGE_ALLOW_UNSIGNED_INPUTS=true)");
                    Ok(InputSignature::Unverified)
                }
                (None, _) => Err(refused(MacProblem::Unsigned)),
                (Some(_), None) => {
                    tracing::warn!(batch_id = %input.batch_id, "signed execution input admitted unverified: no PURGE_MAC_KEY_ID (PURGE_ALLOW_UNSIGNED_INPUTS=true)");
                    Ok(InputSignature::Unverified)
                }
                (Some(_), Some(key)) => match key.verify(input).await {
                    Ok(()) => Ok(InputSignature::Verified),
                    Err(SigningError::Refused(problem)) => Err(refused(problem)),
                    Err(SigningError::Kms(err)) => Err(err),
                },
            }
        }
    }

    /// A KMS HMAC key and the client that reaches it: what signs and verifies.
    #[derive(Debug, Clone)]
    pub struct MacKey {
        pub client: Client,
        pub key_id: String,
    }

    /// Two keys are the same key when they name it alike (the clients can't be compared).
    impl PartialEq for MacKey {
        fn eq(&self, other: &Self) -> bool {
            self.key_id == other.key_id
        }
    }

    /// Why verifying could not answer, or the answer was no.
    #[derive(Debug)]
    pub enum SigningError {
        /// The MAC is missing or wrong: the input must delete nothing.
        Refused(MacProblem),
        /// KMS could not be asked (throttled, unreachable, access denied, ...).
        Kms(TaskError),
    }

    impl MacKey {
        pub fn new(client: Client, key_id: impl Into<String>) -> Self {
            MacKey {
                client,
                key_id: key_id.into(),
            }
        }

        /// The MAC of `input`'s content (its own `mac` is ignored). One GenerateMac call.
        pub async fn sign(&self, input: &ExecutionInput) -> Result<Mac, TaskError> {
            let output = self
                .client
                .generate_mac()
                .key_id(&self.key_id)
                .mac_algorithm(MacAlgorithmSpec::HmacSha256)
                .message(Blob::new(message(input)))
                .send()
                .await
                .map_err(|e| crate::aws_errors::classify("kms", &e))?;
            let value = output
                .mac()
                .map(|b| hex::encode(b.as_ref()))
                .ok_or_else(|| TaskError::Aws {
                    service: "kms",
                    code: "MissingMac".into(),
                    message: "GenerateMac answered without a MAC".into(),
                })?;
            Ok(Mac {
                version: super::MAC_VERSION,
                key_id: output.key_id().unwrap_or(&self.key_id).to_owned(),
                value,
            })
        }

        /// `input` with its MAC set.
        pub async fn signed(&self, mut input: ExecutionInput) -> Result<ExecutionInput, TaskError> {
            input.mac = Some(self.sign(&input).await?);
            Ok(input)
        }

        /// Verifies `input`'s MAC with this key. One VerifyMac call, none when the MAC is
        /// missing or malformed.
        pub async fn verify(&self, input: &ExecutionInput) -> Result<(), SigningError> {
            let Some(mac) = &input.mac else {
                return Err(SigningError::Refused(MacProblem::Unsigned));
            };
            let value = check_form(mac).map_err(SigningError::Refused)?;
            let answer = self
                .client
                .verify_mac()
                .key_id(&self.key_id)
                .mac_algorithm(MacAlgorithmSpec::HmacSha256)
                .message(Blob::new(message(input)))
                .mac(Blob::new(value))
                .send()
                .await;
            let bad = || {
                SigningError::Refused(MacProblem::BadSignature(format!(
                    "the MAC does not match the content under key {}: the input was edited after it was signed{}",
                    self.key_id,
                    if mac.key_id.is_empty() || mac.key_id == self.key_id {
                        String::new()
                    } else {
                        format!(", or signed with another key ({})", mac.key_id)
                    }
                )))
            };
            match answer {
                Ok(output) if output.mac_valid() => Ok(()),
                Ok(_) => Err(bad()),
                // KMS answers a MAC that does not verify with KMSInvalidMacException.
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_kms_invalid_mac_exception()) =>
                {
                    Err(bad())
                }
                Err(err) => Err(SigningError::Kms(crate::aws_errors::classify("kms", &err))),
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
