//! The state machine's behaviour, input by input.

use planexec_coordinator::machine::{Change, Input, Rejection, Resolution};
use planexec_schemas::event::AgentEventBody;
use planexec_schemas::execution::{BlockedReason, ExecutionStatus, RoutingPolicy, TaskStatus};

use super::fixture::*;

fn started(shape: &[usize]) -> Run {
    let larry = id(7);
    let mut run = Run::new(
        execution(shape, &[], larry),
        agents(&[(larry, true, &[CAP])]),
    );
    run.ok(Input::Start {
        needs_review: false,
    });
    run
}

fn statuses(changes: &[Change]) -> Vec<(ExecutionStatus, ExecutionStatus)> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::Execution { from, to, .. } => Some((*from, *to)),
            _ => None,
        })
        .collect()
}

#[test]
fn start_queues_then_runs_with_the_first_leaf_dispatched_to_the_execution_agent() {
    let larry = id(7);
    let mut run = Run::new(
        execution(&[0, 0], &[], larry),
        agents(&[(larry, true, &[CAP])]),
    );
    let changes = run.ok(Input::Start {
        needs_review: false,
    });
    assert_eq!(
        statuses(&changes),
        [
            (ExecutionStatus::Created, ExecutionStatus::Queued),
            (ExecutionStatus::Queued, ExecutionStatus::Running)
        ]
    );
    let first = run.leaf_ids()[0];
    assert!(changes.contains(&Change::Dispatched {
        index: 0,
        agent: larry,
        attempt: 1
    }));
    assert_eq!(run.in_flight(), [first]);
    assert_eq!(run.state.current, Some(0));
    assert_eq!(run.state.started_at, Some(t0()));
}

#[test]
fn leaves_run_in_wbs_order_and_the_execution_completes_at_100_percent() {
    let mut run = started(&[2, 0, 3]);
    let order = run.leaf_ids();
    let mut dispatched = Vec::new();
    for _ in 0..order.len() {
        let current = run.in_flight();
        assert_eq!(current.len(), 1, "strict WBS order runs one leaf at a time");
        dispatched.push(current[0]);
        run.complete(current[0]);
    }
    assert_eq!(dispatched, order);
    assert_eq!(run.state.status, ExecutionStatus::Completed);
    assert_eq!(run.state.progress, 100.0);
    assert!(run.state.finished_at.is_some());
    // Tasks with subtasks completed with them.
    assert!(
        run.state
            .nodes
            .iter()
            .all(|n| n.status == TaskStatus::Completed)
    );
}

#[test]
fn a_task_with_subtasks_runs_while_they_do_and_completes_with_the_last() {
    let mut run = started(&[2]);
    let subtasks = run.leaf_ids();
    assert_eq!(run.state.nodes[0].status, TaskStatus::Running);
    run.complete(subtasks[0]);
    assert_eq!(run.state.nodes[0].status, TaskStatus::Running);
    run.complete(subtasks[1]);
    assert_eq!(run.state.nodes[0].status, TaskStatus::Completed);
}

#[test]
fn progress_counts_done_leaves() {
    let mut run = started(&[0, 0, 0, 0]);
    let first = run.in_flight()[0];
    run.report(
        first,
        AgentEventBody::TaskProgress {
            progress: 50.0,
            message: None,
        },
    )
    .expect("progress accepted");
    assert_eq!(
        run.state.progress, 0.0,
        "a half-done leaf is not a done leaf"
    );
    run.complete(first);
    assert_eq!(run.state.progress, 25.0);
}

#[test]
fn pause_stops_dispatch_and_resume_continues() {
    let mut run = started(&[0, 0]);
    let [first, second] = run.leaf_ids()[..] else {
        panic!("two leaves")
    };
    run.ok(Input::Pause);
    assert_eq!(run.state.status, ExecutionStatus::Paused);
    run.complete(first);
    assert_eq!(
        run.status_of(first),
        TaskStatus::Completed,
        "running tasks may finish while paused"
    );
    assert_eq!(
        run.status_of(second),
        TaskStatus::Ready,
        "but nothing new is dispatched"
    );
    let changes = run.ok(Input::Resume);
    assert_eq!(
        statuses(&changes),
        [(ExecutionStatus::Paused, ExecutionStatus::Running)]
    );
    assert_eq!(run.status_of(second), TaskStatus::Dispatched);
}

