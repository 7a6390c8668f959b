//! The random numbers an execution's expressions draw: `States.MathRandom` (without its own
//! seed), `States.UUID()`, JSONata's `$random()` (without a seed) and `$uuid()`.
//!
//! AWS's values cannot be reproduced by anyone, so what matters locally is that a run is
//! reproducible: every execution draws from one [`RandomSource`] seeded from
//! [`ExecutionOptions::seed`](crate::execution::ExecutionOptions::seed), in the order the
//! states evaluate their expressions (which the engine fixes). The same definition, input and
//! seed give the same numbers and UUIDs.
//!
//! A `RandomSource` is a cheap handle (an `Arc`) so JSONata host functions, which must be
//! `'static`, can own a clone of it.

use std::sync::{Arc, Mutex, PoisonError};

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

/// A shared, seedable random number generator.
#[derive(Debug, Clone)]
pub struct RandomSource {
    rng: Arc<Mutex<StdRng>>,
}

impl RandomSource {
    /// A source whose sequence is fixed by `seed`.
    pub fn seeded(seed: u64) -> Self {
        Self {
            rng: Arc::new(Mutex::new(StdRng::seed_from_u64(seed))),
        }
    }

    /// A source seeded from the operating system: for evaluations outside an execution (unit
    /// tests, tools) that did not ask for reproducibility.
    pub fn from_entropy() -> Self {
        Self {
            rng: Arc::new(Mutex::new(StdRng::from_os_rng())),
        }
    }

    fn with_rng<T>(&self, f: impl FnOnce(&mut StdRng) -> T) -> T {
        // A panic while the lock was held cannot leave a StdRng half-updated in a way that
        // matters here: keep drawing from it.
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut rng)
    }

    /// A number in `[0, 1)`.
    pub fn unit_f64(&self) -> f64 {
        self.with_rng(|rng| rng.random::<f64>())
    }

    /// An integer in `[start, end)`; `start` when the range is empty.
    pub fn integer_in(&self, start: i64, end: i64) -> i64 {
        if start >= end {
            return start;
        }
        self.with_rng(|rng| rng.random_range(start..end))
    }

    /// A random (version 4) UUID in its hyphenated lowercase form.
    pub fn uuid_v4(&self) -> String {
        let bytes: [u8; 16] = self.with_rng(|rng| rng.random());
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    }
}

impl Default for RandomSource {
    fn default() -> Self {
        Self::from_entropy()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let (a, b) = (RandomSource::seeded(7), RandomSource::seeded(7));
        for _ in 0..5 {
            assert_eq!(a.unit_f64().to_bits(), b.unit_f64().to_bits());
            assert_eq!(a.integer_in(-10, 10), b.integer_in(-10, 10));
            assert_eq!(a.uuid_v4(), b.uuid_v4());
        }
        let c = RandomSource::seeded(8);
        let firsts: Vec<String> = (0..3).map(|_| RandomSource::seeded(7).uuid_v4()).collect();
        assert!(firsts.iter().all(|u| *u == firsts[0]));
        assert_ne!(c.uuid_v4(), firsts[0], "another seed, another UUID");
    }

    #[test]
    fn values_stay_in_range_and_uuids_are_version_4() {
        let source = RandomSource::seeded(1);
        for _ in 0..200 {
            let f = source.unit_f64();
            assert!((0.0..1.0).contains(&f));
            let n = source.integer_in(3, 6);
            assert!((3..6).contains(&n));
        }
        assert_eq!(source.integer_in(5, 5), 5, "an empty range gives its start");
        let parsed = uuid::Uuid::parse_str(&source.uuid_v4()).expect("a valid UUID");
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
    }

    #[test]
    fn clones_share_one_sequence() {
        let a = RandomSource::seeded(3);
        let b = a.clone();
        let reference = RandomSource::seeded(3);
        let first = reference.unit_f64();
        let second = reference.unit_f64();
        assert_eq!(a.unit_f64().to_bits(), first.to_bits());
        assert_eq!(
            b.unit_f64().to_bits(),
            second.to_bits(),
            "a clone continues the sequence"
        );
    }
}
