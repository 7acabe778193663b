-- The unique index's predicate function called `queue_state_bit` by an unqualified name, which
-- autovacuum and ANALYZE (run with an empty search_path) cannot resolve: they failed on `jobs`.
-- The predicate now computes the state's bit itself and names nothing else.
CREATE OR REPLACE FUNCTION queue_unique_holds(p_unique_states smallint, p_state text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_unique_states IS NULL OR (p_unique_states & CASE p_state
        WHEN 'available' THEN 1 WHEN 'scheduled' THEN 2 WHEN 'running' THEN 4 WHEN 'retryable' THEN 8
        WHEN 'completed' THEN 16 WHEN 'cancelled' THEN 32 WHEN 'discarded' THEN 64 ELSE 0 END::smallint) <> 0
$$;
