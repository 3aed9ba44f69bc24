//! Property: for any acyclic plan document, positions are the earliest-WBS-first topological
//! order; for any plan with a cycle added, decomposition refuses it and names the cycle.

use planexec_decompose::{ImportError, decompose_document};
use planexec_schemas::plan::{DocumentDependency, DocumentPhase, DocumentTask, PlanDocument};
use proptest::prelude::*;

/// A random plan: `sizes[p]` tasks in phase `p`, and the dependencies of each task (flat
/// index) on tasks or phases, all pointing at tasks earlier in a hidden random order.
#[derive(Debug, Clone)]
struct Shape {
    sizes: Vec<usize>,
    deps: Vec<Vec<Target>>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    Task(usize),
    Phase(usize),
}

fn acyclic() -> impl Strategy<Value = Shape> {
    prop::collection::vec(1usize..5, 1..5).prop_flat_map(|sizes| {
        let n: usize = sizes.iter().sum();
        let phases = sizes.len();
        let rank = Just((0..n).collect::<Vec<usize>>()).prop_shuffle();
        let task_edges = prop::collection::vec(prop::bool::weighted(0.25), n * n);
        let phase_edges = prop::collection::vec(prop::bool::weighted(0.15), n * phases);
        (Just(sizes), rank, task_edges, phase_edges).prop_map(move |(sizes, rank, te, pe)| {
            let phase_of = phase_index(&sizes);
            let mut deps = vec![Vec::new(); n];
            for i in 0..n {
                for j in 0..n {
                    if te[i * n + j] && rank[j] < rank[i] {
                        deps[i].push(Target::Task(j));
                    }
                }
                for q in 0..phases {
                    let all_before = (0..n)
                        .filter(|&j| phase_of[j] == q)
                        .all(|j| rank[j] < rank[i]);
                    if pe[i * phases + q] && all_before {
                        deps[i].push(Target::Phase(q));
                    }
                }
            }
            Shape { sizes, deps }
        })
    })
}

fn phase_index(sizes: &[usize]) -> Vec<usize> {
    sizes
        .iter()
        .enumerate()
        .flat_map(|(p, &k)| std::iter::repeat_n(p, k))
        .collect()
}

fn to_document(shape: &Shape) -> PlanDocument {
    let mut i = 0;
    let phases = shape
        .sizes
        .iter()
        .enumerate()
        .map(|(p, &k)| DocumentPhase {
            key: Some(format!("p{p}")),
            title: format!("Phase {p}"),
            description: String::new(),
            duration_days: None,
            tasks: (0..k)
                .map(|_| {
                    let deps = shape.deps[i]
                        .iter()
                        .map(|t| DocumentDependency {
                            key: match t {
                                Target::Task(j) => format!("t{j}"),
                                Target::Phase(q) => format!("p{q}"),
                            },
                            explanation: None,
                        })
                        .collect();
                    let task = DocumentTask {
                        key: Some(format!("t{i}")),
                        title: format!("Email supplier {i}"),
                        description: String::new(),
                        capability: None,
                        params: serde_json::Value::Null,
                        duration_days: None,
                        resources_needed: Vec::new(),
                        depends_on: deps,
                        timeout_seconds: None,
                        max_attempts: None,
                        subtasks: Vec::new(),
                    };
                    i += 1;
                    task
                })
                .collect(),
        })
        .collect();
    PlanDocument {
        title: "Random plan".to_owned(),
        description: String::new(),
        source: Default::default(),
        phases,
    }
}

/// Prerequisites by flat task index, phases expanded.
fn prerequisites(shape: &Shape) -> Vec<Vec<usize>> {
    let phase_of = phase_index(&shape.sizes);
    shape
        .deps
        .iter()
        .map(|deps| {
            let mut out: Vec<usize> = deps
                .iter()
                .flat_map(|t| match *t {
                    Target::Task(j) => vec![j],
                    Target::Phase(q) => (0..phase_of.len()).filter(|&j| phase_of[j] == q).collect(),
                })
                .collect();
            out.sort_unstable();
            out.dedup();
            out
        })
        .collect()
}

/// The smallest-index-first topological order, computed the slow obvious way.
fn expected_order(prereqs: &[Vec<usize>]) -> Vec<usize> {
    let mut done = vec![false; prereqs.len()];
    let mut order = Vec::new();
    while order.len() < prereqs.len() {
        let next = (0..prereqs.len())
            .find(|&i| !done[i] && prereqs[i].iter().all(|&j| done[j]))
            .expect("acyclic by construction");
        done[next] = true;
        order.push(next);
    }
    order
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn positions_are_the_wbs_first_topological_order(shape in acyclic()) {
        let d = decompose_document(to_document(&shape)).expect("acyclic plans decompose");
        let positions: Vec<u32> = d.phases.iter().flat_map(|p| &p.tasks).map(|t| t.position).collect();
        let prereqs = prerequisites(&shape);
        for (i, before) in prereqs.iter().enumerate() {
            for &j in before {
                prop_assert!(positions[j] < positions[i], "task {i} runs before its prerequisite {j}");
            }
        }
        let mut order = vec![0usize; positions.len()];
        for (i, &p) in positions.iter().enumerate() {
            order[p as usize] = i;
        }
        prop_assert_eq!(order, expected_order(&prereqs));
        let declared: usize = shape.deps.iter().map(Vec::len).sum();
        prop_assert_eq!(d.counts.dependencies as usize, declared);
    }

    #[test]
    fn an_added_cycle_is_always_rejected(
        shape in acyclic(),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..5),
    ) {
        let n: usize = shape.sizes.iter().sum();
        let mut chain: Vec<usize> = picks.iter().map(|ix| ix.index(n)).collect();
        chain.dedup();
        chain.sort_unstable();
        chain.dedup();
        let mut shape = shape;
        // chain[0] waits for chain[1] ... and the last waits for chain[0].
        for (k, &task) in chain.iter().enumerate() {
            let next = chain[(k + 1) % chain.len()];
            shape.deps[task].push(Target::Task(next));
        }
        match decompose_document(to_document(&shape)) {
            Err(ImportError::Cycle { cycle, .. }) => {
                prop_assert!(cycle.len() >= 2);
                prop_assert_eq!(cycle.first(), cycle.last());
            }
            other => prop_assert!(false, "expected a cycle error, got {:?}", other.map(|d| d.counts)),
        }
    }
}
