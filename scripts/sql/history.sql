-- Synthetic history of the shape planexec records, for the benchmark scripts (bench-events,
-- bench-archive). A history is numbered from :origin; this inserts its events :first ..
-- :first + :count - 1 (so that a large one can be written in several statements), spread
-- round-robin over :executions executions whose ids are :'execution_prefix' followed by 1, 2, ...
-- in 12 hex digits (they must exist), in recording order (seq), as concurrent executions
-- interleave. Event :origin is timestamped :'t0', each later one :'step' later; agents' events
-- come from agent :'agent'.
--
-- Each attempt of a task is ten events, as an agent working on it reports them: task_dispatched
-- (the coordinator's), task_started, four task_progress with a message, a log line, the last
-- task_progress, task_complete with a result of a few hundred bytes, then another log line. One
-- task in 20 fails instead (task_failed, then the coordinator's task_retry_scheduled); one in 10
-- ends with a late task_progress the coordinator rejected. By count: task_progress 51%, log 18.5%,
-- task_dispatched and task_started 10% each, task_complete 9.5%, task_failed and
-- task_retry_scheduled 0.5% each; 1% rejected.
--
-- Ids are time-ordered like the UUIDv7 ids planexec makes (the primary key grows at its right
-- edge, as in production); the id of an execution's task number t is md5(execution id || ':' ||
-- t), so that a client can name any task without asking.
--   psql -v origin=0 -v first=0 -v count=1000000 -v executions=1 -v agent=<uuid> \
--        -v execution_prefix=00000000-0000-7000-a000- -v t0="$(date -Is)" -v step='10 ms' \
--        -f scripts/sql/history.sql
INSERT INTO execution_events (id, execution_id, task_id, agent_id, attempt, event_type, source, disposition,
                              reason, "timestamp", recorded_at, output)
SELECT (substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7' || lpad(to_hex(i % 4096), 3, '0') || '-8'
          || lpad(to_hex((i / 4096) % 4096), 3, '0') || '-' || lpad(to_hex(i), 12, '0'))::uuid,
       execution_id,
       md5(execution_id::text || ':' || task)::uuid,
       CASE WHEN kind IN ('task_dispatched', 'task_retry_scheduled') THEN NULL ELSE :'agent'::uuid END,
       1,
       kind,
       CASE WHEN kind IN ('task_dispatched', 'task_retry_scheduled') THEN 'coordinator' ELSE 'agent' END,
       CASE WHEN late THEN 'rejected' ELSE 'applied' END,
       CASE WHEN late THEN 'attempt_ended: attempt 1 already ended (task_complete)' END,
       ts, ts + interval '1 ms',
       CASE kind
         WHEN 'task_dispatched' THEN jsonb_build_object('agent_id', :'agent', 'attempt', 1, 'capability', 'send_email')
         WHEN 'task_started' THEN '{}'::jsonb
         WHEN 'task_progress' THEN CASE WHEN pos = 7 OR late THEN jsonb_build_object('progress', 100)
           ELSE jsonb_build_object('progress', (pos - 1) * 20, 'message',
                  format('step %s of 5: wrote to %s of the %s prospects on the list', pos - 1, i % 997, 997)) END
         WHEN 'log' THEN jsonb_build_object('level', 'info', 'message',
           format('task %s: the mail server answered 250 in %s ms; %s messages queued', task, i % 311, i % 37))
         WHEN 'task_complete' THEN jsonb_build_object('output', jsonb_build_object(
           'summary', format('Sent the introduction to %s prospects of the %s region; %s bounced, %s asked for '
                             'a call. The list was deduplicated against the CRM before sending, and every '
                             'address that had unsubscribed in the last year was left out.',
                             i % 997, (ARRAY['north', 'south', 'east', 'west'])[1 + i % 4], i % 13, i % 29),
           'sent', i % 997, 'bounced', i % 13,
           'artifacts', jsonb_build_array(format('s3://planexec-results/%s/%s/report.pdf', execution_id, task),
                                          format('s3://planexec-results/%s/%s/recipients.csv', execution_id, task))))
         WHEN 'task_failed' THEN jsonb_build_object('error', 'the mail server refused the connection (421)',
                                                    'retryable', true, 'retry_after_seconds', 5.0)
         ELSE jsonb_build_object('attempt', 1, 'error', 'the mail server refused the connection (421)',
                                 'failures', 1, 'next_attempt_at', ts + interval '5 s')
       END
  FROM (SELECT i, h, execution_id, task, pos, ts,
               pos = 9 AND task % 10 = 3 AS late,
               CASE WHEN pos = 0 THEN 'task_dispatched'
                    WHEN pos = 1 THEN 'task_started'
                    WHEN pos IN (2, 3, 4, 5, 7) THEN 'task_progress'
                    WHEN pos = 6 THEN 'log'
                    WHEN pos = 8 THEN CASE WHEN task % 20 = 7 THEN 'task_failed' ELSE 'task_complete' END
                    WHEN task % 20 = 7 THEN 'task_retry_scheduled'
                    WHEN task % 10 = 3 THEN 'task_progress'
                    ELSE 'log' END AS kind
          FROM (SELECT i, lpad(to_hex(i), 12, '0') AS h,
                       (:'execution_prefix' || lpad(to_hex(1 + (i - :origin) % :executions), 12, '0'))::uuid
                         AS execution_id,
                       ((i - :origin) / :executions) / 10 AS task,
                       ((i - :origin) / :executions) % 10 AS pos,
                       :'t0'::timestamptz + (i - :origin) * :'step'::interval AS ts
                  FROM generate_series(:first::bigint, :first::bigint + :count - 1) i) numbered) shaped;
