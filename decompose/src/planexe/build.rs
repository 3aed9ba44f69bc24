//! Turns the pieces read from a PlanExe run into a [`PlanDocument`], our own plan format.
//!
//! PlanExe ids become the document's keys, so dependencies, traceability and error messages
//! keep speaking PlanExe's language. Text that does not fit the document's limits is repaired
//! here (missing titles, over-long titles) and the repairs are counted for a warning, because
//! a real run should import even when a language model wrote an odd field.

use planexec_schemas::plan::{
    DocumentPhase, DocumentSubtask, DocumentTask, DurationDays, PlanDocument, PlanSource,
    PlanSourceKind,
};
use planexec_schemas::validate::limits;
use serde_json::Value;

use super::durations::Durations;
use super::links::Dependencies;
use super::wbs::{Node, RawSubtask, RawTask, Tree};

/// Repairs made to fit the document's limits, for one warning line.
#[derive(Debug, Default)]
pub(crate) struct Repairs {
    pub missing_titles: u32,
    pub long_titles: u32,
}

impl Repairs {
    pub fn warning(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.missing_titles > 0 {
            parts.push(format!(
                "{} had no title and got a placeholder",
                self.missing_titles
            ));
        }
        if self.long_titles > 0 {
            parts.push(format!(
                "{} had a title over {} characters, shortened (the full text is in the description)",
                self.long_titles,
                limits::NAME
            ));
        }
        (!parts.is_empty()).then(|| format!("phases, tasks or subtasks: {}", parts.join("; ")))
    }
}

pub(crate) struct Inputs<'a> {
    pub tree: &'a Tree,
    pub dependencies: &'a Dependencies,
    pub durations: &'a Durations,
    /// The run's name, for `source.reference` and as a last-resort title.
    pub reference: &'a str,
    /// The user's goal, from `-plan.txt`.
    pub goal: Option<&'a str>,
}

pub(crate) fn document(inputs: &Inputs<'_>, repairs: &mut Repairs) -> PlanDocument {
    let tree = inputs.tree;
    let fallback_title = inputs.reference.trim_end_matches(".zip").to_owned();
    let (title, _) = fit_title(tree.project.title.as_deref(), || fallback_title, repairs);
    let mut description = inputs.goal.unwrap_or_default().to_owned();
    if let Some(deliverable) = tree
        .project
        .deliverable
        .as_deref()
        .filter(|d| !d.is_empty())
    {
        if !description.is_empty() {
            description.push_str("\n\n");
        }
        description.push_str("Final deliverable: ");
        description.push_str(deliverable);
    }
    let phases = tree
        .phases
        .iter()
        .enumerate()
        .map(|(p, phase)| {
            let (title, extra) = fit_title(
                phase.title.as_deref(),
                || format!("Phase {}", p + 1),
                repairs,
            );
            DocumentPhase {
                key: Some(phase.id.clone()),
                title,
                description: extra.unwrap_or_default(),
                duration_days: inputs.durations.by_node.get(&Node::Phase(p)).copied(),
                tasks: phase
                    .tasks
                    .iter()
                    .enumerate()
                    .map(|(t, task)| self::task(inputs, (p, t), task, repairs))
                    .collect(),
            }
        })
        .collect();
    PlanDocument {
        title,
        description: clip(&description, limits::TEXT),
        source: PlanSource {
            kind: Some(PlanSourceKind::Planexe),
            reference: Some(inputs.reference.to_owned()),
            planexe_project_id: tree.project.id.clone(),
        },
        phases,
    }
}

fn task(
    inputs: &Inputs<'_>,
    (p, t): (usize, usize),
    task: &RawTask,
    repairs: &mut Repairs,
) -> DocumentTask {
    let (title, extra) = fit_title(
        task.title.as_deref(),
        || format!("Task {}.{}", p + 1, t + 1),
        repairs,
    );
    let duration: Option<DurationDays> = inputs.durations.by_node.get(&Node::Task(p, t)).copied();
    DocumentTask {
        key: Some(task.id.clone()),
        title,
        description: extra.unwrap_or_default(),
        capability: None,
        params: Value::Null,
        duration_days: duration,
        resources_needed: Vec::new(),
        depends_on: inputs
            .dependencies
            .by_task
            .get(&(p, t))
            .cloned()
            .unwrap_or_default(),
        timeout_seconds: None,
        max_attempts: None,
        subtasks: task.subtasks.iter().map(|s| subtask(s, repairs)).collect(),
    }
}

fn subtask(sub: &RawSubtask, repairs: &mut Repairs) -> DocumentSubtask {
    let (title, extra) = fit_title(
        sub.title.as_deref(),
        || title_from(sub.description.as_deref()),
        repairs,
    );
    let mut description = sub.description.clone().unwrap_or_default();
    if let Some(extra) = extra
        && !description.contains(&extra)
    {
        description = if description.is_empty() {
            extra
        } else {
            format!("{extra}\n\n{description}")
        };
    }
    DocumentSubtask {
        key: Some(sub.id.clone()),
        title,
        description: clip(&description, limits::TEXT),
        capability: None,
        params: Value::Null,
        resources_needed: sub
            .resources
            .iter()
            .map(|r| clip(r, limits::NAME))
            .collect(),
        timeout_seconds: None,
        max_attempts: None,
    }
}

/// A stand-in title for a subtask without a name: the start of its description.
fn title_from(description: Option<&str>) -> String {
    const WORDS: usize = 10;
    let first = description
        .unwrap_or_default()
        .split(['.', '\n'])
        .next()
        .unwrap_or_default();
    let words: Vec<&str> = first.split_whitespace().collect();
    match words.len() {
        0 => "Untitled subtask".to_owned(),
        n if n <= WORDS => words.join(" "),
        _ => format!("{}…", words[..WORDS].join(" ")),
    }
}

/// A title within the document's limit; an over-long one is shortened and returned whole as
/// description text so nothing is lost.
fn fit_title(
    raw: Option<&str>,
    fallback: impl FnOnce() -> String,
    repairs: &mut Repairs,
) -> (String, Option<String>) {
    let raw = raw.map(str::trim).unwrap_or_default();
    if raw.is_empty() {
        repairs.missing_titles += 1;
        return (fallback(), None);
    }
    if raw.chars().count() <= limits::NAME {
        return (raw.to_owned(), None);
    }
    repairs.long_titles += 1;
    let mut short: String = raw.chars().take(limits::NAME - 1).collect();
    short.push('…');
    (short, Some(clip(raw, limits::TEXT)))
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}
