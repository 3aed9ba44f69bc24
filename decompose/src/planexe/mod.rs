//! Reading a PlanExe run (folder or zip) into a [`PlanDocument`].
//!
//! Which files are used, in order of preference, and what their absence means:
//! level 1 + level 2 (required together; the assembled `-wbs_project_*` trees only stand in
//! when both are absent), level 3 (else tasks are the leaves), dependencies (else WBS order),
//! durations, and context (`-plan.txt` for the goal, `-pipeline_complete.txt` to know that
//! PlanExe finished). Missing optional files become warnings, never errors.
//!
//! A dependency id that names no phase or task is an error only with
//! [`ImportOptions::strict`]; by default the dependency is dropped, with a warning per id and a
//! review reason that keeps the plan from starting unattended (see `links`).

mod build;
mod links;
mod wbs;

use planexec_schemas::plan::PlanDocument;
use serde_json::Value;

use crate::error::ImportError;
use crate::json::{self, At};
use crate::run::{Member, Run, matches_suffix};
use build::{Inputs, Repairs};
pub use links::DanglingDependency;
use wbs::Tree;

/// How an import treats what PlanExe itself tolerates.
///
/// The default is lenient: a dependency id that names no phase or task of the plan (a language
/// model copied it wrong; PlanExe's scheduler logs it and goes on) is dropped, with a warning
/// naming the file, JSON path and id, and the plan needs review. Strict refuses such a run with
/// [`ImportError::DanglingId`]. Everything else that breaks the run's integrity (duplicate ids,
/// an unknown subtask parent, cycles, invalid JSON, ...) is an error either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Refuse a run whose dependency file names an id that is not in the plan.
    pub strict: bool,
}

impl ImportOptions {
    /// The default: dangling dependency ids are dropped, warned about and force a review.
    pub const LENIENT: Self = Self { strict: false };
    /// Dangling dependency ids are [`ImportError::DanglingId`].
    pub const STRICT: Self = Self { strict: true };
}

/// File suffixes of a PlanExe run, as PlanExe names them in every version.
pub mod suffix {
    pub const LEVEL1: &str = "-wbs_level1.json";
    pub const LEVEL2: &str = "-wbs_level2.json";
    pub const LEVEL3: &str = "-wbs_level3.json";
    pub const PROJECT_LEVEL123: &str = "-wbs_project_level1_and_level2_and_level3.json";
    pub const PROJECT_LEVEL12: &str = "-wbs_project_level1_and_level2.json";
    pub const DEPENDENCIES: &str = "-task_dependencies_raw.json";
    pub const DURATIONS: &str = "-task_durations.json";
    pub const PLAN: &str = "-plan.txt";
    pub const PIPELINE_COMPLETE: &str = "-pipeline_complete.txt";
    /// Context a reviewer may want; the import does not need them.
    pub const CONTEXT: [&str; 5] = [
        "-project_plan.md",
        "-schedule_gantt_machai.csv",
        "-team.md",
        "-find_team_members.json",
        "-review_plan.md",
    ];
    /// What carries the work breakdown structure, in order of preference.
    pub const WBS: [&str; 4] = [LEVEL2, LEVEL1, PROJECT_LEVEL123, PROJECT_LEVEL12];
}

/// A run read into a plan document, with what the import learned on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRun {
    pub document: PlanDocument,
    /// The files used, as `(suffix, path in the folder or zip)`.
    pub files: Vec<(&'static str, String)>,
    /// Odd but not fatal: missing optional files, unknown ids in durations, repaired titles,
    /// phases without tasks, dependency ids that name nothing (lenient imports).
    pub warnings: Vec<String>,
    /// `(dependent, depends_on)` pairs declared in the dependency file.
    pub declared_dependencies: u32,
    /// Records in the durations file.
    pub duration_records: u32,
    /// The file the phases and tasks came from (level 2, or the assembled tree).
    pub wbs_file: String,
    /// The dependency file, when there was one (PlanExe analysed dependencies).
    pub dependency_file: Option<String>,
    /// Dependency ids that named no phase or task and were dropped (lenient imports only);
    /// each is also a warning, and a dropped pair makes the plan need review.
    pub dangling_dependencies: Vec<DanglingDependency>,
}

