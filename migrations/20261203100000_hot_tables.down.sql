ALTER TABLE execution_subtasks RESET (fillfactor);
ALTER TABLE execution_tasks RESET (fillfactor);
ALTER TABLE executions RESET (fillfactor);
DROP INDEX execution_events_by_recorded_at;
CREATE INDEX execution_events_by_recorded_at ON execution_events (recorded_at);
CREATE UNIQUE INDEX execution_events_seq ON execution_events (seq);
