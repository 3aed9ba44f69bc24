ALTER TABLE execution_subtasks ADD CONSTRAINT execution_subtasks_assigned_agent_id_fkey
    FOREIGN KEY (assigned_agent_id) REFERENCES agents (id);
ALTER TABLE execution_tasks ADD CONSTRAINT execution_tasks_assigned_agent_id_fkey
    FOREIGN KEY (assigned_agent_id) REFERENCES agents (id);
ALTER TABLE execution_events ADD CONSTRAINT execution_events_execution_id_fkey
    FOREIGN KEY (execution_id) REFERENCES executions (id) ON DELETE CASCADE;
CREATE INDEX execution_subtasks_in_flight_by_agent ON execution_subtasks (assigned_agent_id)
    WHERE status IN ('dispatched', 'running');
CREATE INDEX execution_tasks_in_flight_by_agent ON execution_tasks (assigned_agent_id)
    WHERE status IN ('dispatched', 'running');
