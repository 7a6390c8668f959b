//! The distribution's free room, from CloudFront itself: ListInvalidations for what is in
//! progress, GetInvalidation for how many file paths and wildcards each holds.
//!
//! ListInvalidations returns the most recent first. An invalidation stays in progress for
//! minutes, so paging stops at the first page that holds neither an invalidation in progress
//! nor one created within [`RECENT`]: older pages are history (a distribution keeps two billing
//! periods of it). What this counts can be stale by the time the plan is sent, and another
//! dispatcher instance may be planning at the same moment: CloudFront's own refusal
//! (`TooManyInvalidationsInProgress`) arbitrates, and the refused plan's messages come back.

use aws_sdk_cloudfront::Client;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream};

use crate::TaskError;
use crate::aws_errors::classify;
use crate::paths::is_wildcard;

/// How far back paging keeps looking for invalidations in progress.
pub const RECENT: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// CloudFront's status of an invalidation that has not finished.
pub const IN_PROGRESS: &str = "InProgress";

/// GetInvalidation calls in flight at once.
const CONCURRENT_GETS: usize = 8;

/// What is in progress on a distribution now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InProgress {
    pub invalidations: usize,
    pub paths: usize,
    pub wildcards: usize,
}

/// Counts the invalidations in progress on `distribution_id` and the paths they hold.
pub async fn in_progress(
    client: &Client,
    distribution_id: &str,
    now: DateTime<Utc>,
) -> Result<InProgress, TaskError> {
    let mut ids = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = client
            .list_invalidations()
            .distribution_id(distribution_id)
            .set_marker(marker.take())
            .max_items(100)
            .send()
            .await
            .map_err(|e| classify("cloudfront", &e))?;
        let Some(list) = page.invalidation_list() else {
            break;
        };
        let mut recent = false;
        for item in list.items() {
            let created = DateTime::from_timestamp(item.create_time().secs(), 0).unwrap_or(now);
            if item.status() == IN_PROGRESS {
                ids.push(item.id().to_owned());
                recent = true;
            } else if now - created < RECENT {
                recent = true;
            }
        }
        match list.next_marker() {
            Some(next) if list.is_truncated() && recent => marker = Some(next.to_owned()),
            _ => break,
        }
    }
    // Owned ids: a borrowing closure would make the future not Send (the local runner spawns
    // the dispatcher on a task of its own).
    let counts: Vec<(usize, usize)> = stream::iter(ids)
        .map(|id| async move { paths_of(client, distribution_id, &id).await })
        .buffer_unordered(CONCURRENT_GETS)
        .try_collect()
        .await?;
    Ok(InProgress {
        invalidations: counts.len(),
        paths: counts.iter().map(|(paths, _)| paths).sum(),
        wildcards: counts.iter().map(|(_, wildcards)| wildcards).sum(),
    })
}

/// The file paths and wildcards of one invalidation; (0, 0) once it has completed since it
/// was listed.
async fn paths_of(
    client: &Client,
    distribution_id: &str,
    id: &str,
) -> Result<(usize, usize), TaskError> {
    let got = client
        .get_invalidation()
        .distribution_id(distribution_id)
        .id(id)
        .send()
        .await
        .map_err(|e| classify("cloudfront", &e))?;
    let Some(invalidation) = got.invalidation() else {
        return Ok((0, 0));
    };
    if invalidation.status() != IN_PROGRESS {
        return Ok((0, 0));
    }
    let items = invalidation
        .invalidation_batch()
        .and_then(|batch| batch.paths())
        .map(|paths| paths.items())
        .unwrap_or_default();
    let wildcards = items.iter().filter(|p| is_wildcard(p)).count();
    Ok((items.len() - wildcards, wildcards))
}
