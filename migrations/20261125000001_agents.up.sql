-- Agents: who does the work. The token is stored only as a SHA-256 hash.
-- last_heartbeat is flushed periodically from memory, never written once per beat.
CREATE TABLE agents (
    id              uuid PRIMARY KEY,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role            text NOT NULL DEFAULT 'assistant',
    capabilities    text[] NOT NULL CHECK (cardinality(capabilities) >= 1),
    status          text NOT NULL DEFAULT 'online' CHECK (status IN ('online', 'offline')),
    last_heartbeat  timestamptz,
    token_hash      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The offline sweep: online agents ordered by their last sign of life.
CREATE INDEX agents_online_by_heartbeat ON agents (last_heartbeat) WHERE status = 'online';
-- Listing and filtering by status.
CREATE INDEX agents_by_status ON agents (status, created_at DESC);
-- Routing by capability (`capabilities @> ARRAY[...]`).
CREATE INDEX agents_by_capability ON agents USING gin (capabilities);