#[test]
fn cancel_cancels_open_tasks_and_revokes_the_running_one() {
    let mut run = started(&[0, 0, 0]);
    let leaves = run.leaf_ids();
    let changes = run.ok(Input::Cancel {
        reason: "operator".into(),
    });
    assert!(changes.iter().any(
        |c| matches!(c, Change::Revoked { index: 0, agent, attempt: 1, .. } if *agent == id(7))
    ));
    assert_eq!(run.state.status, ExecutionStatus::Cancelled);
    assert!(
        leaves
            .iter()
            .all(|l| run.status_of(*l) == TaskStatus::Cancelled)
    );
    let late = run.report(
        leaves[0],
        AgentEventBody::TaskComplete {
            output: serde_json::Value::Null,
        },
    );
    assert_eq!(
        late.map(|_| ()),
        Err(Rejection::ExecutionFinished(ExecutionStatus::Cancelled))
    );
}

#[test]
fn a_failed_task_is_retried_with_exponential_back_off_then_blocks_with_retries_exhausted() {
    let mut run = started(&[0, 0]);
    let leaf = run.leaf_ids()[0];
    run.fail(leaf, true);
    assert_eq!(run.status_of(leaf), TaskStatus::RetryWait);
    let node = &run.state.nodes[0];
    assert_eq!(
        node.next_attempt_at,
        Some(run.now + chrono::Duration::seconds(2)),
        "first back-off is 2 s"
    );

    run.advance(1);
    run.ok(Input::Tick);
    assert_eq!(run.status_of(leaf), TaskStatus::RetryWait, "not yet due");
    run.advance(1);
    run.ok(Input::Tick);
    assert_eq!(
        (run.status_of(leaf), run.state.nodes[0].attempt),
        (TaskStatus::Dispatched, 2)
    );

    run.fail(leaf, true);
    assert_eq!(
        run.state.nodes[0].next_attempt_at,
        Some(run.now + chrono::Duration::seconds(4)),
        "doubles"
    );
    run.advance(4);
    run.ok(Input::Tick);
    run.fail(leaf, true);
    assert_eq!(
        run.status_of(leaf),
        TaskStatus::Failed,
        "three attempts by default"
    );
    assert_eq!(run.state.status, ExecutionStatus::Blocked);
    assert_eq!(
        run.state.blocked_reason,
        Some(BlockedReason::RetriesExhausted)
    );

    // Resuming a block of failures retries with a fresh budget.
    run.ok(Input::Resume);
    assert_eq!(
        (run.status_of(leaf), run.state.nodes[0].attempt),
        (TaskStatus::Dispatched, 4)
    );
    assert_eq!(run.state.status, ExecutionStatus::Running);
}

#[test]
fn a_give_up_error_blocks_at_once_and_skip_unblocks() {
    let mut run = started(&[0, 0]);
    let [first, second] = run.leaf_ids()[..] else {
        panic!("two leaves")
    };
    run.fail(first, false);
    assert_eq!(run.state.blocked_reason, Some(BlockedReason::TaskFailed));
    run.ok(Input::Resolve {
        task: first,
        action: Resolution::Skip,
    });
    assert_eq!(run.status_of(first), TaskStatus::Skipped);
    assert_eq!(run.status_of(second), TaskStatus::Dispatched);
    assert_eq!(run.state.status, ExecutionStatus::Running);
}

#[test]
fn an_operator_completes_a_task_in_flight_and_its_holder_is_told_to_stop() {
    let mut run = started(&[0, 0]);
    let [first, second] = run.leaf_ids()[..] else {
        panic!("two leaves")
    };
    let output = serde_json::json!({"summary": "done by hand"});
    let changes = run.ok(Input::Resolve {
        task: first,
        action: Resolution::Complete {
            output: output.clone(),
        },
    });
    assert_eq!(run.status_of(first), TaskStatus::Completed);
    assert!(
        changes.iter().any(|c| matches!(c, Change::Revoked { .. })),
        "{changes:?}"
    );
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::MarkedComplete { output: o, .. } if *o == output)),
        "{changes:?}"
    );
    assert_eq!(run.status_of(second), TaskStatus::Dispatched);
    assert_eq!(
        run.step(Input::Resolve {
            task: first,
            action: Resolution::Complete {
                output: serde_json::Value::Null
            },
        })
        .map(|_| ()),
        Err(Rejection::NotApplicable(
            "the task is already completed".into()
        ))
    );
}