impl ParsedRun {
    /// Why the run needs a person whatever its confidence: dependencies that were dropped.
    pub fn review_reasons(&self) -> Vec<String> {
        dropped_dependencies_reason(&self.dangling_dependencies)
            .into_iter()
            .collect()
    }
}

/// Reads the run; `Err` means nothing usable was imported.
pub(crate) fn read(run: &mut Run<'_>, options: ImportOptions) -> Result<ParsedRun, ImportError> {
    let Some(anchor) = suffix::WBS.iter().find_map(|s| run.find(None, s)).cloned() else {
        let mut found: Vec<String> = run.members.iter().map(|m| m.path.clone()).collect();
        found.sort();
        return Err(ImportError::NoWbsFiles {
            location: run.location.clone(),
            looked_for: suffix::WBS.iter().map(|s| (*s).to_owned()).collect(),
            found,
        });
    };
    let warnings = other_runs(run, &anchor).into_iter().collect();
    let mut reader = Reader {
        run,
        anchor,
        files: Vec::new(),
        warnings,
        options,
    };
    let (tree, wbs_file) = reader.tree()?;
    let (dependencies, dependency_file) = reader.dependencies(&tree)?;
    let durations = reader.durations(&tree)?;
    let goal = reader.context()?;
    let mut repairs = Repairs::default();
    let inputs = Inputs {
        tree: &tree,
        dependencies: &dependencies,
        durations: &durations,
        reference: &reader.run.name,
        goal: goal.as_deref(),
    };
    let document = build::document(&inputs, &mut repairs);
    if let Some(w) = repairs.warning() {
        reader.warnings.push(w);
    }
    Ok(ParsedRun {
        document,
        files: reader.files,
        warnings: reader.warnings,
        declared_dependencies: dependencies.declared_pairs,
        duration_records: durations.records,
        wbs_file,
        dependency_file,
        dangling_dependencies: dependencies.dangling,
    })
}

/// Reads the files of one run, next to the WBS file that anchors it (a folder may hold several
/// runs), noting what was used and what was missing.
struct Reader<'r, 'a> {
    run: &'r mut Run<'a>,
    anchor: Member,
    files: Vec<(&'static str, String)>,
    warnings: Vec<String>,
    options: ImportOptions,
}

impl Reader<'_, '_> {
    fn find(&self, s: &str) -> Option<Member> {
        self.run.find(Some(&self.anchor.dir), s).cloned()
    }

    fn bytes(&mut self, s: &'static str, member: &Member) -> Result<Vec<u8>, ImportError> {
        let bytes = self.run.read(member)?;
        self.files.push((s, member.path.clone()));
        Ok(bytes)
    }

    fn load(&mut self, s: &'static str, member: &Member) -> Result<Value, ImportError> {
        let bytes = self.bytes(s, member)?;
        json::parse(&member.shown, &bytes)
    }

    fn missing(&mut self, s: &str, meaning: &str) {
        self.warnings
            .push(format!("no file ending in {s}: {meaning}"));
    }

