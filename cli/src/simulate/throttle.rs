//! CreateInvalidation's call-rate throttle: a token bucket per account.
//!
//! AWS publishes no rate for CreateInvalidation. The only figure on record is an AWS SDK
//! maintainer's, relaying the CloudFront team (aws/aws-sdk-js#3983, 2022-09-07): "The default
//! CreateInvalidation rate limit is 0.5", keyed `Operation:CreateInvalidation,aws-account:...`,
//! that is per account and per operation, with no unit and no burst given. The simulation reads
//! it as 0.5 calls a second. The reporter of that issue was throttled after "no more than 15
//! single file invalidation requests in a row", so the burst is taken as 10. Both are
//! assumptions, and flags (`--create-rate`, `--create-burst`).
//!
//! Every call takes a token if there is one, refused or not: the throttle sits in front of
//! CloudFront's in-progress check, so a call that ends in TooManyInvalidationsInProgress still
//! spent its token. A throttled call spends none.

use super::storm::{Micros, SECOND};

#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// Tokens a second; 0 or less: no throttle.
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Micros,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: f64) -> TokenBucket {
        let burst = burst.max(1.0);
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: 0,
        }
    }

    /// Whether a call at `now` gets through (and takes its token).
    pub fn try_take(&mut self, now: Micros) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let elapsed = now.saturating_sub(self.last) as f64 / SECOND as f64;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = self.last.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_lets_the_burst_through_then_the_rate() {
        let mut bucket = TokenBucket::new(0.5, 10.0);
        let burst = (0..20).filter(|_| bucket.try_take(0)).count();
        assert_eq!(burst, 10);
        // 0.5 a second: one more token after 2 s, none after 1.9 s.
        assert!(!bucket.try_take(SECOND * 19 / 10));
        assert!(bucket.try_take(2 * SECOND));
        assert!(!bucket.try_take(2 * SECOND));
        // Over 100 s at most 50 calls get through, however hard they knock.
        let through = (0..10_000)
            .filter(|i| bucket.try_take(2 * SECOND + i * SECOND / 100))
            .count();
        assert!((49..=50).contains(&through), "{through}");
    }

    #[test]
    fn the_bucket_never_holds_more_than_the_burst() {
        let mut bucket = TokenBucket::new(0.5, 3.0);
        let through = (0..10).filter(|_| bucket.try_take(3600 * SECOND)).count();
        assert_eq!(through, 3);
    }

    #[test]
    fn rate_zero_is_no_throttle() {
        let mut bucket = TokenBucket::new(0.0, 1.0);
        assert!((0..1000).all(|_| bucket.try_take(0)));
    }
}
