-- Plans as imported and decomposed: phases and tasks (level 2) in plan_tasks, subtasks
-- (level 3) in plan_subtasks, explicit dependencies between tasks in plan_task_dependencies.
-- A leaf (a subtask, or a task without subtasks) carries the capability it needs.
CREATE TABLE plans (
    id                  uuid PRIMARY KEY,
    title               text NOT NULL,
    description         text NOT NULL DEFAULT '',
    source_kind         text NOT NULL CHECK (source_kind IN ('planexe', 'document', 'manual')),
    source_reference    text,
    planexe_project_id  text,
    status              text NOT NULL CHECK (status IN ('ready', 'needs_review', 'approved')),
    confidence          double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    review_reasons      text[] NOT NULL DEFAULT '{}',
    warnings            text[] NOT NULL DEFAULT '{}',
    -- PlanCounts as the importer counted them (phases, tasks, subtasks, dependencies, ...).
    counts              jsonb NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    approved_at         timestamptz
);

-- Newest-first listing with a keyset cursor.
CREATE INDEX plans_newest_first ON plans (created_at DESC, id DESC);

CREATE TABLE plan_tasks (
    id                    uuid PRIMARY KEY,
    plan_id               uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    -- The phase of a task; NULL for a phase.
    parent_id             uuid REFERENCES plan_tasks (id) ON DELETE CASCADE,
    kind                  text NOT NULL CHECK (kind IN ('phase', 'task')),
    wbs                   text NOT NULL,
    -- Topological execution order among tasks; phases are numbered in WBS order.
    position              integer NOT NULL,
    title                 text NOT NULL,
    description           text NOT NULL DEFAULT '',
    planexe_id            text,
    duration_days         jsonb,
    resources_needed      text[] NOT NULL DEFAULT '{}',
    -- Set for leaf tasks (tasks without subtasks) only.
    capability            text,
    capability_score      double precision,
    capability_evidence   text,
    capability_chosen_by  text,
    confidence            double precision CHECK (confidence BETWEEN 0 AND 1),
    params                jsonb NOT NULL DEFAULT 'null',
    timeout_seconds       integer CHECK (timeout_seconds > 0),
    max_attempts          integer CHECK (max_attempts > 0),
    CONSTRAINT plan_tasks_wbs_unique UNIQUE (plan_id, wbs),
    CONSTRAINT plan_tasks_phase_has_no_parent CHECK ((kind = 'phase') = (parent_id IS NULL))
);

CREATE INDEX plan_tasks_by_plan ON plan_tasks (plan_id, position);
CREATE INDEX plan_tasks_by_parent ON plan_tasks (parent_id);

CREATE TABLE plan_subtasks (
    id                    uuid PRIMARY KEY,
    plan_id               uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    task_id               uuid NOT NULL REFERENCES plan_tasks (id) ON DELETE CASCADE,
    wbs                   text NOT NULL,
    position              integer NOT NULL,
    title                 text NOT NULL,
    description           text NOT NULL DEFAULT '',
    planexe_id            text,
    resources_needed      text[] NOT NULL DEFAULT '{}',
    capability            text NOT NULL,
    capability_score      double precision NOT NULL,
    capability_evidence   text NOT NULL,
    capability_chosen_by  text NOT NULL,
    confidence            double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    params                jsonb NOT NULL DEFAULT 'null',
    timeout_seconds       integer CHECK (timeout_seconds > 0),
    max_attempts          integer CHECK (max_attempts > 0),
    CONSTRAINT plan_subtasks_wbs_unique UNIQUE (plan_id, wbs)
);

CREATE INDEX plan_subtasks_by_task ON plan_subtasks (task_id, position);
CREATE INDEX plan_subtasks_by_plan ON plan_subtasks (plan_id);

CREATE TABLE plan_task_dependencies (
    plan_id        uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    task_id        uuid NOT NULL REFERENCES plan_tasks (id) ON DELETE CASCADE,
    depends_on_id  uuid NOT NULL REFERENCES plan_tasks (id) ON DELETE CASCADE,
    explanation    text,
    PRIMARY KEY (task_id, depends_on_id),
    CONSTRAINT plan_task_dependencies_not_self CHECK (task_id <> depends_on_id)
);

CREATE INDEX plan_task_dependencies_by_plan ON plan_task_dependencies (plan_id);
CREATE INDEX plan_task_dependencies_by_target ON plan_task_dependencies (depends_on_id);
