//! Plausible results of Larry's actions, shaped like what a real assistant would hand back, and
//! drawn from the attempt's [`Chance`] so that a seeded run repeats them.

use planexec_agent_sdk::TaskAssignment;
use serde_json::{Value, json};

use crate::actions::Action;
use crate::chance::Chance;

const KENNELS: [&str; 10] = [
    "Golden Meadow Kennels",
    "Riverbend Retrievers",
    "Oakridge Labradors",
    "Sunny Hill Breeders",
    "Northwind Kennel Club",
    "Maple Lane Puppies",
    "Blue Fjord Retrievers",
    "Willow Creek Kennels",
    "Heathland Labradors",
    "Stonebridge Breeders",
];
const STREETS: [&str; 6] = [
    "Mill Road",
    "Church Lane",
    "Harbour Street",
    "Station Road",
    "Elm Avenue",
    "Park Row",
];
const PEOPLE: [&str; 6] = [
    "Anna Berg",
    "Jonas Lund",
    "Maria Holm",
    "Peter Dahl",
    "Sofie Krog",
    "Erik Vang",
];

/// The output of `action` done for `task`.
pub fn output(action: Action, task: &TaskAssignment, chance: &mut Chance) -> Value {
    let reference = format!("{}-{}", task.wbs, task.attempt);
    match action {
        Action::SendEmail => json!({
            "message_id": format!("<{}.{}@larry.sim>", task.task_id.simple(), task.attempt),
            "to": param(task, "to").unwrap_or_else(|| json!(email_of(chance.pick(&PEOPLE)))),
            "subject": task.title,
            "status": "sent",
        }),
        Action::MakePhoneCall => {
            let person = chance.pick(&PEOPLE);
            json!({
                "call_id": format!("call-{reference}"),
                "spoke_with": person,
                "phone": phone(chance),
                "duration_seconds": chance.between(120, 900),
                "outcome": chance.pick(&["interested", "call back next week", "agreed to a visit"]),
                "notes": format!("{person} answered questions about {}.", task.title.to_lowercase()),
            })
        }
        Action::SearchGoogleMaps => {
            let found = chance.between(3, 6) as usize;
            let results: Vec<Value> = (0..found)
                .map(|i| {
                    json!({
                        "name": KENNELS[(i + chance.between(0, 9) as usize) % KENNELS.len()],
                        "phone": phone(chance),
                        "address": format!("{} {}", chance.between(1, 120), chance.pick(&STREETS)),
                        "rating": f64::from(chance.between(35, 50)) / 10.0,
                    })
                })
                .collect();
            json!({
                "query": param(task, "query").unwrap_or_else(|| json!(task.title)),
                "results": results,
            })
        }
        Action::ScheduleCalendarEvent => json!({
            "event_id": format!("evt-{reference}"),
            "title": task.title,
            "start": (task.dispatched_at + chrono::Duration::days(i64::from(chance.between(1, 14)))).to_rfc3339(),
            "duration_minutes": 30 * chance.between(1, 4),
            "attendees": [email_of(chance.pick(&PEOPLE)), "larry@larry.sim"],
        }),
        Action::ConductInterview => {
            let person = chance.pick(&PEOPLE);
            json!({
                "interviewee": person,
                "duration_minutes": chance.between(30, 60),
                "notes": format!("{person} shared their experience; three follow-up points noted."),
                "follow_ups": chance.between(1, 4),
            })
        }
        Action::DocumentFindings => json!({
            "document": format!("findings-{}.md", task.wbs),
            "summary": format!("Findings of '{}': {} sources reviewed, {} key points, no blockers.",
                task.title, chance.between(3, 12), chance.between(2, 6)),
            "word_count": chance.between(400, 1500),
        }),
        Action::DraftDocument => json!({
            "document": format!("draft-{}.docx", task.wbs),
            "title": task.title,
            "sections": chance.between(3, 8),
            "word_count": chance.between(800, 4000),
        }),
        Action::ManageCsv => json!({
            "file": param(task, "file").unwrap_or_else(|| json!(format!("contacts-{}.csv", task.wbs))),
            "rows": chance.between(12, 480),
            "columns": ["name", "phone", "email", "status"],
        }),
        Action::HumanReview => json!({
            "approved": true,
            "reviewer": "Larry (simulated reviewer)",
            "comments": "Checked against the plan; fine to proceed.",
        }),
    }
}

fn param(task: &TaskAssignment, key: &str) -> Option<Value> {
    task.params.get(key).filter(|v| !v.is_null()).cloned()
}

/// A phone number in the range reserved for fiction (555-01xx).
fn phone(chance: &mut Chance) -> String {
    format!("+1 555-01{:02}", chance.between(0, 99))
}

fn email_of(person: &str) -> String {
    format!("{}@example.org", person.to_lowercase().replace(' ', "."))
}

#[cfg(test)]
mod tests {
    use planexec_schemas::task::RetryPolicy;

    use super::*;

    fn task(capability: &str) -> TaskAssignment {
        TaskAssignment {
            execution_id: planexec_schemas::new_id(),
            task_id: planexec_schemas::new_id(),
            attempt: 1,
            plan_id: planexec_schemas::new_id(),
            wbs: "1.2".into(),
            title: "Find Labrador breeders near Copenhagen".into(),
            description: String::new(),
            capability: capability.into(),
            params: json!({ "query": "labrador breeders copenhagen" }),
            resources_needed: vec![],
            parent: None,
            phase: None,
            timeout_seconds: 3600,
            retry_policy: RetryPolicy {
                max_attempts: 3,
                initial_backoff_seconds: 2.0,
                multiplier: 2.0,
                max_backoff_seconds: 300.0,
            },
            dispatched_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_maps_search_finds_breeders_with_names_and_phones() {
        let task = task("search_google_maps");
        let mut chance = Chance::for_attempt(1, task.task_id, 1);
        let out = output(Action::SearchGoogleMaps, &task, &mut chance);
        assert_eq!(out["query"], "labrador breeders copenhagen");
        let results = out["results"].as_array().expect("a list");
        assert!(results.len() >= 3);
        for breeder in results {
            assert!(breeder["name"].is_string() && breeder["phone"].is_string());
        }
    }

    #[test]
    fn each_action_produces_the_fields_a_reader_expects() {
        let cases = [
            (Action::SendEmail, "message_id"),
            (Action::ManageCsv, "rows"),
            (Action::DocumentFindings, "summary"),
            (Action::MakePhoneCall, "outcome"),
            (Action::ScheduleCalendarEvent, "start"),
            (Action::HumanReview, "approved"),
        ];
        for (action, field) in cases {
            let task = task(action.capability());
            let mut chance = Chance::for_attempt(1, task.task_id, 1);
            let out = output(action, &task, &mut chance);
            assert!(!out[field].is_null(), "{action:?} has no {field}: {out}");
        }
    }

    #[test]
    fn a_seeded_attempt_produces_the_same_output_again() {
        let task = task("make_phone_call");
        let run = || {
            output(
                Action::MakePhoneCall,
                &task,
                &mut Chance::for_attempt(9, task.task_id, 1),
            )
        };
        assert_eq!(run(), run());
    }
}
