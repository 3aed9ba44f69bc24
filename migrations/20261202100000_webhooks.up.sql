-- Webhook subscriptions and their deliveries. A delivery row is the durable outbox of a
-- notification: the coordinator writes it in the transaction of the state change it announces,
-- and a delivery loop POSTs it until the receiver answers 2xx or the attempts are spent, so a
-- restart loses none.
CREATE TABLE webhooks (
    id          uuid PRIMARY KEY,
    url         text NOT NULL CHECK (url ~ '^https?://'),
    -- Event names this subscription receives (execution.completed, agent.offline, ...).
    events      text[] NOT NULL CHECK (cardinality(events) >= 1),
    -- The HMAC-SHA256 key of the signature header; shown once at creation.
    secret      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX webhooks_by_event ON webhooks USING gin (events);

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    webhook_id       uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event            text NOT NULL,
    -- The JSON body, exactly as it is signed and sent.
    payload          jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_status      integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz
);

-- The delivery loop: pending deliveries by due time.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
-- Delivery status through the API: a webhook's newest deliveries.
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, created_at DESC);

-- The windows of GET /api/admin/metrics read the history by recording time.
CREATE INDEX execution_events_by_recorded_at ON execution_events (recorded_at);