    /// Levels 1 to 3, or the assembled tree when both level files are absent; returns the
    /// tree and the file its phases and tasks came from.
    fn tree(&mut self) -> Result<(Tree, String), ImportError> {
        let mut tree = Tree::default();
        let level3 = self.find(suffix::LEVEL3);
        let wbs_file = match (self.find(suffix::LEVEL1), self.find(suffix::LEVEL2)) {
            (Some(l1), None) => {
                return Err(ImportError::MissingLevel2 {
                    location: self.run.location.clone(),
                    level1: l1.shown,
                });
            }
            (l1, Some(l2)) => {
                match l1 {
                    Some(l1) => {
                        tree.read_level1(&At::root(&l1.shown, &self.load(suffix::LEVEL1, &l1)?))?
                    }
                    None => self.missing(suffix::LEVEL1, "the plan is named after the run"),
                }
                tree.read_level2(&At::root(&l2.shown, &self.load(suffix::LEVEL2, &l2)?))?;
                l2.shown
            }
            (None, None) => {
                let (s, member) = [suffix::PROJECT_LEVEL123, suffix::PROJECT_LEVEL12]
                    .into_iter()
                    .find_map(|s| self.find(s).map(|m| (s, m)))
                    .unwrap_or((suffix::PROJECT_LEVEL12, self.anchor.clone()));
                let value = self.load(s, &member)?;
                tree.read_project_tree(&At::root(&member.shown, &value), level3.is_none())?;
                self.warnings.push(format!(
                    "no {} or {} file: phases and tasks were read from {}",
                    suffix::LEVEL1,
                    suffix::LEVEL2,
                    member.shown
                ));
                member.shown
            }
        };
        if tree.task_count() == 0 {
            return Err(ImportError::NoTasks { location: wbs_file });
        }
        for (p, phase) in tree.phases.iter().enumerate() {
            if phase.tasks.is_empty() {
                self.warnings.push(empty_phase(&wbs_file, p, phase));
            }
        }
        match level3 {
            Some(l3) => tree.read_level3(
                &At::root(&l3.shown, &self.load(suffix::LEVEL3, &l3)?),
                &wbs_file,
            )?,
            None if tree.subtask_count() == 0 => {
                let meaning = format!(
                    "the {} tasks are themselves the executable leaves",
                    tree.task_count()
                );
                self.missing(suffix::LEVEL3, &meaning);
            }
            None => {}
        }
        Ok((tree, wbs_file))
    }

    fn dependencies(
        &mut self,
        tree: &Tree,
    ) -> Result<(links::Dependencies, Option<String>), ImportError> {
        let Some(m) = self.find(suffix::DEPENDENCIES) else {
            self.missing(
                suffix::DEPENDENCIES,
                "dependencies were not analysed, tasks run in WBS order",
            );
            return Ok((links::Dependencies::default(), None));
        };
        let value = self.load(suffix::DEPENDENCIES, &m)?;
        let dependencies =
            links::read_dependencies(&At::root(&m.shown, &value), tree, self.options.strict)?;
        self.warnings
            .extend(dangling_warnings(&dependencies.dangling));
        Ok((dependencies, Some(m.shown)))
    }

    fn durations(&mut self, tree: &Tree) -> Result<links::Durations, ImportError> {
        let Some(m) = self.find(suffix::DURATIONS) else {
            self.missing(suffix::DURATIONS, "no task has a duration estimate");
            return Ok(links::Durations::default());
        };
        let value = self.load(suffix::DURATIONS, &m)?;
        let durations = links::read_durations(&At::root(&m.shown, &value), tree)?;
        if !durations.unknown.is_empty() {
            self.warnings.push(unknown_durations(&m.shown, &durations));
        }
        Ok(durations)
    }

