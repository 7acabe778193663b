-- Channels, batches, videos and their pipeline stages, artifacts, the cost ledger with its
-- reservations, and the domain event outbox. Money is integer micro-dollars (1e-6 USD) so
-- sums are exact.

CREATE TABLE channels (
    id                 text        PRIMARY KEY,
    user_id            text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name               text        NOT NULL,
    youtube_channel_id text,
    category           text,
    target_audience    text,
    posting_schedule   jsonb,
    status             text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    health_score       integer     NOT NULL DEFAULT 100,
    subscribers        bigint      NOT NULL DEFAULT 0,
    monthly_views      bigint      NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX channels_user ON channels (user_id, created_at, id);
CREATE UNIQUE INDEX channels_youtube_id ON channels (user_id, youtube_channel_id) WHERE youtube_channel_id IS NOT NULL;

-- A batch is one submission of many videos. The idempotency key makes a retried submission
-- return the same batch; the request hash tells a retry from a different body under one key.
CREATE TABLE batches (
    id                   text        PRIMARY KEY,
    user_id              text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    idempotency_key      text,
    request_hash         bytea       NOT NULL,
    priority             text        NOT NULL,
    parallel             boolean     NOT NULL,
    cost_limit_per_video bigint      NOT NULL,
    total                integer     NOT NULL,
    cancelled_at         timestamptz,
    completed_at         timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX batches_idempotency ON batches (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX batches_user ON batches (user_id, created_at);

-- A video and its budget: `spent + reserved <= cost_limit` is checked by every reservation.
CREATE TABLE videos (
    id                text        PRIMARY KEY,
    user_id           text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel_id        text        NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    batch_id          text        REFERENCES batches (id) ON DELETE SET NULL,
    batch_position    integer,
    title             text        NOT NULL,
    description       text        NOT NULL DEFAULT '',
    script_style      text        NOT NULL,
    voice_id          text        NOT NULL,
    thumbnail_style   text        NOT NULL,
    duration_target   integer     NOT NULL,
    keywords          text[]      NOT NULL DEFAULT '{}',
    tags              text[]      NOT NULL DEFAULT '{}',
    quality_threshold integer     NOT NULL,
    priority          smallint    NOT NULL DEFAULT 2,
    status            text        NOT NULL DEFAULT 'processing'
                      CHECK (status IN ('processing', 'completed', 'failed', 'cancelled', 'published')),
    stage             text,
    progress          integer     NOT NULL DEFAULT 0,
    cost_limit        bigint      NOT NULL CHECK (cost_limit >= 0),
    estimated_cost    bigint      NOT NULL DEFAULT 0,
    spent             bigint      NOT NULL DEFAULT 0,
    reserved          bigint      NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    quality_score     integer,
    quality           jsonb,
    regenerated_stage text,
    error_code        text,
    error_message     text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz
);
CREATE INDEX videos_user ON videos (user_id, created_at DESC, id);
CREATE INDEX videos_channel ON videos (channel_id);
CREATE INDEX videos_batch ON videos (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX videos_processing ON videos (updated_at) WHERE status = 'processing';

-- One row per stage of a video: its state, the attempt and provider that produced it.
CREATE TABLE video_stages (
    video_id    text        NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    stage       text        NOT NULL,
    status      text        NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    generation  integer     NOT NULL DEFAULT 1,
    job_id      bigint,
    attempt     integer     NOT NULL DEFAULT 0,
    provider    text,
    model       text,
    cost        bigint      NOT NULL DEFAULT 0,
    error       text,
    started_at  timestamptz,
    finished_at timestamptz,
    PRIMARY KEY (video_id, stage)
);

-- Where a stage's output lives in artifact storage (shared by every server of the fleet).
CREATE TABLE artifacts (
    video_id         text        NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    kind             text        NOT NULL CHECK (kind IN ('script', 'audio', 'thumbnail', 'video')),
    storage_key      text        NOT NULL,
    content_type     text        NOT NULL,
    size_bytes       bigint      NOT NULL,
    duration_seconds float8,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (video_id, kind)
);

-- Money held for a paid call in flight: one row per stage attempt, gone when settled.
CREATE TABLE cost_reservations (
    job_id     bigint      NOT NULL,
    attempt    integer     NOT NULL,
    video_id   text        NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    stage      text        NOT NULL,
    provider   text        NOT NULL,
    model      text        NOT NULL,
    amount     bigint      NOT NULL CHECK (amount >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, attempt)
);
CREATE INDEX cost_reservations_video ON cost_reservations (video_id);

-- What each stage attempt cost: written once (the key), `actual` from the provider's usage,
-- `assumed` for an attempt lost in a crash or cancellation (its reservation, the worst case).
CREATE TABLE cost_ledger (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id     bigint      NOT NULL,
    attempt    integer     NOT NULL,
    video_id   text        NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    user_id    text        NOT NULL,
    stage      text        NOT NULL,
    provider   text        NOT NULL,
    model      text        NOT NULL,
    units      float8      NOT NULL,
    unit       text        NOT NULL,
    unit_price float8      NOT NULL,
    amount     bigint      NOT NULL CHECK (amount >= 0),
    basis      text        NOT NULL CHECK (basis IN ('actual', 'assumed')),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (job_id, attempt)
);
CREATE INDEX cost_ledger_video ON cost_ledger (video_id);
CREATE INDEX cost_ledger_user ON cost_ledger (user_id, created_at);

-- Domain events, written in the transaction of the change they describe; the dispatcher
-- fans them out to webhooks.
CREATE TABLE domain_events (
    id         text        PRIMARY KEY,
    user_id    text        NOT NULL,
    type       text        NOT NULL,
    data       jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    dispatched_at timestamptz
);
CREATE INDEX domain_events_pending ON domain_events (created_at) WHERE dispatched_at IS NULL;

ALTER TABLE videos SET (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.05);
ALTER TABLE video_stages SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.05);
