-- Domain jobs name their user in the queue's generic `owner` column from now on; unfinished
-- jobs written before it get theirs from their arguments once.
UPDATE jobs SET owner = args->>'user_id'
 WHERE owner IS NULL AND args ? 'user_id' AND state IN ('available', 'scheduled', 'running', 'retryable');
