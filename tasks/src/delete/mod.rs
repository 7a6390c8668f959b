//! The DeleteObjects task: delete each target's object from S3.
//!
//! - S3 `DeleteObjects`, grouped by bucket, at most 1000 keys a request, in Quiet mode (S3 then
//!   returns only the keys that failed).
//! - A per-key error lands in [`DeleteOutput::failed`](crate::contract::DeleteOutput::failed); it never fails the task. A missing key
//!   (`NoSuchKey`, or `NoSuchVersion` for a version already gone) counts as deleted, so running
//!   the step twice is harmless.
//! - A per-key error S3 cannot tie to a key of the request (no key, or a key the request did
//!   not send) is [`UNATTRIBUTED_ERROR_CODE`] for every key of that request: nothing in the
//!   response proves any of them deleted, so none is reported as deleted.
//! - A request-level error (throttling, access denied to the bucket, a dropped connection) fails
//!   the task with a [`TaskError`](crate::TaskError); the state machine retries the transient ones. Retrying the
//!   whole step is safe because every delete is idempotent.
//! - [`VersionsPolicy`] (`PURGE_VERSIONS`) chooses what "delete" means on a versioned bucket:
//!   `marker` deletes the current version (S3 adds a delete marker and keeps the older versions);
//!   `all` lists every version and delete marker of the key and deletes each one. A listing S3
//!   truncates without the markers to continue from is [`INCOMPLETE_LISTING_CODE`] for that
//!   key: versions may remain, so it is not reported as deleted.

/// What "delete" means on a versioned bucket; parsed from `PURGE_VERSIONS` by the config.
pub use crate::config::VersionsPolicy;

/// The per-key failure code when S3 reports an error it does not attribute to a key the request
/// sent; every key of that request gets it.
pub const UNATTRIBUTED_ERROR_CODE: &str = "PurgeFlow.UnattributedDeleteError";

/// The per-key failure code when `PURGE_VERSIONS=all` could not list every version of a key.
pub const INCOMPLETE_LISTING_CODE: &str = "PurgeFlow.IncompleteVersionListing";

/// S3's limit on keys in one DeleteObjects request.
pub const MAX_KEYS_PER_REQUEST: usize = 1000;

/// The longest per-key error code a [`crate::contract::DeleteFailure`] carries, in bytes. S3's
/// codes are short identifiers (`AccessDenied`, `InvalidObjectState`); the cap makes the size
/// of a failure derivable, so the trigger can bound the state data a record may become
/// (`crate::trigger`).
pub const MAX_ERROR_CODE_BYTES: usize = 48;

/// The longest per-key error message a [`crate::contract::DeleteFailure`] carries, in bytes,
/// `version <id>: ` included. S3's messages are one short English sentence; a longer one is cut.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 160;

/// `text` as a failure report carries it: printable ASCII only, with `"` and `\` replaced,
/// and at most `max_bytes` bytes. The result needs no JSON escaping, so its serialised size is
/// its length plus the two quotes: what the trigger's size bound counts on.
pub fn bounded_error_text(text: &str, max_bytes: usize) -> String {
    const CUT: &str = "...";
    let printable = |c: char| match c {
        '"' => '\'',
        '\\' => '/',
        ' '..='~' => c,
        _ => '?',
    };
    let mut out: String = text.chars().map(printable).collect();
    if out.len() > max_bytes {
        // Every character is ASCII now, so any byte index is a char boundary.
        out.truncate(max_bytes.saturating_sub(CUT.len()));
        out.push_str(&CUT[..CUT.len().min(max_bytes)]);
    }
    out
}

#[cfg(feature = "s3")]
mod objects;
#[cfg(feature = "s3")]
mod versions;

#[cfg(feature = "s3")]
pub use objects::delete_objects;

#[cfg(all(test, feature = "s3"))]
mod s3_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_is_kept_when_short_and_plain() {
        assert_eq!(
            bounded_error_text("Access Denied", MAX_ERROR_MESSAGE_BYTES),
            "Access Denied"
        );
    }

    #[test]
    fn error_text_never_needs_json_escaping_and_stays_within_its_bound() {
        let nasty = format!("a\"b\\c\nd\u{1}é{}", "x".repeat(500));
        for max in [0, 2, 3, 10, MAX_ERROR_CODE_BYTES, MAX_ERROR_MESSAGE_BYTES] {
            let text = bounded_error_text(&nasty, max);
            assert!(text.len() <= max, "{max}: {text:?}");
            let json = serde_json::to_string(&text).expect("a string serialises");
            assert_eq!(json.len(), text.len() + 2, "{text:?} needed escaping");
        }
        assert_eq!(bounded_error_text(&nasty, 12), "a'b/c?d??...");
    }
}
