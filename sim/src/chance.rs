//! Randomness that a seed makes repeatable, whatever order tasks run in.
//!
//! Each attempt of each task draws from its own generator, seeded from the run's seed, the task
//! id and the attempt number: with several tasks running at once, who draws first does not
//! change what any of them gets. Without a seed the run's seed is random.

use planexec_schemas::Id;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The draws of one attempt.
#[derive(Debug)]
pub struct Chance {
    rng: StdRng,
}

impl Chance {
    /// The generator of `attempt` of `task` in a run seeded with `seed`.
    pub fn for_attempt(seed: u64, task: Id, attempt: u32) -> Self {
        let (high, low) = task.as_u64_pair();
        let mixed = mix(mix(mix(seed) ^ high) ^ low) ^ u64::from(attempt);
        Self {
            rng: StdRng::seed_from_u64(mix(mixed)),
        }
    }

    /// True with probability `p` (clamped to 0..1).
    pub fn happens(&mut self, p: f64) -> bool {
        let p = if p.is_finite() {
            p.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.rng.random::<f64>() < p
    }

    /// A factor around 1 (0.7 to 1.3): real actions never take exactly their typical time.
    pub fn spread(&mut self) -> f64 {
        self.rng.random_range(0.7..=1.3)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u32, high: u32) -> u32 {
        self.rng.random_range(low..=high.max(low))
    }

    /// One of `items` (which must not be empty).
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self
            .rng
            .random_range(0..items.len().max(1))
            .min(items.len() - 1)]
    }
}

/// A fresh random seed, for runs without one.
pub fn random_seed() -> u64 {
    rand::rng().random()
}

/// SplitMix64: spreads nearby inputs (attempt 1, attempt 2) far apart.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_task_and_attempt_draw_the_same_numbers() {
        let task = planexec_schemas::new_id();
        let draws = |seed, attempt| {
            let mut chance = Chance::for_attempt(seed, task, attempt);
            (0..8).map(|_| chance.between(0, 1000)).collect::<Vec<_>>()
        };
        assert_eq!(draws(7, 1), draws(7, 1));
        assert_ne!(draws(7, 1), draws(7, 2), "another attempt, other luck");
        assert_ne!(draws(7, 1), draws(8, 1), "another seed, other luck");
    }

    #[test]
    fn a_failure_rate_is_honoured_over_many_attempts() {
        let task = planexec_schemas::new_id();
        let failures = (1..=2000)
            .filter(|attempt| Chance::for_attempt(42, task, *attempt).happens(0.25))
            .count();
        assert!((400..600).contains(&failures), "{failures} of 2000");
        assert!(!Chance::for_attempt(1, task, 1).happens(0.0));
        assert!(Chance::for_attempt(1, task, 1).happens(1.0));
    }
}
