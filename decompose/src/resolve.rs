//! Dependencies by key become edges between tasks, and the tasks get their execution order.
//!
//! A phase key stands for all of the phase's tasks and a subtask key for its task, since tasks
//! are what wait for each other. A task that waits for itself is a cycle like any other,
//! reported before the sort; a task that waits for its own phase or one of its own subtasks
//! states containment, not an order, and is refused as such (a lenient PlanExe import has
//! dropped those before the document is built).

use std::collections::HashMap;

use planexec_schemas::plan::PlanDocument;

use crate::error::{ContainmentDependency, CycleStep, ImportError};
use crate::model::Dependency;
use crate::order::topological_order;

#[derive(Clone, Copy)]
enum Target {
    Phase(usize),
    /// A task, by flat index.
    Task(usize),
    /// A subtask: its task's flat index and its own index in the task.
    Subtask(usize, usize),
}

/// Where the tasks are, by flat index (WBS order), and what every key names.
struct Index<'a> {
    doc: &'a PlanDocument,
    flat: Vec<(usize, usize)>,
    phase_tasks: Vec<Vec<usize>>,
    keys: HashMap<&'a str, Target>,
}

impl<'a> Index<'a> {
    fn new(doc: &'a PlanDocument) -> Self {
        let mut index = Index {
            doc,
            flat: Vec::new(),
            phase_tasks: vec![Vec::new(); doc.phases.len()],
            keys: HashMap::new(),
        };
        for (p, phase) in doc.phases.iter().enumerate() {
            if let Some(k) = &phase.key {
                index.keys.insert(k, Target::Phase(p));
            }
            for (t, task) in phase.tasks.iter().enumerate() {
                let i = index.flat.len();
                index.flat.push((p, t));
                index.phase_tasks[p].push(i);
                if let Some(k) = &task.key {
                    index.keys.insert(k, Target::Task(i));
                }
                for (s, sub) in task.subtasks.iter().enumerate() {
                    if let Some(k) = &sub.key {
                        index.keys.insert(k, Target::Subtask(i, s));
                    }
                }
            }
        }
        index
    }

    fn wbs(&self, i: usize) -> String {
        format!("{}.{}", self.flat[i].0 + 1, self.flat[i].1 + 1)
    }

    fn step(&self, i: usize) -> CycleStep {
        let (p, t) = self.flat[i];
        CycleStep {
            wbs: self.wbs(i),
            key: self.doc.phases[p].tasks[t].key.clone(),
        }
    }

    /// The tasks that the dependency `d` of task `i` makes it wait for; an error when the key
    /// names nothing, the task itself, or its own phase or subtask.
    fn targets(
        &self,
        i: usize,
        d: usize,
        file: &str,
        cycle_file: &str,
    ) -> Result<&[usize], ImportError> {
        let (p, t) = self.flat[i];
        let dep = &self.doc.phases[p].tasks[t].depends_on[d];
        let field = || format!("phases[{p}].tasks[{t}].depends_on[{d}].key");
        let contained = |depends_on: CycleStep| {
            ImportError::ContainmentDependency(Box::new(ContainmentDependency {
                file: file.to_owned(),
                field: field(),
                dependent: self.step(i),
                depends_on,
                explanation: dep.explanation.clone(),
            }))
        };
        match self.keys.get(dep.key.as_str()) {
            Some(Target::Phase(q)) if *q == p => Err(contained(CycleStep {
                wbs: format!("{}", p + 1),
                key: self.doc.phases[p].key.clone(),
            })),
            Some(Target::Subtask(j, s)) if *j == i => Err(contained(CycleStep {
                wbs: format!("{}.{}", self.wbs(i), s + 1),
                key: self.doc.phases[p].tasks[t].subtasks[*s].key.clone(),
            })),
            Some(Target::Task(j)) if *j == i => Err(ImportError::Cycle {
                file: cycle_file.to_owned(),
                cycle: vec![self.step(i), self.step(i)],
            }),
            Some(Target::Phase(q)) => Ok(&self.phase_tasks[*q]),
            Some(Target::Task(j) | Target::Subtask(j, _)) => Ok(std::slice::from_ref(j)),
            None => Err(ImportError::DanglingId {
                file: file.to_owned(),
                field: field(),
                id: dep.key.clone(),
                expected: "the key of a task or phase of this plan".to_owned(),
            }),
        }
    }
}

/// Per task in WBS order: its position in execution order and what it waits for.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub position: Vec<u32>,
    pub depends_on: Vec<Vec<Dependency>>,
}

/// `file` names the document in reference errors, `cycle_file` in cycle errors.
pub(crate) fn resolve(
    doc: &PlanDocument,
    file: &str,
    cycle_file: &str,
) -> Result<Resolved, ImportError> {
    let index = Index::new(doc);
    let cycle = |steps: Vec<CycleStep>| ImportError::Cycle {
        file: cycle_file.to_owned(),
        cycle: steps,
    };
    let n = index.flat.len();
    let mut prereqs: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut depends_on: Vec<Vec<Dependency>> = vec![Vec::new(); n];
    for (i, &(p, t)) in index.flat.iter().enumerate() {
        for (d, dep) in doc.phases[p].tasks[t].depends_on.iter().enumerate() {
            let targets = index.targets(i, d, file, cycle_file)?;
            for &j in targets {
                // One edge per pair; the first explanation given for it is kept.
                match prereqs[i].iter().position(|&k| k == j) {
                    Some(at) => {
                        let edge = &mut depends_on[i][at];
                        if edge.explanation.is_none() {
                            edge.explanation.clone_from(&dep.explanation);
                        }
                    }
                    None => {
                        prereqs[i].push(j);
                        depends_on[i].push(Dependency {
                            on_wbs: index.wbs(j),
                            explanation: dep.explanation.clone(),
                        });
                    }
                }
            }
        }
    }
    let order = topological_order(&prereqs)
        .map_err(|c| cycle(c.into_iter().map(|i| index.step(i)).collect()))?;
    let mut position = vec![0u32; n];
    for (k, &i) in order.iter().enumerate() {
        position[i] = u32::try_from(k).unwrap_or(u32::MAX);
    }
    Ok(Resolved {
        position,
        depends_on,
    })
}
