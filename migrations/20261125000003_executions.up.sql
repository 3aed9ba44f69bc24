-- Executions and their tasks. Only the coordinator writes these tables, always under a lock on
-- the execution's row (SELECT ... FOR UPDATE), which serialises work per execution across
-- coordinator replicas.
CREATE TABLE executions (
    id                  uuid PRIMARY KEY,
    plan_id             uuid NOT NULL REFERENCES plans (id),
    agent_id            uuid NOT NULL REFERENCES agents (id),
    status              text NOT NULL CHECK (status IN ('CREATED', 'QUEUED', 'RUNNING', 'PAUSED',
                            'BLOCKED', 'NEEDS_REVIEW', 'COMPLETED', 'FAILED', 'CANCELLED')),
    progress            double precision NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    current_task_id     uuid,
    current_task_wbs    text,
    current_task_title  text,
    blocked_reason      text CHECK (blocked_reason IN ('retries_exhausted', 'task_failed',
                            'agent_offline', 'no_capable_agent')),
    blocked_detail      text,
    max_parallel        integer NOT NULL DEFAULT 1 CHECK (max_parallel >= 1),
    routing             text NOT NULL DEFAULT 'agent' CHECK (routing IN ('agent', 'any_capable')),
    leaves_total        integer NOT NULL DEFAULT 0,
    leaves_done         integer NOT NULL DEFAULT 0,
    -- Bumped by every committed change.
    version             bigint NOT NULL DEFAULT 0,
    -- The earliest stored deadline among its tasks (lease, retry, unconfirmed publish):
    -- the scheduler wakes the execution then. Time is data.
    next_wakeup_at      timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    CONSTRAINT executions_blocked_has_reason CHECK ((status = 'BLOCKED') = (blocked_reason IS NOT NULL))
);

CREATE INDEX executions_newest_first ON executions (created_at DESC, id DESC);
CREATE INDEX executions_by_plan ON executions (plan_id, created_at DESC, id DESC);
CREATE INDEX executions_by_agent ON executions (agent_id, created_at DESC, id DESC);
CREATE INDEX executions_by_status ON executions (status, created_at DESC, id DESC);
CREATE INDEX executions_due ON executions (next_wakeup_at) WHERE next_wakeup_at IS NOT NULL;

-- Level-2 tasks of an execution. A task without subtasks is a leaf and is dispatched itself;
-- a task with subtasks completes when all of them have.
CREATE TABLE execution_tasks (
    id                 uuid PRIMARY KEY,
    execution_id       uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    plan_task_id       uuid NOT NULL REFERENCES plan_tasks (id),
    wbs                text NOT NULL,
    position           integer NOT NULL,
    title              text NOT NULL,
    is_leaf            boolean NOT NULL,
    capability         text,
    -- execution_tasks ids this task waits for.
    depends_on         uuid[] NOT NULL DEFAULT '{}',
    status             text NOT NULL CHECK (status IN ('pending', 'ready', 'dispatched', 'running',
                           'retry_wait', 'completed', 'failed', 'cancelled', 'skipped')),
    -- Fencing token: bumped at every dispatch.
    attempt            integer NOT NULL DEFAULT 0,
    failures           integer NOT NULL DEFAULT 0,
    max_attempts       integer NOT NULL CHECK (max_attempts > 0),
    timeout_seconds    integer NOT NULL CHECK (timeout_seconds > 0),
    assigned_agent_id  uuid REFERENCES agents (id),
    progress           double precision NOT NULL DEFAULT 0,
    lease_deadline     timestamptz,
    next_attempt_at    timestamptz,
    dispatched_at      timestamptz,
    -- NULL while the dispatch of the current attempt is not confirmed by JetStream (outbox).
    published_at       timestamptz,
    started_at         timestamptz,
    finished_at        timestamptz,
    result             jsonb,
    error              text,
    CONSTRAINT execution_tasks_wbs_unique UNIQUE (execution_id, wbs)
);

CREATE INDEX execution_tasks_by_execution ON execution_tasks (execution_id, position);
CREATE INDEX execution_tasks_in_flight_by_agent ON execution_tasks (assigned_agent_id)
    WHERE status IN ('dispatched', 'running');

-- Level-3 subtasks: always leaves.
CREATE TABLE execution_subtasks (
    id                 uuid PRIMARY KEY,
    execution_id       uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    task_id            uuid NOT NULL REFERENCES execution_tasks (id) ON DELETE CASCADE,
    plan_subtask_id    uuid NOT NULL REFERENCES plan_subtasks (id),
    wbs                text NOT NULL,
    position           integer NOT NULL,
    title              text NOT NULL,
    capability         text NOT NULL,
    status             text NOT NULL CHECK (status IN ('pending', 'ready', 'dispatched', 'running',
                           'retry_wait', 'completed', 'failed', 'cancelled', 'skipped')),
    attempt            integer NOT NULL DEFAULT 0,
    failures           integer NOT NULL DEFAULT 0,
    max_attempts       integer NOT NULL CHECK (max_attempts > 0),
    timeout_seconds    integer NOT NULL CHECK (timeout_seconds > 0),
    assigned_agent_id  uuid REFERENCES agents (id),
    progress           double precision NOT NULL DEFAULT 0,
    lease_deadline     timestamptz,
    next_attempt_at    timestamptz,
    dispatched_at      timestamptz,
    published_at       timestamptz,
    started_at         timestamptz,
    finished_at        timestamptz,
    result             jsonb,
    error              text,
    CONSTRAINT execution_subtasks_wbs_unique UNIQUE (execution_id, wbs)
);

CREATE INDEX execution_subtasks_by_execution ON execution_subtasks (execution_id, position);
CREATE INDEX execution_subtasks_by_task ON execution_subtasks (task_id, position);
CREATE INDEX execution_subtasks_in_flight_by_agent ON execution_subtasks (assigned_agent_id)
    WHERE status IN ('dispatched', 'running');
