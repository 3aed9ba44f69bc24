//! The work breakdown structure of a PlanExe run: project, phases, tasks and subtasks.
//!
//! Two layouts exist. The level files (`-wbs_level1.json`, `-wbs_level2.json`,
//! `-wbs_level3.json`) are what PlanExe computes; the `-wbs_project_level1_and_level2*.json`
//! trees are what it assembles from them afterwards, and are read only when the level files
//! are absent. Both become the same [`Tree`]; ids are checked for uniqueness on the way in.

use std::collections::HashMap;

use crate::error::{CycleStep, ImportError};
use crate::json::At;

/// The project (level 1).
#[derive(Debug, Default)]
pub(crate) struct Project {
    pub id: Option<String>,
    pub title: Option<String>,
    pub deliverable: Option<String>,
}

#[derive(Debug)]
pub(crate) struct RawPhase {
    pub id: String,
    pub title: Option<String>,
    /// JSON path of the phase's task list, for the warning about a phase without tasks.
    pub tasks_field: String,
    pub tasks: Vec<RawTask>,
}

#[derive(Debug)]
pub(crate) struct RawTask {
    pub id: String,
    pub title: Option<String>,
    pub subtasks: Vec<RawSubtask>,
}

#[derive(Debug)]
pub(crate) struct RawSubtask {
    pub id: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub resources: Vec<String>,
}

/// What an id names, by position in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Node {
    Project,
    Phase(usize),
    Task(usize, usize),
    Subtask(usize, usize, usize),
}

impl Node {
    /// One of the two holds the other: a phase and one of its tasks or subtasks, or a task
    /// and one of its subtasks. A node does not hold itself.
    pub fn nested(self, other: Node) -> bool {
        use Node::{Phase, Subtask, Task};
        match (self, other) {
            (Phase(p), Task(q, _) | Subtask(q, _, _))
            | (Task(q, _) | Subtask(q, _, _), Phase(p)) => p == q,
            (Task(p, t), Subtask(q, u, _)) | (Subtask(q, u, _), Task(p, t)) => (p, t) == (q, u),
            _ => false,
        }
    }
}

/// The tree and an index of every id in it.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    pub project: Project,
    pub phases: Vec<RawPhase>,
    ids: HashMap<String, (Node, String)>,
}

impl Tree {
    pub fn node(&self, id: &str) -> Option<Node> {
        self.ids.get(id).map(|(node, _)| *node)
    }

    fn register(&mut self, id: &str, node: Node, at: &At<'_>) -> Result<(), ImportError> {
        let here = format!("{} {}", at.file, at.path);
        if let Some((_, first)) = self.ids.get(id) {
            return Err(ImportError::DuplicateId {
                file: at.file.to_owned(),
                field: at.path.clone(),
                id: id.to_owned(),
                first: first.clone(),
            });
        }
        self.ids.insert(id.to_owned(), (node, here));
        Ok(())
    }

    /// Level 1: `{id, project_title, final_deliverable}`.
    pub fn read_level1(&mut self, root: &At<'_>) -> Result<(), ImportError> {
        root.expect_object()?;
        let id = root.get("id").text()?.filter(|s| !s.is_empty());
        self.project = Project {
            title: root.get("project_title").text()?,
            deliverable: root.get("final_deliverable").text()?,
            id: id.clone(),
        };
        if let Some(id) = id {
            self.register(&id, Node::Project, &root.get("id"))?;
        }
        Ok(())
    }

    /// Level 2: `[{id, major_phase_title, subtasks: [{id, description}]}]`; the phase's
    /// "subtasks" are our tasks. A phase may list none (it then has nothing to execute).
    pub fn read_level2(&mut self, root: &At<'_>) -> Result<(), ImportError> {
        for (p, phase) in root.items("a list of phases")?.iter().enumerate() {
            phase.expect_object()?;
            let id = phase.get("id").id()?;
            self.register(&id, Node::Phase(p), &phase.get("id"))?;
            let mut tasks = Vec::new();
            for (t, task) in phase
                .get("subtasks")
                .items_or_empty("a list of tasks")?
                .iter()
                .enumerate()
            {
                task.expect_object()?;
                let task_id = task.get("id").id()?;
                self.register(&task_id, Node::Task(p, t), &task.get("id"))?;
                tasks.push(RawTask {
                    id: task_id,
                    title: task.get("description").text()?,
                    subtasks: Vec::new(),
                });
            }
            self.phases.push(RawPhase {
                id,
                title: phase.get("major_phase_title").text()?,
                tasks_field: phase.get("subtasks").path,
                tasks,
            });
        }
        Ok(())
    }

