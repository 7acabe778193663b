-- The leader's chores, as the console shows them: each chore's last run (when, by which
-- leader, how long, rows changed) and its last failure, kept apart so a failure stays visible
-- after later runs succeed. One row per chore, updated in place (HOT: no index on what changes).
CREATE TABLE chore_runs (
    name          text        PRIMARY KEY,
    leader_id     text        NOT NULL,
    last_run_at   timestamptz NOT NULL,
    duration_ms   integer     NOT NULL,
    rows_changed  bigint      NOT NULL DEFAULT 0,
    last_error    text,
    last_error_at timestamptz
) WITH (fillfactor = 50);
