//! How sure we are that a leaf can run unattended, 0..1 (formula in `docs/decomposition.md`).
//!
//! ```text
//! confidence = 0.60 · mapping + 0.20 · description + 0.10 · duration + 0.10 · dependencies
//! mapping      = match_score of the capability, 0 when it is human_review
//! description  = min(1, words in the description / 20)
//! duration     = 1 when the leaf's task has a duration estimate, else 0
//! dependencies = 1 when the plan's dependencies were analysed and none of the leaf's task
//!                was reinterpreted as containment, else 0
//! ```
//!
//! The mapping dominates because a wrong capability sends the work to the wrong agent; the
//! rest measures how much the planner told us, which is what an agent has to work from.

use planexec_schemas::agent::capability::HUMAN_REVIEW;
use planexec_schemas::plan::CapabilityChoice;

pub const MAPPING_WEIGHT: f64 = 0.60;
pub const DESCRIPTION_WEIGHT: f64 = 0.20;
pub const DURATION_WEIGHT: f64 = 0.10;
pub const DEPENDENCIES_WEIGHT: f64 = 0.10;
/// A description this long (in words) says enough for an agent to act on.
pub const FULL_DESCRIPTION_WORDS: usize = 20;

/// What the confidence of one leaf is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ConfidenceInputs {
    /// The capability's `match_score`, 0..1.
    pub match_score: f64,
    /// The leaf maps to `human_review`: no agent can do it, so the mapping counts for nothing.
    pub needs_person: bool,
    /// Words in the leaf's description (its title excluded).
    pub description_words: usize,
    /// The leaf's task has a duration estimate (at least one of min, realistic, max).
    pub has_duration: bool,
    /// Dependencies were analysed for the plan (a dependency file in the run, or a plan
    /// document, whose author states dependencies explicitly) and none that the leaf's task
    /// was declared to have was dropped as containment (then what the planner said about its
    /// order was not an order).
    pub dependencies_analysed: bool,
}

impl ConfidenceInputs {
    pub fn for_leaf(
        choice: &CapabilityChoice,
        description: &str,
        has_duration: bool,
        dependencies_analysed: bool,
    ) -> Self {
        Self {
            match_score: choice.match_score,
            needs_person: choice.capability == HUMAN_REVIEW,
            description_words: description.split_whitespace().count(),
            has_duration,
            dependencies_analysed,
        }
    }
}

/// The confidence of one leaf, in 0..1, rounded to three decimals.
pub fn compute_confidence(inputs: &ConfidenceInputs) -> f64 {
    let mapping = if inputs.needs_person || !inputs.match_score.is_finite() {
        0.0
    } else {
        inputs.match_score.clamp(0.0, 1.0)
    };
    let description = (inputs.description_words as f64 / FULL_DESCRIPTION_WORDS as f64).min(1.0);
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let confidence = MAPPING_WEIGHT * mapping
        + DESCRIPTION_WEIGHT * description
        + DURATION_WEIGHT * flag(inputs.has_duration)
        + DEPENDENCIES_WEIGHT * flag(inputs.dependencies_analysed);
    round3(confidence.clamp(0.0, 1.0))
}

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_worked_example_holds() {
        let inputs = ConfidenceInputs {
            match_score: 0.8,
            needs_person: false,
            description_words: 10,
            has_duration: true,
            dependencies_analysed: false,
        };
        // 0.6 · 0.8 + 0.2 · 0.5 + 0.1 · 1 + 0.1 · 0 = 0.68
        assert_eq!(compute_confidence(&inputs), 0.68);
    }

    #[test]
    fn a_person_leaf_scores_only_what_the_planner_told_us() {
        let inputs = ConfidenceInputs {
            match_score: 0.9,
            needs_person: true,
            description_words: 40,
            has_duration: true,
            dependencies_analysed: true,
        };
        assert_eq!(compute_confidence(&inputs), 0.4);
    }

    #[test]
    fn confidence_stays_in_range_for_nonsense_inputs() {
        for score in [f64::NAN, -3.0, 7.0, f64::INFINITY] {
            let c = compute_confidence(&ConfidenceInputs {
                match_score: score,
                ..Default::default()
            });
            assert!((0.0..=1.0).contains(&c), "{score} gave {c}");
        }
    }
}
