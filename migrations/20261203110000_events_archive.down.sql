-- The archived events go back to the history before the archive is dropped: reverting this
-- migration loses no event. `seq` keeps its archived value (the live table never reuses one).
INSERT INTO execution_events (id, seq, execution_id, task_id, agent_id, attempt, event_type, source,
                              disposition, reason, "timestamp", recorded_at, output)
OVERRIDING SYSTEM VALUE
SELECT id, seq, execution_id, task_id, agent_id, attempt, event_type, source, disposition, reason,
       "timestamp", recorded_at, output
  FROM execution_events_archive
ON CONFLICT DO NOTHING;

DROP INDEX executions_to_archive;
ALTER TABLE executions DROP COLUMN events_archived_at;
DROP TABLE execution_events_archive;
