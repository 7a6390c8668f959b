//! `PURGE_VERSIONS=all`: every version and delete marker of each key, listed before the delete
//! (feature `s3`).

use std::collections::BTreeSet;

use aws_sdk_s3::Client;
use futures::{StreamExt, TryStreamExt};

use super::INCOMPLETE_LISTING_CODE;
use super::objects::{Identifier, KeyError};
use crate::TaskError;
use crate::aws_errors::classify;

/// ListObjectVersions calls in flight at once when `PURGE_VERSIONS=all` (one listing per key).
const LIST_CONCURRENCY: usize = 8;

/// The versions listed for a bucket's keys, and the keys whose listing S3 left incomplete.
pub(super) struct Listed {
    pub(super) identifiers: Vec<Identifier>,
    pub(super) incomplete: Vec<(String, KeyError)>,
}

/// One key's listing: every version, or why some may be missing.
pub(super) enum KeyListing {
    Complete(Vec<Identifier>),
    Incomplete { key: String, error: KeyError },
}

/// Every version and delete marker of each key, listing with the key as prefix and keeping
/// exact matches only (`a.jpg` must not take `a.jpg.bak` with it).
pub(super) async fn list_all_versions<'k>(
    client: &Client,
    bucket: &str,
    keys: impl Iterator<Item = &'k str>,
) -> Result<Listed, TaskError> {
    // Built eagerly, then streamed: mapping the stream with a closure over borrowed data
    // makes the future impossible for rustc to prove `Send` (rust-lang/rust#64552). A
    // listing future does nothing until polled, so `buffered` still bounds the calls.
    let listings: Vec<_> = keys
        .map(|key| list_versions_of(client, bucket, key))
        .collect();
    let per_key: Vec<KeyListing> = futures::stream::iter(listings)
        .buffered(LIST_CONCURRENCY)
        .try_collect()
        .await?;
    // Sorted and deduplicated: a stable request layout whatever the listing order.
    let mut all: BTreeSet<Identifier> = BTreeSet::new();
    let mut incomplete = Vec::new();
    for listing in per_key {
        match listing {
            KeyListing::Complete(identifiers) => all.extend(identifiers),
            // None of its versions is deleted: a partial purge would still be reported as
            // a failure, and the replay lists the key again from the start.
            KeyListing::Incomplete { key, error } => incomplete.push((key, error)),
        }
    }
    Ok(Listed {
        identifiers: all.into_iter().collect(),
        incomplete,
    })
}

async fn list_versions_of(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<KeyListing, TaskError> {
    let incomplete = |why: &str| KeyListing::Incomplete {
        key: key.to_owned(),
        error: KeyError::new(
            INCOMPLETE_LISTING_CODE,
            &format!("ListObjectVersions {why}; versions may remain, none was deleted"),
        ),
    };
    let mut found = Vec::new();
    let mut key_marker: Option<String> = None;
    let mut version_marker: Option<String> = None;
    // The version marker of the last request, to stop a listing that does not advance.
    let mut version_marker_sent: Option<String> = None;
    loop {
        let page = client
            .list_object_versions()
            .bucket(bucket)
            .prefix(key)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .map_err(|e| classify("s3", &e))?;
        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = page
            .delete_markers()
            .iter()
            .map(|m| (m.key(), m.version_id()));
        for (listed_key, version_id) in versions.chain(markers) {
            if listed_key == Some(key) {
                // A version without an id is "null" in S3's terms (an unversioned object).
                let version_id = version_id.unwrap_or("null").to_owned();
                found.push(Identifier {
                    key: key.to_owned(),
                    version_id: Some(version_id),
                });
            }
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        let (next_key, next_version) = (page.next_key_marker(), page.next_version_id_marker());
        match next_key {
            // Keys come back in order, so once the listing has moved past our key, the
            // remaining pages hold only longer keys that share the prefix.
            Some(next) if next != key => break,
            // Without the version marker the next page would start after the key and skip
            // its remaining versions; without any marker there is no next page to ask for.
            Some(_) => {
                let Some(next_version) = next_version else {
                    return Ok(incomplete(
                        "returned a truncated page without NextVersionIdMarker",
                    ));
                };
                if version_marker_sent.as_deref() == Some(next_version) {
                    return Ok(incomplete("returned the same page marker twice"));
                }
                key_marker = Some(key.to_owned());
                version_marker = Some(next_version.to_owned());
                version_marker_sent = version_marker.clone();
            }
            None => {
                return Ok(incomplete(
                    "returned a truncated page without NextKeyMarker",
                ));
            }
        }
    }
    Ok(KeyListing::Complete(found))
}
