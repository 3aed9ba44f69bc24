-- Less work per task on the tables every batch writes (docs/benchmarks.md, "Where the time
-- goes"): every event inserted maintained six indexes, every task and execution update wrote a
-- new row version on a full page.
--
-- seq is an identity column, unique by construction; every query orders by it within one
-- execution (execution_events_history and friends), none across the table.
DROP INDEX execution_events_seq;
-- The windows of /api/admin/metrics read events by recorded_at, which grows with the table's
-- physical order: a BRIN index answers them at a fraction of a B-tree's upkeep per insert.
DROP INDEX execution_events_by_recorded_at;
CREATE INDEX execution_events_by_recorded_at ON execution_events USING brin (recorded_at);
-- Room on each page for the next version of a row, so that updates which change no indexed
-- column stay on the page (HOT) and leave the indexes alone. Applies to pages written from now on.
ALTER TABLE executions SET (fillfactor = 70);
ALTER TABLE execution_tasks SET (fillfactor = 80);
ALTER TABLE execution_subtasks SET (fillfactor = 80);