#[test]
fn events_from_a_superseded_attempt_or_another_agent_are_rejected() {
    let mut run = started(&[0]);
    let leaf = run.leaf_ids()[0];
    run.fail(leaf, true);
    run.advance(2);
    run.ok(Input::Tick);
    let stale = run.event(
        leaf,
        1,
        AgentEventBody::TaskComplete {
            output: serde_json::Value::Null,
        },
    );
    assert_eq!(
        run.step(Input::Agent {
            sender: id(7),
            event: stale
        })
        .map(|_| ()),
        Err(Rejection::StaleAttempt { current: 2, got: 1 })
    );
    let future = run.event(leaf, 3, AgentEventBody::TaskStarted {});
    assert_eq!(
        run.step(Input::Agent {
            sender: id(7),
            event: future
        })
        .map(|_| ()),
        Err(Rejection::UnknownAttempt { current: 2, got: 3 })
    );
    let intruder = run.event(
        leaf,
        2,
        AgentEventBody::TaskComplete {
            output: serde_json::Value::Null,
        },
    );
    assert_eq!(
        run.step(Input::Agent {
            sender: id(99),
            event: intruder
        })
        .map(|_| ()),
        Err(Rejection::WrongAgent {
            sender: id(99),
            assignee: Some(id(7))
        })
    );
    let unknown = run.event(id(4242), 1, AgentEventBody::TaskStarted {});
    assert_eq!(
        run.step(Input::Agent {
            sender: id(7),
            event: unknown
        })
        .map(|_| ()),
        Err(Rejection::UnknownTask(id(4242)))
    );
    assert_eq!(
        run.status_of(leaf),
        TaskStatus::Dispatched,
        "rejections change nothing"
    );
}

#[test]
fn a_task_may_complete_before_its_start_event_arrives_and_a_late_start_is_rejected() {
    let mut run = started(&[0, 0]);
    let leaf = run.leaf_ids()[0];
    let attempt = run.state.nodes[0].attempt;
    let started = run.event(leaf, attempt, AgentEventBody::TaskStarted {});
    run.complete(leaf);
    assert_eq!(run.status_of(leaf), TaskStatus::Completed);
    assert_eq!(
        run.step(Input::Agent {
            sender: id(7),
            event: started
        })
        .map(|_| ()),
        Err(Rejection::TaskNotInFlight {
            status: TaskStatus::Completed
        })
    );
}

#[test]
fn invalid_operator_transitions_name_the_current_state_and_the_allowed_ones() {
    let mut run = started(&[0]);
    run.complete(run.leaf_ids()[0]);
    match run.step(Input::Pause) {
        Err(Rejection::InvalidTransition(e)) => {
            assert_eq!(
                (e.from, e.to),
                (ExecutionStatus::Completed, ExecutionStatus::Paused)
            );
            assert!(e.allowed.is_empty());
        }
        other => panic!("pausing a completed execution gave {other:?}"),
    }
    let mut run = started(&[0]);
    match run.step(Input::Resume) {
        Err(Rejection::InvalidTransition(e)) => assert_eq!(
            e.allowed,
            [
                ExecutionStatus::Paused,
                ExecutionStatus::Blocked,
                ExecutionStatus::Completed,
                ExecutionStatus::Failed,
                ExecutionStatus::Cancelled
            ]
        ),
        other => panic!("resuming a running execution gave {other:?}"),
    }
}

#[test]
fn a_running_task_past_its_timeout_is_revoked_and_retried() {
    let mut run = started(&[0]);
    let leaf = run.leaf_ids()[0];
    run.report(leaf, AgentEventBody::TaskStarted {})
        .expect("start accepted");
    run.advance(61);
    let changes = run.ok(Input::Tick);
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::TimedOut { attempt: 1, .. }))
    );
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::Revoked { attempt: 1, .. }))
    );
    assert_eq!(run.status_of(leaf), TaskStatus::RetryWait);
}

#[test]
fn an_unconfirmed_dispatch_is_published_again_after_the_grace() {
    let mut run = started(&[0]);
    run.advance(6);
    let changes = run.ok(Input::Tick);
    assert_eq!(
        changes,
        [Change::Republish {
            index: 0,
            agent: id(7),
            attempt: 1
        }]
    );
    run.state.nodes[0].published = true;
    assert_eq!(run.ok(Input::Tick), []);
}

#[test]
fn independent_branches_run_in_parallel_across_capable_agents() {
    let (a, b, c) = (id(7), id(8), id(9));
    let mut state = execution(&[0, 0, 0, 0], &[(3, 0)], a);
    state.max_parallel = 3;
    state.routing = RoutingPolicy::AnyCapable;
    let mut run = Run::new(
        state,
        agents(&[(a, true, &[CAP]), (b, true, &[CAP]), (c, true, &[CAP])]),
    );
    run.ok(Input::Start {
        needs_review: false,
    });
    let leaves = run.leaf_ids();
    assert_eq!(run.in_flight(), leaves[..3]);
    let mut holders: Vec<_> = run.state.nodes[..3]
        .iter()
        .filter_map(|n| n.assigned_agent)
        .collect();
    holders.sort();
    assert_eq!(holders, [a, b, c], "each agent takes one");
    assert_eq!(
        run.status_of(leaves[3]),
        TaskStatus::Pending,
        "1.4 waits for 1.1"
    );
    run.complete(leaves[1]);
    assert_eq!(run.status_of(leaves[3]), TaskStatus::Pending);
    run.complete(leaves[0]);
    assert_eq!(run.status_of(leaves[3]), TaskStatus::Dispatched);
}

