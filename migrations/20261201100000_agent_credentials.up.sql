-- Agents' credentials beyond their token: the NATS user each agent was given (when NATS has
-- authentication), users revoked when an agent is deleted or its credentials rotated, and the
-- installation id that ties a database to its NATS streams.
ALTER TABLE agents
    ADD COLUMN nats_user_key text,
    ADD COLUMN deleted_at    timestamptz;

-- Users whose NATS credentials no longer connect; pushed to the NATS servers in the account.
CREATE TABLE nats_revocations (
    user_key    text PRIMARY KEY,
    agent_id    uuid NOT NULL REFERENCES agents (id),
    revoked_at  timestamptz NOT NULL DEFAULT now()
);

-- One row: this database's installation. The same id is written on the NATS streams, and a
-- replica whose database and streams disagree refuses to start.
CREATE TABLE installation (
    id          uuid PRIMARY KEY,
    singleton   boolean NOT NULL DEFAULT true CONSTRAINT installation_one_row UNIQUE CHECK (singleton),
    created_at  timestamptz NOT NULL DEFAULT now()
);
