-- Webhook endpoints and their deliveries. A delivery is one event for one endpoint; its id is
-- the `webhook-id` header, the same on every attempt. Each attempt is logged.
CREATE TABLE webhook_endpoints (
    id              text        PRIMARY KEY,
    user_id         text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url             text        NOT NULL,
    events          text[]      NOT NULL,
    description     text,
    secret          bytea       NOT NULL,
    status          text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    disabled_reason text,
    -- Since when every attempt has failed (cleared by a success): past the limit the endpoint
    -- is disabled and its owner told.
    failing_since   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_user ON webhook_endpoints (user_id, created_at, id);

CREATE TABLE webhook_deliveries (
    id               text        PRIMARY KEY,
    endpoint_id      text        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         text,
    event_type       text        NOT NULL,
    -- The body exactly as signed and sent on every attempt.
    body             text        NOT NULL,
    status           text        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sending', 'succeeded', 'failed', 'cancelled')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    -- While an attempt is in flight: it holds one of the endpoint's concurrency slots until then.
    sending_until    timestamptz,
    job_id           bigint,
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at DESC);
CREATE INDEX webhook_deliveries_sending ON webhook_deliveries (endpoint_id) WHERE status = 'sending';
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE webhook_attempts (
    delivery_id   text        NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt       integer     NOT NULL,
    status_code   integer,
    latency_ms    integer     NOT NULL,
    response_body text,
    error         text,
    at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (delivery_id, attempt)
);

ALTER TABLE webhook_deliveries SET (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.05);
ALTER TABLE domain_events SET (autovacuum_vacuum_scale_factor = 0.05);
