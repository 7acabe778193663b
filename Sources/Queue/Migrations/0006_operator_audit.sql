-- The audit log of every operator action on the fleet (queues, jobs, operators), from the
-- console or the command line: who, what, its target or filter, how many jobs it changed.
CREATE TABLE operator_audit (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- 'usr_…' for an operator through the API, 'cli:<login>' for the command line.
    actor       text        NOT NULL,
    -- queue.pause, queue.resume, queue.drain, queue.limit, job.retry, job.cancel, job.discard,
    -- jobs.retry / jobs.cancel / jobs.discard (bulk), operator.grant, operator.revoke
    action      text        NOT NULL,
    target      text,
    -- The arguments or the bulk filter as given.
    details     jsonb       NOT NULL DEFAULT '{}',
    affected    integer     NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);
