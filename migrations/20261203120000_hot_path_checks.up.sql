-- Less work per task on the path every event takes (docs/benchmarks.md, "Where the time goes").
--
-- The in-flight indexes had the task's status in their predicate, and an update that changes a
-- column an index reads is never HOT: every dispatch, start and completion wrote all four
-- indexes of the task's row again. Their two readers (the executions an agent's coming or going
-- affects, and the count of busy agents) reach the tasks through the unfinished executions
-- instead (executions_by_status, then execution_tasks_by_execution).
DROP INDEX execution_tasks_in_flight_by_agent;
DROP INDEX execution_subtasks_in_flight_by_agent;
-- Foreign-key checks ran once per row: a KEY SHARE lock on the execution of every history row
-- (a row the transaction already holds FOR UPDATE), and on the agent of every assignment (four
-- agents shared by every transaction at once: multixacts, written to the WAL). Executions are
-- never deleted, agents only marked deleted (deleted_at), and only the coordinator writes
-- these columns, for executions it holds locked and agents of its directory.
ALTER TABLE execution_events DROP CONSTRAINT execution_events_execution_id_fkey;
ALTER TABLE execution_tasks DROP CONSTRAINT execution_tasks_assigned_agent_id_fkey;
ALTER TABLE execution_subtasks DROP CONSTRAINT execution_subtasks_assigned_agent_id_fkey;
