//! The files of one run, read next to the WBS file that anchors it: the tree (levels 1 to 3,
//! or the assembled tree), dependencies, durations and context, each noted as used or, when
//! missing, turned into a warning that says what its absence means.

use serde_json::Value;

use super::build::{self, Inputs, Repairs};
use super::durations::{self, Durations};
use super::wbs::{self, Tree};
use super::{ImportOptions, ParsedRun, links, notes, suffix};
use crate::error::ImportError;
use crate::json::{self, At};
use crate::run::{Member, Run, matches_suffix};

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
        containment_dependencies: dependencies.containment,
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
            .extend(notes::dangling_warnings(&dependencies.dangling));
        self.warnings
            .extend(notes::containment_warnings(&dependencies.containment));
        Ok((dependencies, Some(m.shown)))
    }

    fn durations(&mut self, tree: &Tree) -> Result<Durations, ImportError> {
        let Some(m) = self.find(suffix::DURATIONS) else {
            self.missing(suffix::DURATIONS, "no task has a duration estimate");
            return Ok(Durations::default());
        };
        let value = self.load(suffix::DURATIONS, &m)?;
        let durations = durations::read_durations(&At::root(&m.shown, &value), tree)?;
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

fn unknown_durations(file: &str, durations: &Durations) -> String {
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

    #[test]
    fn the_goal_is_the_text_between_plan_and_todays_date() {
        let text =
            "Plan:\nManned moon mission.\n\nToday's date:\n2025-Feb-09\n\nProject start ASAP";
        assert_eq!(goal_from_plan_txt(text), "Manned moon mission.");
        assert_eq!(goal_from_plan_txt("Just a goal."), "Just a goal.");
    }
}
