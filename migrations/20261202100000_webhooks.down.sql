DROP INDEX execution_events_by_recorded_at;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