#[test]
fn no_capable_agent_blocks_until_one_registers() {
    let larry = id(7);
    let mut state = execution(&[0], &[], larry);
    state.routing = RoutingPolicy::AnyCapable;
    let mut run = Run::new(state, agents(&[(larry, true, &["make_phone_call"])]));
    run.ok(Input::Start {
        needs_review: false,
    });
    assert_eq!(run.state.status, ExecutionStatus::Blocked);
    assert_eq!(
        run.state.blocked_reason,
        Some(BlockedReason::NoCapableAgent)
    );
    run.agents.insert(id(8), true, [CAP.to_owned()]);
    run.ok(Input::AgentsChanged);
    assert_eq!(run.state.status, ExecutionStatus::Running);
    assert_eq!(run.state.nodes[0].assigned_agent, Some(id(8)));
}

#[test]
fn an_agent_going_silent_blocks_its_executions_until_it_returns() {
    let mut run = started(&[0, 0]);
    run.agents.insert(id(7), false, [CAP.to_owned()]);
    run.ok(Input::AgentsChanged);
    assert_eq!(
        (run.state.status, run.state.blocked_reason),
        (ExecutionStatus::Blocked, Some(BlockedReason::AgentOffline))
    );
    run.agents.insert(id(7), true, [CAP.to_owned()]);
    run.ok(Input::AgentsChanged);
    assert_eq!(run.state.status, ExecutionStatus::Running);
}

#[test]
fn a_low_confidence_plan_waits_in_needs_review_until_approved() {
    let larry = id(7);
    let mut run = Run::new(
        execution(&[0], &[], larry),
        agents(&[(larry, true, &[CAP])]),
    );
    run.ok(Input::Start { needs_review: true });
    assert_eq!(run.state.status, ExecutionStatus::NeedsReview);
    assert!(run.in_flight().is_empty());
    run.ok(Input::Tick);
    assert!(run.in_flight().is_empty(), "nothing starts before approval");
    run.ok(Input::Approve);
    assert_eq!(run.state.status, ExecutionStatus::Running);
    assert_eq!(run.in_flight().len(), 1);
}

#[test]
fn reassigning_a_running_task_revokes_it_and_dispatches_a_new_attempt_to_the_new_agent() {
    let (larry, bob) = (id(7), id(8));
    let mut run = Run::new(
        execution(&[0], &[], larry),
        agents(&[(larry, true, &[CAP]), (bob, true, &[CAP])]),
    );
    run.ok(Input::Start {
        needs_review: false,
    });
    let leaf = run.leaf_ids()[0];
    let changes = run.ok(Input::Reassign {
        task: Some(leaf),
        to: bob,
    });
    assert!(changes.contains(&Change::Revoked {
        index: 0,
        agent: larry,
        attempt: 1,
        reason: "reassigned to another agent".into()
    }));
    assert_eq!(run.state.nodes[0].assigned_agent, Some(bob));
    assert_eq!(run.state.nodes[0].attempt, 2);
}

#[test]
fn a_released_task_is_dispatched_again_without_counting_as_a_failure() {
    let mut run = started(&[0]);
    let leaf = run.leaf_ids()[0];
    run.report(
        leaf,
        AgentEventBody::TaskReleased {
            reason: Some("shutting down".into()),
        },
    )
    .expect("release accepted");
    let node = &run.state.nodes[0];
    assert_eq!(
        (node.status, node.attempt, node.failures),
        (TaskStatus::Dispatched, 2, 0)
    );
}

#[test]
fn a_task_depending_on_a_task_with_subtasks_starts_when_the_last_subtask_completes() {
    let larry = id(7);
    let mut state = execution(&[2, 0], &[(1, 0)], larry);
    state.max_parallel = 2;
    let mut run = Run::new(state, agents(&[(larry, true, &[CAP])]));
    run.ok(Input::Start {
        needs_review: false,
    });
    let leaves = run.leaf_ids();
    assert_eq!(
        run.in_flight(),
        leaves[..2],
        "both subtasks run in parallel; 1.2 waits"
    );
    run.complete(leaves[0]);
    assert_eq!(run.status_of(leaves[2]), TaskStatus::Pending);
    run.complete(leaves[1]);
    assert_eq!(
        run.status_of(leaves[2]),
        TaskStatus::Dispatched,
        "1.2 starts once 1.1 is done"
    );
}
