-- Connected YouTube accounts (at most 15 per user), their OAuth tokens sealed with AES-GCM,
-- and each account's quota for the current Pacific day. `quota_used` counts units reserved
-- before calls, and the CHECK makes "never past the limit" a property of the table.
CREATE TABLE youtube_accounts (
    id                 text        PRIMARY KEY,
    user_id            text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email              text        NOT NULL,
    youtube_channel_id text        NOT NULL,
    channel_name       text        NOT NULL,
    status             text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'auth_expired')),
    access_token       bytea       NOT NULL,
    refresh_token      bytea       NOT NULL,
    token_expires_at   timestamptz NOT NULL,
    quota_limit        integer     NOT NULL CHECK (quota_limit > 0),
    quota_day          date        NOT NULL,
    quota_used         integer     NOT NULL DEFAULT 0 CHECK (quota_used >= 0 AND quota_used <= quota_limit),
    warned_day         date,
    -- Failures lower the health score (10 points each) and successes raise it back; after a
    -- failure the account rests until cooldown_until.
    recent_failures    integer     NOT NULL DEFAULT 0 CHECK (recent_failures >= 0),
    cooldown_until     timestamptz,
    last_error         text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX youtube_accounts_channel ON youtube_accounts (user_id, youtube_channel_id);
CREATE INDEX youtube_accounts_user ON youtube_accounts (user_id, created_at, id);

-- OAuth `state` values handed to Google, so the callback knows whose consent it carries.
CREATE TABLE oauth_states (
    state_hash bytea       PRIMARY KEY,
    user_id    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL
);

-- Videos gain the publishing states; a publication is one video's trip to YouTube. The
-- session URI is written before the first byte is sent, so any later attempt resumes the
-- same upload; youtube_video_id is written the moment the upload completes.
ALTER TABLE videos DROP CONSTRAINT videos_status_check;
ALTER TABLE videos ADD CONSTRAINT videos_status_check
    CHECK (status IN ('processing', 'completed', 'failed', 'cancelled', 'publishing', 'waiting_quota', 'published'));
ALTER TABLE videos ADD COLUMN youtube_video_id text;
ALTER TABLE videos ADD COLUMN published_at timestamptz;

CREATE TABLE publications (
    video_id           text        PRIMARY KEY REFERENCES videos (id) ON DELETE CASCADE,
    user_id            text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id         text        REFERENCES youtube_accounts (id) ON DELETE SET NULL,
    status             text        NOT NULL DEFAULT 'queued'
                       CHECK (status IN ('queued', 'waiting_quota', 'uploading', 'published', 'failed')),
    privacy_status     text        NOT NULL DEFAULT 'private',
    job_id             bigint,
    session_uri        text,
    upload_size        bigint,
    bytes_sent         bigint      NOT NULL DEFAULT 0,
    youtube_video_id   text,
    thumbnail_set_at   timestamptz,
    waiting_until      timestamptz,
    attempts           integer     NOT NULL DEFAULT 0,
    error              text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    published_at       timestamptz
);
CREATE INDEX publications_waiting ON publications (waiting_until) WHERE status = 'waiting_quota';

-- Daily statistics pulled by channel sync; analytics are computed from these alone.
CREATE TABLE channel_snapshots (
    channel_id  text        NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    day         date        NOT NULL,
    subscribers bigint      NOT NULL,
    views       bigint      NOT NULL,
    video_count bigint      NOT NULL,
    taken_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, day)
);

CREATE TABLE video_snapshots (
    video_id text        NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    day      date        NOT NULL,
    views    bigint      NOT NULL,
    likes    bigint      NOT NULL,
    comments bigint      NOT NULL,
    taken_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (video_id, day)
);

ALTER TABLE channels ADD COLUMN last_synced_at timestamptz;
