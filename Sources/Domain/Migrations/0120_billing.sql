-- Payments: each account's Stripe customer and subscription as our own row, and every Stripe
-- event received once. The plan (`users.subscription_tier`) follows the subscription; a fact
-- from Stripe is applied only when it is newer than what the row holds (events arrive out of
-- order and twice).
CREATE TABLE billing_accounts (
    user_id                text        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    stripe_customer_id     text        NOT NULL UNIQUE,
    stripe_subscription_id text        UNIQUE,
    -- The subscription's plan, and a downgrade waiting for the period's end.
    tier                   text        REFERENCES subscription_tiers (name),
    pending_tier           text        REFERENCES subscription_tiers (name),
    status                 text        NOT NULL DEFAULT 'none'
                           CHECK (status IN ('none', 'incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'unpaid',
                                             'canceled', 'paused')),
    current_period_start   timestamptz,
    current_period_end     timestamptz,
    cancel_at_period_end   boolean     NOT NULL DEFAULT false,
    past_due_since         timestamptz,
    -- When Stripe stated the newest facts applied: the `created` (Unix seconds, on the
    -- customer's clock) of the event that had them fetched. Facts are fetched afresh for each
    -- event, so an event of the same second may apply again; an older one may not.
    stripe_as_of           bigint      NOT NULL DEFAULT 0,
    updated_at             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE stripe_events (
    id          text        PRIMARY KEY,
    type        text        NOT NULL,
    created     bigint      NOT NULL,
    payload     jsonb       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    applied_at  timestamptz
);
CREATE INDEX stripe_events_unapplied ON stripe_events (received_at) WHERE applied_at IS NULL;
