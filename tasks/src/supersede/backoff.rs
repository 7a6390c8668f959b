//! How long to wait before asking again for keys BatchGetItem left unprocessed: exponential
//! backoff with full jitter (sleep a uniformly random time up to the capped exponential), within
//! a bounded number of retries and a bounded total time. See the module docs of
//! [`crate::supersede`] for the chosen numbers.

use std::hash::BuildHasher;
use std::time::Duration;

/// The retry budget for unprocessed keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The cap of the first retry's delay; each retry doubles it.
    pub base: Duration,
    /// No single delay is longer.
    pub max_delay: Duration,
    /// Rounds of BatchGetItem after the first.
    pub max_retries: u32,
    /// No retry starts once this much time has passed since the check began.
    pub max_elapsed: Duration,
}

impl Backoff {
    /// The delay before retry `retry` (0-based), for a `unit` drawn uniformly from [0, 1).
    pub fn delay(&self, retry: u32, unit: f64) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_delay);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// The longest all retries can sleep: every delay at its ceiling.
    pub fn worst_case_sleep(&self) -> Duration {
        (0..self.max_retries)
            .map(|retry| self.delay(retry, 1.0))
            .sum()
    }
}

/// A uniform draw from [0, 1) for the jitter.
///
/// Full jitter is there to spread concurrent executions apart, so it must differ between Lambda
/// instances; it need not be unpredictable. std's `RandomState` is seeded from the OS's
/// randomness once per thread and then stepped for every new instance, so hashing with a fresh
/// one gives an independent draw each time without adding a random-number crate to the Lambda.
pub fn jitter_unit() -> f64 {
    let bits = std::hash::RandomState::new().hash_one(0u8);
    // The top 53 bits fill an f64's mantissa exactly: uniform over [0, 1).
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Backoff = Backoff {
        base: Duration::from_millis(100),
        max_delay: Duration::from_secs(2),
        max_retries: 6,
        max_elapsed: Duration::from_secs(10),
    };

    #[test]
    fn delays_double_up_to_the_cap_and_jitter_scales_them() {
        let ceilings: Vec<u128> = (0..8).map(|r| POLICY.delay(r, 1.0).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 2000, 2000, 2000]);
        assert_eq!(POLICY.delay(3, 0.5), Duration::from_millis(400));
        assert_eq!(POLICY.delay(3, 0.0), Duration::ZERO);
        assert_eq!(POLICY.delay(u32::MAX, 1.0), Duration::from_secs(2));
        assert_eq!(POLICY.worst_case_sleep(), Duration::from_millis(5100));
    }

    #[test]
    fn jitter_is_a_spread_of_units() {
        let draws: Vec<f64> = (0..64).map(|_| jitter_unit()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)), "{draws:?}");
        let distinct: std::collections::BTreeSet<u64> = draws.iter().map(|u| u.to_bits()).collect();
        assert!(distinct.len() > 60, "draws repeat: {draws:?}");
        let low = draws.iter().filter(|u| **u < 0.5).count();
        assert!((8..=56).contains(&low), "{low} of 64 below 0.5");
    }
}
