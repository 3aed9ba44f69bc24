//! A [`PlanDocument`] becomes a [`Decomposition`]: validated, WBS-numbered, ordered (see
//! `resolve`), with a capability and a confidence for every leaf and a verdict on the whole.
//!
//! The document is checked in full before anything is built, so a plan is either decomposed
//! whole or refused with the first thing wrong.

use planexec_schemas::plan::{PlanCounts, PlanDocument, PlanSourceKind};
use planexec_schemas::validate::Validate;

use crate::error::ImportError;
use crate::model::{Decomposition, Task};
use crate::nodes::numbered_phases;
use crate::resolve::{Resolved, resolve};
use crate::review::{LeafFacts, PlanFacts, review};

/// What the caller knows about where the document came from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Context {
    /// Names the input in errors: the WBS file of a run, or the document's reference.
    pub file: String,
    /// Names the input in cycle errors: the dependency file of a run.
    pub dependency_file: Option<String>,
    pub dependencies_analysed: bool,
    /// Counts as declared in the run's files, which a document cannot carry.
    pub declared_dependencies: Option<u32>,
    pub duration_records: Option<u32>,
    pub warnings: Vec<String>,
    /// Problems of the input that need a person whatever the confidence (dropped
    /// dependencies of a lenient import).
    pub review_reasons: Vec<String>,
    /// WBS numbers of dependents whose dependencies were dropped as containment: their
    /// tasks' leaves do not count dependencies as analysed.
    pub reinterpreted: Vec<String>,
}

impl Context {
    /// A document on its own: its dependencies were stated by its author, so they count as
    /// analysed, unless it is a PlanExe import that carries none at all.
    pub fn for_document(doc: &PlanDocument) -> Self {
        let has_dependencies = doc
            .phases
            .iter()
            .flat_map(|p| &p.tasks)
            .any(|t| !t.depends_on.is_empty());
        Self {
            file: reference(doc),
            dependencies_analysed: has_dependencies
                || doc.source.kind != Some(PlanSourceKind::Planexe),
            ..Self::default()
        }
    }
}

fn reference(doc: &PlanDocument) -> String {
    doc.source
        .reference
        .clone()
        .unwrap_or_else(|| format!("{:?}", doc.title))
}

pub(crate) fn decompose(doc: PlanDocument, ctx: Context) -> Result<Decomposition, ImportError> {
    if doc.phases.iter().all(|p| p.tasks.is_empty()) {
        return Err(ImportError::NoTasks { location: ctx.file });
    }
    doc.validate()
        .map_err(|errors| ImportError::InvalidDocument {
            reference: ctx.file.clone(),
            errors,
        })?;
    let cycle_file = ctx.dependency_file.as_deref().unwrap_or(&ctx.file);
    let resolved = resolve(&doc, &ctx.file, cycle_file)?;
    Ok(build(doc, ctx, resolved))
}

fn build(doc: PlanDocument, ctx: Context, resolved: Resolved) -> Decomposition {
    let analysed = ctx.dependencies_analysed;
    let declared = doc
        .phases
        .iter()
        .flat_map(|p| &p.tasks)
        .map(|t| t.depends_on.len())
        .sum::<usize>();
    let with_duration = doc
        .phases
        .iter()
        .filter(|p| p.duration_days.is_some())
        .count()
        + doc
            .phases
            .iter()
            .flat_map(|p| &p.tasks)
            .filter(|t| t.duration_days.is_some())
            .count();
    let mut source = doc.source.clone();
    let planexe = *source.kind.get_or_insert(PlanSourceKind::Document) == PlanSourceKind::Planexe;
    let phases = numbered_phases(doc.phases, resolved, analysed, planexe, &ctx.reinterpreted);
    let all_tasks: Vec<&Task> = phases.iter().flat_map(|p| &p.tasks).collect();
    let mut facts = Vec::new();
    for task in &all_tasks {
        if let Some(leaf) = &task.leaf {
            facts.push(LeafFacts {
                leaf,
                description_words: words(&task.description),
            });
        }
        for sub in &task.subtasks {
            facts.push(LeafFacts {
                leaf: &sub.leaf,
                description_words: words(&sub.description),
            });
        }
    }
    let plan_facts = PlanFacts {
        tasks: all_tasks.len(),
        tasks_without_duration: all_tasks
            .iter()
            .filter(|t| !t.duration_days.is_some_and(|d| d.is_given()))
            .count(),
        dependencies_analysed: analysed,
    };
    let verdict = review(&facts, plan_facts, ctx.review_reasons);
    let subtasks = all_tasks.iter().map(|t| t.subtasks.len()).sum::<usize>();
    let counts = PlanCounts {
        phases: count(phases.len()),
        tasks: count(all_tasks.len()),
        subtasks: count(subtasks),
        dependencies: ctx.declared_dependencies.unwrap_or(count(declared)),
        durations: ctx.duration_records.unwrap_or(count(with_duration)),
        leaves: count(facts.len()),
    };
    Decomposition {
        title: doc.title,
        description: doc.description,
        source,
        phases,
        confidence: verdict.confidence,
        status: verdict.status,
        review_reasons: verdict.reasons,
        warnings: ctx.warnings,
        counts,
    }
}

fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
