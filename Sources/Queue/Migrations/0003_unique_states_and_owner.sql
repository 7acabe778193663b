-- River-style uniqueness: a job's unique key holds only while the job is in one of the
-- states of its `unique_states` bitmask (bit order: available, scheduled, running, retryable,
-- completed, cancelled, discarded). NULL keeps the old rule: unique for as long as the row
-- is kept. So "one waiting sync per channel" is a partial unique index, not a lock and a scan.
ALTER TABLE jobs ADD COLUMN unique_states smallint CHECK (unique_states IS NULL OR unique_states BETWEEN 1 AND 127);

-- Who the job works for, for the domain to find an owner's unfinished work (account deletion);
-- the queue stores it and never reads a job's arguments for it.
ALTER TABLE jobs ADD COLUMN owner text;

CREATE FUNCTION queue_state_bit(p_state text) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE p_state
        WHEN 'available' THEN 1 WHEN 'scheduled' THEN 2 WHEN 'running' THEN 4 WHEN 'retryable' THEN 8
        WHEN 'completed' THEN 16 WHEN 'cancelled' THEN 32 WHEN 'discarded' THEN 64 ELSE 0 END::smallint
$$;

-- Whether a row in `p_state` holds its unique key.
CREATE FUNCTION queue_unique_holds(p_unique_states smallint, p_state text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_unique_states IS NULL OR (p_unique_states & queue_state_bit(p_state)) <> 0
$$;

DROP INDEX jobs_unique_key;
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND queue_unique_holds(unique_states, state);

CREATE INDEX jobs_owner_unfinished ON jobs (owner)
    WHERE owner IS NOT NULL AND state IN ('available', 'scheduled', 'running', 'retryable');
