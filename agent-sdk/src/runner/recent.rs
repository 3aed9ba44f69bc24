//! Attempts seen lately (cancelled here, or run to their end here), so that an assignment
//! arriving after its own cancel or after it ran (a message delayed or delivered again) is skipped.

use std::collections::{HashSet, VecDeque};

use crate::events::TaskKey;

/// A set that forgets its oldest entries beyond `capacity`, so it cannot grow without bound.
#[derive(Debug)]
pub(crate) struct Recent {
    order: VecDeque<TaskKey>,
    members: HashSet<TaskKey>,
    capacity: usize,
}

impl Recent {
    pub fn new(capacity: usize) -> Self {
        Self {
            order: VecDeque::new(),
            members: HashSet::new(),
            capacity: capacity.max(1),
        }
    }

    pub fn insert(&mut self, key: TaskKey) {
        if !self.members.insert(key) {
            return;
        }
        self.order.push_back(key);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.members.remove(&old);
            }
        }
    }

    pub fn contains(&self, key: &TaskKey) -> bool {
        self.members.contains(key)
    }
}

#[cfg(test)]
mod tests {
    use planexec_schemas::new_id;

    use super::*;

    fn key(attempt: u32) -> TaskKey {
        TaskKey {
            execution_id: new_id(),
            task_id: new_id(),
            attempt,
        }
    }

    #[test]
    fn a_cancelled_attempt_is_remembered_but_not_other_attempts_of_the_task() {
        let mut recent = Recent::new(10);
        let first = key(1);
        recent.insert(first);
        assert!(recent.contains(&first));
        let second = TaskKey {
            attempt: 2,
            ..first
        };
        assert!(!recent.contains(&second));
    }

    #[test]
    fn the_oldest_entries_are_forgotten_beyond_the_capacity() {
        let mut recent = Recent::new(2);
        let (a, b, c) = (key(1), key(1), key(1));
        recent.insert(a);
        recent.insert(b);
        recent.insert(b);
        recent.insert(c);
        assert!(!recent.contains(&a));
        assert!(recent.contains(&b) && recent.contains(&c));
    }
}
