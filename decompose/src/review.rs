//! Whether a decomposed plan may start on its own, and if not, why a person should look.
//!
//! The plan's confidence is the mean of its leaves' confidences: every leaf is a unit of work
//! handed to an agent, so each counts the same, whatever task it belongs to. Below
//! [`REVIEW_THRESHOLD`] the plan waits for an operator, with one reason per line. Problems of
//! the input that were tolerated (dependencies a lenient import dropped) make it wait too,
//! whatever its confidence.

use planexec_schemas::agent::capability::HUMAN_REVIEW;
use planexec_schemas::plan::PlanStatus;

use crate::confidence::{FULL_DESCRIPTION_WORDS, round3};
use crate::model::{Leaf, REVIEW_THRESHOLD};

/// A leaf's confidence is weak below this mapping score.
const WEAK_MATCH: f64 = 0.5;

/// What the review needs to know about one leaf besides its [`Leaf`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct LeafFacts<'a> {
    pub leaf: &'a Leaf,
    pub description_words: usize,
}

/// What the review needs to know about the plan.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlanFacts {
    pub tasks: usize,
    pub tasks_without_duration: usize,
    pub dependencies_analysed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verdict {
    pub confidence: f64,
    pub status: PlanStatus,
    pub reasons: Vec<String>,
}

/// `problems`: reasons from the import that force a review; they follow the confidence
/// reasons (which only appear below the threshold).
pub(crate) fn review(leaves: &[LeafFacts<'_>], plan: PlanFacts, problems: Vec<String>) -> Verdict {
    let n = leaves.len();
    let confidence = if n == 0 {
        0.0
    } else {
        round3(leaves.iter().map(|l| l.leaf.confidence).sum::<f64>() / n as f64)
    };
    if confidence >= REVIEW_THRESHOLD {
        let status = if problems.is_empty() {
            PlanStatus::Ready
        } else {
            PlanStatus::NeedsReview
        };
        return Verdict {
            confidence,
            status,
            reasons: problems,
        };
    }
    let mut reasons = vec![format!(
        "confidence {confidence:.2} is below {REVIEW_THRESHOLD:.2}"
    )];
    let count = |f: &dyn Fn(&LeafFacts<'_>) -> bool| leaves.iter().filter(|l| f(l)).count();
    let person = count(&|l| l.leaf.capability.capability == HUMAN_REVIEW);
    if person > 0 {
        reasons.push(format!(
            "{person} of {n} leaves need a person ({HUMAN_REVIEW})"
        ));
    }
    let weak = count(&|l| {
        l.leaf.capability.capability != HUMAN_REVIEW && l.leaf.capability.match_score < WEAK_MATCH
    });
    if weak > 0 {
        reasons.push(format!(
            "{weak} of {n} leaves match their capability only weakly (score below {WEAK_MATCH:.2})"
        ));
    }
    let short = count(&|l| l.description_words < FULL_DESCRIPTION_WORDS);
    if short > 0 {
        reasons.push(format!(
            "{short} of {n} leaves have a description shorter than {FULL_DESCRIPTION_WORDS} words"
        ));
    }
    if plan.tasks_without_duration > 0 {
        reasons.push(format!(
            "{} of {} tasks have no duration estimate",
            plan.tasks_without_duration, plan.tasks
        ));
    }
    if !plan.dependencies_analysed {
        reasons.push("dependencies were not analysed: tasks run in WBS order".to_owned());
    }
    reasons.extend(problems);
    Verdict {
        confidence,
        status: PlanStatus::NeedsReview,
        reasons,
    }
}
