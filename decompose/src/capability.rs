//! Which capability a leaf needs, decided by deterministic keyword rules ([`crate::rules`]).
//!
//! Deterministic on purpose: the same plan always maps the same way, a reviewer can read the
//! evidence and see why, and no model or network is needed at import time. The title counts
//! fully, the description at 0.4 and `resources_needed` at 0.2, because PlanExe titles say what
//! the step *is* while descriptions wander. The score is high when the winner is strong and
//! clearly ahead of the runner-up; below a floor nothing fits and the leaf goes to a person.

use planexec_schemas::agent::capability::HUMAN_REVIEW;
use planexec_schemas::plan::CapabilityChoice;

use crate::rules::{CANDIDATES, Pattern, RULES, Rule};

/// Weight of a match by where it was found.
const TITLE: f64 = 1.0;
const DESCRIPTION: f64 = 0.4;
const RESOURCES: f64 = 0.2;
/// Below this total weight no capability is taken to fit (one description-only keyword of
/// weight 3 passes: 3 × 0.4 = 1.2).
pub const FLOOR: f64 = 1.0;
/// Total weight at which the strength reaches 1 − 1/e ≈ 0.63.
const SCALE: f64 = 2.0;
/// Endings that still mean the same word: `calls`, `emailed`, `interviewer`, `interviewee`.
const ENDINGS: [&str; 9] = ["s", "es", "ed", "d", "ing", "er", "ers", "ee", "ees"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    Title,
    Description,
    Resources,
}

impl Field {
    fn weight(self) -> f64 {
        match self {
            Field::Title => TITLE,
            Field::Description => DESCRIPTION,
            Field::Resources => RESOURCES,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Description => "description",
            Field::Resources => "resources",
        }
    }
}

struct Hit {
    capability: &'static str,
    field: Field,
    /// The matched words: one phrase, or the two words of a pair.
    words: Vec<String>,
    weight: f64,
}

/// Picks the capability for a leaf from its text. `chosen_by` is `auto`.
pub fn map_capability(title: &str, description: &str, resources: &[String]) -> CapabilityChoice {
    let fields: Vec<(Field, Vec<Vec<String>>)> = vec![
        (Field::Title, vec![tokens(title)]),
        (Field::Description, vec![tokens(description)]),
        (
            Field::Resources,
            resources.iter().map(|r| tokens(r)).collect(),
        ),
    ];
    let mut hits = Vec::new();
    for rule in RULES {
        for (field, segments) in &fields {
            if let Some(words) = segments.iter().find_map(|s| matches(rule, s)) {
                hits.push(Hit {
                    capability: rule.capability,
                    field: *field,
                    words,
                    weight: rule.weight * field.weight(),
                });
            }
        }
    }
    let total = |c: &str| {
        hits.iter()
            .filter(|h| h.capability == c)
            .map(|h| h.weight)
            .sum::<f64>()
    };
    let mut ranked: Vec<(&str, f64)> = CANDIDATES.iter().map(|c| (*c, total(c))).collect();
    // Stable sort: equal totals keep CANDIDATES order, so a tie goes to human_review.
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (winner, best) = ranked[0];
    let (runner_up, second) = ranked[1];
    if best < FLOOR {
        let evidence = if best > 0.0 {
            format!(
                "no capability fits: the strongest hint is {winner} with weight {best:.1}, below {FLOOR:.1} ({})",
                evidence(&hits, winner)
            )
        } else {
            "no capability fits: no capability keyword in the title or description".to_owned()
        };
        return choice(HUMAN_REVIEW, 0.0, evidence);
    }
    let strength = 1.0 - (-best / SCALE).exp();
    let margin = (best - second) / best;
    let score = strength * (0.5 + 0.5 * margin);
    let mut evidence = evidence(&hits, winner);
    if winner == HUMAN_REVIEW {
        evidence = format!("work for a person: {evidence}");
    }
    if second > 0.0 {
        evidence.push_str(&format!(
            "; runner-up: {runner_up} {second:.1} vs {best:.1}"
        ));
    }
    choice(winner, score, evidence)
}

fn choice(capability: &str, score: f64, evidence: String) -> CapabilityChoice {
    CapabilityChoice {
        capability: capability.to_owned(),
        match_score: (score * 1000.0).round() / 1000.0,
        evidence,
        chosen_by: "auto".to_owned(),
    }
}

/// `title: "interview"; description: "questions", "breeders"`
fn evidence(hits: &[Hit], capability: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for field in [Field::Title, Field::Description, Field::Resources] {
        let mut words: Vec<String> = Vec::new();
        for h in hits
            .iter()
            .filter(|h| h.capability == capability && h.field == field)
        {
            let quoted: Vec<String> = h.words.iter().map(|w| format!("{w:?}")).collect();
            let quoted = quoted.join(" + ");
            if !words.contains(&quoted) {
                words.push(quoted);
            }
        }
        if !words.is_empty() {
            parts.push(format!("{}: {}", field.label(), words.join(", ")));
        }
    }
    parts.join("; ")
}

/// Lower-case words; anything but letters and digits separates them, so `e-mail` is `e mail`.
fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The matched words, when the rule matches these tokens.
fn matches(rule: &Rule, tokens: &[String]) -> Option<Vec<String>> {
    match rule.pattern {
        Pattern::Phrase(phrase) => {
            let words: Vec<&str> = phrase.split(' ').collect();
            tokens
                .windows(words.len())
                .find(|w| w.iter().zip(&words).all(|(t, word)| same_word(t, word)))
                .map(|w| vec![w.join(" ")])
        }
        Pattern::Pair(verbs, objects) => {
            let find = |list: &[&str]| tokens.iter().find(|t| list.iter().any(|w| same_word(t, w)));
            Some(vec![find(verbs)?.clone(), find(objects)?.clone()])
        }
    }
}

/// Whole-word match allowing common endings: `call` matches `calls`, never `recall`.
fn same_word(token: &str, word: &str) -> bool {
    if token == word {
        return true;
    }
    if let Some(rest) = token.strip_prefix(word) {
        return ENDINGS.contains(&rest);
    }
    if let Some(stem) = word.strip_suffix('e')
        && let Some(rest) = token.strip_prefix(stem)
    {
        return rest == "ing";
    }
    if let Some(stem) = word.strip_suffix('y')
        && let Some(rest) = token.strip_prefix(stem)
    {
        return rest == "ies" || rest == "ied";
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflections_match_and_embedded_words_do_not() {
        assert!(same_word("calls", "call"));
        assert!(same_word("scheduling", "schedule"));
        assert!(same_word("summaries", "summary"));
        assert!(same_word("interviewee", "interview"));
        assert!(!same_word("recall", "call"));
        assert!(!same_word("mapping", "map"));
        assert!(!same_word("findings", "find"));
    }
}
