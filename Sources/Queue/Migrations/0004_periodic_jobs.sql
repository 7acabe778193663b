-- Periodic jobs: schedules as rows, so the API can add and remove them at run time and every
-- leader sees the same set. The leader enqueues each due run as an ordinary job, unique per
-- (schedule, scheduled time), in the transaction that advances next_run_at.
CREATE TABLE periodic_jobs (
    id            text        PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
    kind          text        NOT NULL,
    args          jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(args) = 'object'),
    queue         text        NOT NULL DEFAULT 'default',
    priority      smallint    NOT NULL DEFAULT 0,
    max_attempts  integer     NOT NULL DEFAULT 20,
    owner         text,
    -- Exactly one of: a 5-field cron expression (or @daily, …) read in time_zone, or a fixed
    -- interval in seconds.
    cron          text,
    every_seconds bigint      CHECK (every_seconds IS NULL OR every_seconds >= 1),
    time_zone     text        NOT NULL DEFAULT 'UTC',
    -- Runs missed while no leader existed: one run on recovery (true) or none (false).
    catch_up      boolean     NOT NULL DEFAULT true,
    paused        boolean     NOT NULL DEFAULT false,
    next_run_at   timestamptz NOT NULL,
    last_run_at   timestamptz,
    last_job_id   bigint,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((cron IS NULL) <> (every_seconds IS NULL))
);
CREATE INDEX periodic_jobs_due ON periodic_jobs (next_run_at) WHERE NOT paused;
CREATE INDEX periodic_jobs_owner ON periodic_jobs (owner) WHERE owner IS NOT NULL;
