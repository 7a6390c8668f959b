//! CloudFront as the storm meets it: per distribution at most 3,000 file paths and 15 wildcard
//! paths in progress; a request that would pass either is refused whole with
//! `TooManyInvalidationsInProgress`.

use purgeflow_tasks::paths::{CLOUDFRONT_MAX_PATHS_PER_BATCH, CLOUDFRONT_MAX_WILDCARD_PATHS};
use purgeflow_tasks::pressure::count;

use super::storm::Micros;

/// What is in progress, and how full it has been.
#[derive(Debug, Default)]
pub struct Distribution {
    pub files: usize,
    pub wildcards: usize,
    pub peak_files: usize,
    pub peak_wildcards: usize,
    /// Time-weighted sums of `files` and `wildcards` (path-microseconds), for the means.
    files_area: u128,
    wildcards_area: u128,
    last_change: Micros,
    /// (time, files, wildcards) after every change: the occupancy curve.
    pub timeline: Vec<(Micros, usize, usize)>,
}

impl Distribution {
    /// Takes the request if it fits, as CloudFront would; `false` is TooManyInvalidationsInProgress.
    pub fn try_start(&mut self, now: Micros, paths: &[String]) -> bool {
        let (files, wildcards) = count(paths);
        if self.files + files > CLOUDFRONT_MAX_PATHS_PER_BATCH
            || self.wildcards + wildcards > CLOUDFRONT_MAX_WILDCARD_PATHS
        {
            return false;
        }
        self.advance(now);
        self.files += files;
        self.wildcards += wildcards;
        self.peak_files = self.peak_files.max(self.files);
        self.peak_wildcards = self.peak_wildcards.max(self.wildcards);
        self.timeline.push((now, self.files, self.wildcards));
        true
    }

    /// An invalidation of `paths` completed.
    pub fn complete(&mut self, now: Micros, paths: &[String]) {
        let (files, wildcards) = count(paths);
        self.advance(now);
        self.files -= files;
        self.wildcards -= wildcards;
        self.timeline.push((now, self.files, self.wildcards));
    }

    fn advance(&mut self, now: Micros) {
        let span = u128::from(now.saturating_sub(self.last_change));
        self.files_area += span * self.files as u128;
        self.wildcards_area += span * self.wildcards as u128;
        self.last_change = now;
    }

    /// Mean file paths and wildcard paths in progress from 0 to `until`.
    pub fn means(&mut self, until: Micros) -> (f64, f64) {
        self.advance(until);
        if until == 0 {
            return (0.0, 0.0);
        }
        (
            self.files_area as f64 / until as f64,
            self.wildcards_area as f64 / until as f64,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(files: usize, wildcards: usize) -> Vec<String> {
        (0..files)
            .map(|i| format!("/f{i}"))
            .chain((0..wildcards).map(|i| format!("/d{i}/*")))
            .collect()
    }

    #[test]
    fn exactly_the_limit_is_taken_and_one_more_path_is_refused() {
        let mut cf = Distribution::default();
        assert!(cf.try_start(0, &paths(2000, 10)));
        assert!(cf.try_start(1, &paths(1000, 5)), "exactly 3000 and 15");
        assert!(!cf.try_start(2, &paths(1, 0)), "one file over");
        assert!(!cf.try_start(2, &paths(0, 1)), "one wildcard over");
        cf.complete(3, &paths(1000, 5));
        assert!(cf.try_start(4, &paths(1000, 0)));
        assert_eq!((cf.peak_files, cf.peak_wildcards), (3000, 15));
    }

    #[test]
    fn the_means_weigh_by_time() {
        let mut cf = Distribution::default();
        assert!(cf.try_start(0, &paths(100, 2)));
        cf.complete(10, &paths(100, 2));
        assert_eq!(cf.means(20), (50.0, 1.0));
    }
}
