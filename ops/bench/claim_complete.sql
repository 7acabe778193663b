-- pgbench script: the same claim + complete pattern as a ytempire worker, one batch per run.
-- Claim up to :batch jobs with the worker's claim function (one statement, one commit), then
-- complete them with the worker's guarded batch UPDATE (one statement, one commit).
-- Run with -M extended (variables become bind parameters, as in postgres-nio) and -D batch=N.
SELECT coalesce(array_agg(id), '{}') AS ids FROM queue_claim('pgbench', 'pgbench-' || :client_id, :batch, make_interval(secs => 30)) \gset
UPDATE jobs SET state = 'completed', finished_at = now(), lease_until = NULL
 WHERE id = ANY(CAST(:ids AS bigint[])) AND state = 'running' AND worker_id = 'pgbench-' || :client_id;
