-- Reports: files made by `report.generate` jobs on the `reports` queue. The row and its job
-- are created in one transaction; the worker moves it to generating, then ready (with the
-- file's key, size, sha256 and row count) or failed; the leader expires files past retention.
CREATE TABLE reports (
    id               text        PRIMARY KEY,
    user_id          text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type             text        NOT NULL CHECK (type IN ('performance', 'cost', 'analytics', 'summary')),
    format           text        NOT NULL CHECK (format IN ('csv', 'json')),
    date_from        date        NOT NULL,
    date_to          date        NOT NULL CHECK (date_to >= date_from AND date_to - date_from <= 366),
    channel_ids      text[]      NOT NULL DEFAULT '{}',
    status           text        NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'generating', 'ready', 'failed', 'expired')),
    progress         integer     NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    job_id           bigint,
    storage_key      text,
    rows             bigint,
    size_bytes       bigint,
    sha256           text,
    error            text,
    idempotency_key  text,
    request_hash     bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    ready_at         timestamptz,
    expires_at       timestamptz,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX reports_user ON reports (user_id, created_at DESC, id);
CREATE INDEX reports_expiring ON reports (expires_at) WHERE status = 'ready';
