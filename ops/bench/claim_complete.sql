-- pgbench script: the same claim + complete pattern as a ytempire worker, one batch per run.
-- Claim up to :batch jobs with the worker's claim function (one statement, one commit), then
-- complete them with the worker's guarded batch UPDATE (one statement, one commit).
-- Run with -M extended (variables become bind parameters, as in postgres-nio) and -D batch=N.
SELECT coalesce(array_agg(id), '{}') AS ids FROM queue_claim('pgbench', 'pgbench-' || :client_id, :batch, make_interval(secs => 30)) \gset
WITH done AS (
    UPDATE jobs SET state = 'completed', finished_at = now(), lease_until = NULL
     WHERE id = ANY(CAST(:ids AS bigint[])) AND state = 'running' AND worker_id = 'pgbench-' || :client_id
    RETURNING id, queue
)
SELECT id FROM done, (SELECT count(pg_notify('ytempire_jobs', q.name)) FROM queues q
                       WHERE q.concurrency_limit IS NOT NULL AND q.name IN (SELECT queue FROM done)) freed;
