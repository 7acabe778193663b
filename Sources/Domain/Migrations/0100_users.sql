-- Users, their sessions and refresh tokens, single-use email tokens, the email outbox and
-- the subscription tiers' limits.

CREATE TABLE subscription_tiers (
    name             text    PRIMARY KEY,
    videos_per_month integer NOT NULL,
    channels         integer NOT NULL,
    youtube_accounts integer NOT NULL,
    price_cents      integer NOT NULL
);

INSERT INTO subscription_tiers (name, videos_per_month, channels, youtube_accounts, price_cents) VALUES
    ('free',           10,  1,  1,     0),
    ('starter',       100,  3,  3,  2900),
    ('professional', 1000, 10, 15,  9900),
    ('enterprise',  10000, 50, 15, 49900);

CREATE TABLE users (
    id                text        PRIMARY KEY,
    email             text        NOT NULL,
    password_hash     text        NOT NULL,
    full_name         text        NOT NULL,
    company           text,
    subscription_tier text        NOT NULL DEFAULT 'free' REFERENCES subscription_tiers (name),
    email_verified_at timestamptz,
    totp_secret       text,
    totp_enabled      boolean     NOT NULL DEFAULT false,
    totp_last_step    bigint,
    settings          jsonb       NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

-- A session is one login: every refresh token it ever issued belongs to it (the family),
-- and access tokens name it (claim `sid`), so revoking it ends them all.
CREATE TABLE sessions (
    id            text        PRIMARY KEY,
    user_id       text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    revoke_reason text
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash bytea       PRIMARY KEY,
    session_id text        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Single-use tokens sent by email (verification, password reset), stored hashed.
CREATE TABLE email_tokens (
    token_hash bytea       PRIMARY KEY,
    user_id    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text        NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose);

-- Emails written in the same transaction as what caused them; a sender delivers them.
CREATE TABLE email_outbox (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient  text        NOT NULL,
    subject    text        NOT NULL,
    body       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
CREATE INDEX email_outbox_unsent ON email_outbox (id) WHERE sent_at IS NULL;
