DROP TABLE installation;
DROP TABLE nats_revocations;
ALTER TABLE agents
    DROP COLUMN deleted_at,
    DROP COLUMN nats_user_key;