    /// Notes the context files and returns the goal; missing ones are warnings.
    fn context(&mut self) -> Result<Option<String>, ImportError> {
        let goal = match self.find(suffix::PLAN) {
            Some(m) => {
                let text = String::from_utf8_lossy(&self.bytes(suffix::PLAN, &m)?).into_owned();
                Some(goal_from_plan_txt(&text)).filter(|g| !g.is_empty())
            }
            None => {
                self.missing(suffix::PLAN, "the plan has no goal text");
                None
            }
        };
        if let Some(m) = self.find(suffix::PIPELINE_COMPLETE) {
            self.files.push((suffix::PIPELINE_COMPLETE, m.path));
        } else {
            self.missing(
                suffix::PIPELINE_COMPLETE,
                "the PlanExe pipeline did not finish, so later files may be missing or stale",
            );
        }
        let mut absent = Vec::new();
        for s in suffix::CONTEXT {
            match self.find(s) {
                Some(m) => self.files.push((s, m.path)),
                None => absent.push(s),
            }
        }
        if !absent.is_empty() {
            self.warnings.push(format!(
                "optional context not in the run (not needed to execute; older PlanExe versions did not write all of it): {}",
                absent.join(", ")
            ));
        }
        Ok(goal)
    }
}

/// A folder holding several runs is read for the one whose WBS file sorts last; say so.
fn other_runs(run: &Run<'_>, anchor: &Member) -> Option<String> {
    let mut dirs: Vec<&str> = run
        .members
        .iter()
        .filter(|m| m.dir != anchor.dir && suffix::WBS.iter().any(|s| matches_suffix(&m.name, s)))
        .map(|m| m.dir.as_str())
        .collect();
    dirs.sort_unstable();
    dirs.dedup();
    (!dirs.is_empty()).then(|| {
        format!(
            "{} holds several PlanExe runs; imported the one in {:?} and ignored {}: import each run folder on its own",
            run.location,
            anchor.dir,
            dirs.iter().map(|d| format!("{d:?}")).collect::<Vec<_>>().join(", ")
        )
    })
}

/// A phase that lists no tasks is kept: it counts as a phase and has nothing to execute.
fn empty_phase(file: &str, p: usize, phase: &wbs::RawPhase) -> String {
    let title = phase
        .title
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(|t| format!(" {t:?}"))
        .unwrap_or_default();
    format!(
        "{file}: phase {}{title} (id {}) lists no tasks at {}; it is kept as a phase with nothing to execute",
        p + 1,
        phase.id,
        phase.tasks_field
    )
}

/// At most this many dangling dependency ids get a warning line of their own.
const DANGLING_SHOWN: usize = 20;

/// One warning per dropped dependency id (the first [`DANGLING_SHOWN`]), as precise as the
/// [`ImportError::DanglingId`] a strict import would have returned.
fn dangling_warnings(dangling: &[DanglingDependency]) -> Vec<String> {
    let mut out: Vec<String> = dangling
        .iter()
        .take(DANGLING_SHOWN)
        .map(|d| {
            let dropped = match d.pairs {
                1 => "the dependency was ignored".to_owned(),
                n => format!("the {n} dependencies of its record were ignored"),
            };
            format!(
                "{}: {} names {:?}, which is not {}; {dropped}, as PlanExe's own scheduler does",
                d.file,
                d.field,
                d.id,
                links::DEPENDENCY_TARGET
            )
        })
        .collect();
    if let Some(rest) = dangling.get(DANGLING_SHOWN..).filter(|r| !r.is_empty()) {
        let ids: Vec<String> = rest.iter().map(|d| format!("{:?}", d.id)).collect();
        out.push(format!(
            "{}: {} more dependency ids name no phase or task of this plan and were ignored: {}",
            rest[0].file,
            rest.len(),
            ids.join(", ")
        ));
    }
    out
}

/// The review reason for dropped dependencies, e.g. `2 dependencies name tasks that are not in
/// the plan (…-task_dependencies_raw.json: $.task_dependency_details[3].depends_on_task_id_list[1]
/// = "…"); they were ignored`. `None` when no declared pair was dropped.
pub(crate) fn dropped_dependencies_reason(dangling: &[DanglingDependency]) -> Option<String> {
    const SHOWN: usize = 3;
    let dropped: Vec<&DanglingDependency> = dangling.iter().filter(|d| d.pairs > 0).collect();
    let pairs = dropped.iter().fold(0u32, |n, d| n.saturating_add(d.pairs));
    let file = &dropped.first()?.file;
    let mut places: Vec<String> = dropped
        .iter()
        .take(SHOWN)
        .map(|d| format!("{} = {:?}", d.field, d.id))
        .collect();
    if dropped.len() > SHOWN {
        places.push(format!("and {} more", dropped.len() - SHOWN));
    }
    let (head, tail) = match pairs {
        1 => (
            "1 dependency names a task that is".to_owned(),
            "it was ignored",
        ),
        n => (
            format!("{n} dependencies name tasks that are"),
            "they were ignored",
        ),
    };
    Some(format!(
        "{head} not in the plan ({file}: {}); {tail}",
        places.join(", ")
    ))
}

fn unknown_durations(file: &str, durations: &links::Durations) -> String {
    const SHOWN: usize = 5;
    let n = durations.unknown.len();
    let mut shown = durations.unknown[..n.min(SHOWN)].join(", ");
    if n > SHOWN {
        shown = format!("{shown} and {} more", n - SHOWN);
    }
    format!(
        "{file}: {n} of {} duration records name no phase or task of this plan and were ignored: {shown}",
        durations.records
    )
}

/// The user's goal from `-plan.txt`: the text between `Plan:` and `Today's date:`.
fn goal_from_plan_txt(text: &str) -> String {
    let body = text.trim_start().strip_prefix("Plan:").unwrap_or(text);
    let body = body.split("\nToday's date:").next().unwrap_or(body);
    body.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dangling(field: &str, id: &str, pairs: u32) -> DanglingDependency {
        DanglingDependency {
            file: "run/021-task_dependencies_raw.json".to_owned(),
            field: field.to_owned(),
            id: id.to_owned(),
            pairs,
        }
    }

    #[test]
    fn dropped_dependencies_give_one_reason_with_their_places() {
        assert_eq!(dropped_dependencies_reason(&[]), None);
        assert_eq!(
            dropped_dependencies_reason(&[dangling("$.x[0].dependent_task_id", "a", 0)]),
            None,
            "a record without targets drops nothing"
        );
        assert_eq!(
            dropped_dependencies_reason(&[dangling("$.x[3].depends_on_task_id_list[1]", "a", 1)])
                .as_deref(),
            Some(
                "1 dependency names a task that is not in the plan (run/021-task_dependencies_raw.json: $.x[3].depends_on_task_id_list[1] = \"a\"); it was ignored"
            )
        );
        let many: Vec<_> = (0..5)
            .map(|i| dangling(&format!("$.x[{i}].dependent_task_id"), "g", 2))
            .collect();
        let reason = dropped_dependencies_reason(&many).expect("reason");
        assert!(
            reason.starts_with("10 dependencies name tasks that are not in the plan (")
                && reason
                    .contains("$.x[2].dependent_task_id = \"g\", and 2 more); they were ignored"),
            "{reason}"
        );
    }

    #[test]
    fn every_dangling_id_gets_a_warning_up_to_a_bound() {
        let one = dangling_warnings(&[dangling("$.x[0].dependent_task_id", "g", 3)]);
        assert_eq!(
            one,
            [
                "run/021-task_dependencies_raw.json: $.x[0].dependent_task_id names \"g\", which is not a phase or task of this plan (ids of the -wbs_level2.json file); the 3 dependencies of its record were ignored, as PlanExe's own scheduler does"
            ]
        );
        let many: Vec<_> = (0..DANGLING_SHOWN + 2)
            .map(|i| {
                dangling(
                    &format!("$.x[{i}].depends_on_task_id_list[0]"),
                    &format!("g{i}"),
                    1,
                )
            })
            .collect();
        let warnings = dangling_warnings(&many);
        assert_eq!(warnings.len(), DANGLING_SHOWN + 1);
        assert!(
            warnings[DANGLING_SHOWN].contains("2 more dependency ids")
                && warnings[DANGLING_SHOWN].contains("\"g21\""),
            "{}",
            warnings[DANGLING_SHOWN]
        );
    }

    #[test]
    fn the_goal_is_the_text_between_plan_and_todays_date() {
        let text =
            "Plan:\nManned moon mission.\n\nToday's date:\n2025-Feb-09\n\nProject start ASAP";
        assert_eq!(goal_from_plan_txt(text), "Manned moon mission.");
        assert_eq!(goal_from_plan_txt("Just a goal."), "Just a goal.");
    }
}
