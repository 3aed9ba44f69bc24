-- The history of every execution: what agents reported (applied or rejected, with the reason)
-- and what the coordinator did. The event id is the primary key: a redelivered or duplicated
-- event is dropped by ON CONFLICT and changes nothing.
CREATE TABLE execution_events (
    id            uuid PRIMARY KEY,
    -- Recording order; the keyset cursor of the history API.
    seq           bigint GENERATED ALWAYS AS IDENTITY,
    execution_id  uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    task_id       uuid,
    agent_id      uuid,
    attempt       integer,
    event_type    text NOT NULL,
    source        text NOT NULL CHECK (source IN ('agent', 'coordinator')),
    disposition   text NOT NULL CHECK (disposition IN ('applied', 'rejected')),
    reason        text,
    "timestamp"   timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    output        jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT execution_events_rejected_has_reason CHECK ((disposition = 'rejected') = (reason IS NOT NULL))
);

CREATE UNIQUE INDEX execution_events_seq ON execution_events (seq);
CREATE INDEX execution_events_history ON execution_events (execution_id, seq DESC);
CREATE INDEX execution_events_by_type ON execution_events (execution_id, event_type, seq DESC);
CREATE INDEX execution_events_by_task ON execution_events (execution_id, task_id, seq DESC);

-- Messages that could not be parsed or applied at all (malformed JSON, unknown execution):
-- kept with their raw bytes and the error, then terminated on JetStream so they never block it.
CREATE TABLE dead_letters (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject          text NOT NULL,
    -- The JetStream stream sequence: with the bytes, it makes a redelivery recognisable.
    stream_sequence  bigint,
    raw              bytea NOT NULL,
    error            text NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now()
);

-- A redelivery of the same message (same sequence, same bytes) is recorded once; a stream that
-- was recreated restarts its sequences, and its new messages differ in their bytes.
CREATE UNIQUE INDEX dead_letters_once_per_message ON dead_letters (stream_sequence, md5(raw));
