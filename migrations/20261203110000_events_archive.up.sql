-- The archive of the history. Events of executions that ended (COMPLETED, FAILED, CANCELLED)
-- longer ago than the retention move here from execution_events, in short batches
-- (`planexec events archive`, or the coordinator's schedule with PLANEXE_EVENTS_RETENTION_DAYS),
-- so that the live table holds only what is recent. The columns are the history's; `seq` keeps
-- the value it had there, so an archived page has the same order and cursors as the live one.
-- No primary key or other index than the one read: a move writes as little as it can.
CREATE TABLE execution_events_archive (
    id            uuid NOT NULL,
    seq           bigint NOT NULL,
    execution_id  uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    task_id       uuid,
    agent_id      uuid,
    attempt       integer,
    event_type    text NOT NULL,
    source        text NOT NULL CHECK (source IN ('agent', 'coordinator')),
    disposition   text NOT NULL CHECK (disposition IN ('applied', 'rejected')),
    reason        text,
    "timestamp"   timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL,
    output        jsonb NOT NULL,
    CONSTRAINT execution_events_archive_rejected_has_reason CHECK ((disposition = 'rejected') = (reason IS NOT NULL))
);

-- The one read: an execution's archived events by its keyset order (filters are applied to it).
CREATE INDEX execution_events_archive_history ON execution_events_archive (execution_id, seq DESC);

-- When the execution's history was moved to the archive; NULL while it is in execution_events.
-- Events an execution refuses after that (late reports) are recorded in execution_events.
ALTER TABLE executions ADD COLUMN events_archived_at timestamptz;

-- What the archival looks for: ended executions whose history is still live, by end time.
CREATE INDEX executions_to_archive ON executions (finished_at)
    WHERE events_archived_at IS NULL AND status IN ('COMPLETED', 'FAILED', 'CANCELLED');
