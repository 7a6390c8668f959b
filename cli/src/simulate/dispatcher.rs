//! The dispatcher's side of the simulation: the deferral queue as the event source mapping sees
//! it, what one invocation receives, and which pending batches the invalidations CloudFront took
//! cover (checked here, independently of the planner's own answer). The planning itself is the
//! deployed planner's, `purgeflow_tasks::dispatch::plan`.

use std::collections::HashMap;

use purgeflow_tasks::contract::InvalidationBatch;

use super::storm::Micros;

pub use purgeflow_tasks::dispatch::messages::{MAX_EVENT_BYTES, event_is_full};

/// A message's share of the SQS event the dispatcher receives: the record's envelope
/// (messageId, receiptHandle, attributes, md5, source ARN: about 800 bytes), the body's fixed
/// fields (batchId, executionName, executionArn, deferredAt, error, callerReference: about
/// 500 bytes), and each path with its quotes (escaped inside the body string) and comma.
pub fn event_bytes(batch: &InvalidationBatch) -> usize {
    1300 + batch.paths.iter().map(|p| p.len() + 5).sum::<usize>()
}

/// One deferred batch on the queue.
pub struct Message {
    pub batch: InvalidationBatch,
    /// The deletes behind each path of the batch: `covers[spans[j]..spans[j + 1]]` for path `j`.
    pub covers: Vec<u32>,
    pub spans: Vec<u32>,
    pub deferred_at: Micros,
    pub bytes: usize,
    pub receives: u32,
    /// When it last became visible.
    pub visible_since: Micros,
}

/// Which taken invalidation covers a path: the exact paths and the wildcards of a set of
/// invalidations, the wildcards made prefix-free so one binary search finds the covering one.
pub struct Cover {
    exact: HashMap<String, usize>,
    /// (prefix without `*`, invalidation), sorted, no prefix of another.
    wildcards: Vec<(String, usize)>,
}

impl Cover {
    pub fn new(invalidations: &[(usize, &[String])]) -> Cover {
        let mut exact = HashMap::new();
        let mut all: Vec<(String, usize)> = Vec::new();
        for &(index, paths) in invalidations {
            for path in paths {
                match path.strip_suffix('*') {
                    Some(prefix) => all.push((prefix.to_owned(), index)),
                    None => {
                        exact.entry(path.clone()).or_insert(index);
                    }
                }
            }
        }
        all.sort();
        let mut wildcards: Vec<(String, usize)> = Vec::new();
        for (prefix, index) in all {
            if wildcards
                .last()
                .is_none_or(|(last, _)| !prefix.starts_with(last.as_str()))
            {
                wildcards.push((prefix, index));
            }
        }
        Cover { exact, wildcards }
    }

    /// The invalidation that covers `path` (a file path, or a wildcard a broader one contains).
    pub fn find(&self, path: &str) -> Option<usize> {
        let by_wildcard = || {
            let at = self.wildcards.partition_point(|(p, _)| p.as_str() <= path);
            let (prefix, index) = self.wildcards.get(at.checked_sub(1)?)?;
            path.starts_with(prefix.as_str()).then_some(*index)
        };
        match path.strip_suffix('*') {
            Some(_) => by_wildcard(),
            None => self.exact.get(path).copied().or_else(by_wildcard),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[&str]) -> Vec<String> {
        list.iter().map(|p| (*p).to_owned()).collect()
    }

    #[test]
    fn a_path_is_covered_by_its_exact_path_or_the_broadest_wildcard_over_it() {
        let first = paths(&["/photos/u1/p1.jpg", "/photos/u2*"]);
        let second = paths(&["/photos/*", "/photos/u3/p3.jpg", "/thumbs/photos/u12*"]);
        let cover = Cover::new(&[(0, &first), (1, &second)]);
        assert_eq!(cover.find("/photos/u1/p1.jpg"), Some(0), "exact first");
        assert_eq!(
            cover.find("/photos/u2/p9.jpg"),
            Some(1),
            "/photos/* holds /photos/u2*"
        );
        assert_eq!(cover.find("/thumbs/photos/u12/p1.jpg"), Some(1));
        assert_eq!(cover.find("/thumbs/photos/u1/p1.jpg"), None);
        assert_eq!(
            cover.find("/thumbs/photos/u123*"),
            Some(1),
            "a narrower wildcard"
        );
        assert_eq!(
            cover.find("/thumbs/photos/u1*"),
            None,
            "a broader wildcard is not covered"
        );
        assert_eq!(cover.find("/other.jpg"), None);
    }

    #[test]
    fn the_event_size_grows_with_the_paths() {
        let batch = |n: usize| InvalidationBatch {
            distribution_id: "E".to_owned(),
            caller_reference: "r".to_owned(),
            paths: (0..n).map(|i| format!("/photos/u{i}/p{i}.jpg")).collect(),
        };
        assert!(event_bytes(&batch(0)) >= 1000);
        assert!(event_bytes(&batch(1000)) > event_bytes(&batch(0)) + 1000 * 20);
    }
}
