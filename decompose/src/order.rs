//! Execution order of tasks: a topological sort that keeps WBS order wherever it can.
//!
//! Kahn's algorithm with a min-heap on the WBS index: of all tasks whose prerequisites are done,
//! the one earliest in the WBS goes next. A plan whose dependencies all point backwards thus
//! keeps WBS order exactly, and any plan gets the same order on every import. When the sort
//! stalls, the remaining tasks contain a cycle, which is extracted so the error can name it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// `prereqs[i]` lists the tasks task `i` waits for (indices in WBS order, no duplicates).
/// Returns the tasks in execution order, or a cycle `[a, b, ..., a]` where each waits for the
/// next.
pub(crate) fn topological_order(prereqs: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let n = prereqs.len();
    let mut waiting: Vec<usize> = prereqs.iter().map(Vec::len).collect();
    let mut dependents = vec![Vec::new(); n];
    for (task, before) in prereqs.iter().enumerate() {
        for &b in before {
            dependents[b].push(task);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| waiting[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(task)) = ready.pop() {
        order.push(task);
        for &d in &dependents[task] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.push(Reverse(d));
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    Err(find_cycle(prereqs, &waiting))
}

/// Every task still waiting has a prerequisite that is still waiting, so walking from one
/// such prerequisite to the next must revisit a task: that loop is the cycle.
fn find_cycle(prereqs: &[Vec<usize>], waiting: &[usize]) -> Vec<usize> {
    let stuck = |i: usize| waiting[i] > 0;
    let Some(start) = (0..prereqs.len()).find(|&i| stuck(i)) else {
        return Vec::new();
    };
    let mut seen_at = vec![None; prereqs.len()];
    let mut path = Vec::new();
    let mut current = start;
    loop {
        if let Some(at) = seen_at[current] {
            let mut cycle: Vec<usize> = path[at..].to_vec();
            cycle.push(current);
            return cycle;
        }
        seen_at[current] = Some(path.len());
        path.push(current);
        match prereqs[current].iter().copied().filter(|&p| stuck(p)).min() {
            Some(next) => current = next,
            None => return Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backward_dependencies_keep_wbs_order() {
        assert_eq!(
            topological_order(&[vec![], vec![0], vec![0, 1]]),
            Ok(vec![0, 1, 2])
        );
    }

    #[test]
    fn a_forward_dependency_moves_only_what_it_must() {
        // Task 0 waits for task 2; task 1 is independent and keeps its place before 2.
        assert_eq!(
            topological_order(&[vec![2], vec![], vec![]]),
            Ok(vec![1, 2, 0])
        );
    }

    #[test]
    fn a_cycle_is_named_in_waits_for_order() {
        assert_eq!(
            topological_order(&[vec![], vec![2], vec![1]]),
            Err(vec![1, 2, 1])
        );
        assert_eq!(topological_order(&[vec![0]]), Err(vec![0, 0]));
    }
}