    /// Level 3: `[{id, name, description, resources_needed, parent_id}]`, in file order.
    pub fn read_level3(&mut self, root: &At<'_>, level2_file: &str) -> Result<(), ImportError> {
        for sub in root.items("a list of subtasks")? {
            sub.expect_object()?;
            let id = sub.get("id").id()?;
            let parent_at = sub.get("parent_id");
            let parent = parent_at.id()?;
            let Some(Node::Task(p, t)) = self.node(&parent) else {
                return Err(ImportError::DanglingId {
                    file: sub.file.to_owned(),
                    field: parent_at.path,
                    id: parent,
                    expected: format!("a level-2 task id (a task listed in {level2_file})"),
                });
            };
            let s = self.phases[p].tasks[t].subtasks.len();
            self.register(&id, Node::Subtask(p, t, s), &sub.get("id"))?;
            self.phases[p].tasks[t].subtasks.push(RawSubtask {
                id,
                title: sub.get("name").text()?,
                description: sub.get("description").text()?,
                resources: sub.get("resources_needed").texts()?,
            });
        }
        Ok(())
    }

    /// The assembled tree `{wbs_project: {id, description, extra_fields, task_children}}`;
    /// its level 3 is read only when `with_subtasks` (no level-3 file to prefer).
    pub fn read_project_tree(
        &mut self,
        root: &At<'_>,
        with_subtasks: bool,
    ) -> Result<(), ImportError> {
        let project = root.get("wbs_project");
        project.expect_object()?;
        let id = project.get("id").text()?.filter(|s| !s.is_empty());
        self.project = Project {
            title: project.get("description").text()?,
            deliverable: project
                .get("extra_fields")
                .get("final_deliverable")
                .text()?,
            id: id.clone(),
        };
        if let Some(id) = id {
            self.register(&id, Node::Project, &project.get("id"))?;
        }
        for (p, phase) in children(&project)?.iter().enumerate() {
            let phase_id = phase.get("id").id()?;
            self.register(&phase_id, Node::Phase(p), &phase.get("id"))?;
            let mut tasks = Vec::new();
            for (t, task) in children(phase)?.iter().enumerate() {
                let task_id = task.get("id").id()?;
                self.register(&task_id, Node::Task(p, t), &task.get("id"))?;
                let mut subtasks = Vec::new();
                let subs = if with_subtasks {
                    children(task)?
                } else {
                    Vec::new()
                };
                for (s, sub) in subs.iter().enumerate() {
                    let sub_id = sub.get("id").id()?;
                    self.register(&sub_id, Node::Subtask(p, t, s), &sub.get("id"))?;
                    let extra = sub.get("extra_fields");
                    subtasks.push(RawSubtask {
                        id: sub_id,
                        title: sub.get("description").text()?,
                        description: extra.get("detailed_description").text()?,
                        resources: extra.get("resources_needed").texts()?,
                    });
                }
                tasks.push(RawTask {
                    id: task_id,
                    title: task.get("description").text()?,
                    subtasks,
                });
            }
            self.phases.push(RawPhase {
                id: phase_id,
                title: phase.get("description").text()?,
                tasks_field: phase.get("task_children").path,
                tasks,
            });
        }
        Ok(())
    }

    /// A node as errors and warnings name it: its WBS number and id.
    pub fn step(&self, node: Node) -> CycleStep {
        let (wbs, id) = match node {
            Node::Project => (String::new(), self.project.id.clone()),
            Node::Phase(p) => (format!("{}", p + 1), Some(self.phases[p].id.clone())),
            Node::Task(p, t) => (
                format!("{}.{}", p + 1, t + 1),
                Some(self.phases[p].tasks[t].id.clone()),
            ),
            Node::Subtask(p, t, s) => (
                format!("{}.{}.{}", p + 1, t + 1, s + 1),
                Some(self.phases[p].tasks[t].subtasks[s].id.clone()),
            ),
        };
        CycleStep { wbs, key: id }
    }

    pub fn task_count(&self) -> usize {
        self.phases.iter().map(|p| p.tasks.len()).sum()
    }

    pub fn subtask_count(&self) -> usize {
        self.phases
            .iter()
            .flat_map(|p| &p.tasks)
            .map(|t| t.subtasks.len())
            .sum()
    }
}

fn children<'a>(node: &At<'a>) -> Result<Vec<At<'a>>, ImportError> {
    node.expect_object()?;
    let items = node
        .get("task_children")
        .items_or_empty("a list of child tasks")?;
    for item in &items {
        item.expect_object()?;
    }
    Ok(items)
}
