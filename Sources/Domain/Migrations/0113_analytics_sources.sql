-- The rest of the analytics: what Google granted at connect, the 90-day backfill of a
-- channel's figures as a job with progress, competitors' public figures snapshot daily, and
-- YouTube's most-popular chart snapshot daily for trends.

-- Accounts connected before the Analytics scopes were requested (migration 0112) never
-- granted them, unless they have synced analytics since: they must be connected again. From
-- now on the connect records what Google granted.
UPDATE youtube_accounts a SET analytics_granted = false, revenue_granted = false
 WHERE a.created_at < coalesce((SELECT applied_at FROM schema_migrations WHERE version = 112), now())
   AND NOT EXISTS (SELECT 1 FROM channels c JOIN channel_analytics_daily d ON d.channel_id = c.id
                    WHERE c.user_id = a.user_id AND c.youtube_channel_id = a.youtube_channel_id);
ALTER TABLE youtube_accounts ALTER COLUMN analytics_granted SET DEFAULT false,
                             ALTER COLUMN revenue_granted SET DEFAULT false;

-- One backfill per channel: the last 90 days fetched in windows; `days_done` advances in the
-- transaction that stores a window, so a backfill cut short resumes where it stood.
CREATE TABLE analytics_backfills (
    channel_id  text        PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
    first_day   date        NOT NULL,
    last_day    date        NOT NULL CHECK (last_day >= first_day),
    days_done   integer     NOT NULL DEFAULT 0 CHECK (days_done >= 0),
    status      text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Channels a user follows to compare with their own (public figures only).
CREATE TABLE competitors (
    id                 text        PRIMARY KEY,
    user_id            text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    youtube_channel_id text        NOT NULL,
    title              text,
    uploads_playlist   text,
    -- 'pending' until the first snapshot; 'not_found' when YouTube knows no such channel.
    status             text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'not_found')),
    -- Claimed by the fetch taking today's snapshot until then, so concurrent syncs of one
    -- user's channels fetch (and pay for) each competitor once.
    fetching_until     timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, youtube_channel_id)
);

-- A competitor's public statistics on one Pacific day (a later snapshot that day replaces it),
-- and what its uploads playlist showed: uploads in the 28 days before and the median views
-- of its most recent uploads (up to 50).
CREATE TABLE competitor_snapshots (
    competitor_id  text    NOT NULL REFERENCES competitors (id) ON DELETE CASCADE,
    day            date    NOT NULL,
    subscribers    bigint  NOT NULL,
    views          bigint  NOT NULL,
    video_count    bigint  NOT NULL,
    uploads_28d    integer NOT NULL,
    recent_videos  integer NOT NULL,
    median_views   bigint,
    taken_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (competitor_id, day)
);

-- YouTube's most-popular chart for a region and category, as it stood on a Pacific day. Public
-- data, shared by every user who asks for that chart.
CREATE TABLE trending_videos (
    day               date    NOT NULL,
    region            text    NOT NULL,
    category          text    NOT NULL DEFAULT '',
    rank              integer NOT NULL,
    youtube_video_id  text    NOT NULL,
    channel_title     text    NOT NULL DEFAULT '',
    title             text    NOT NULL,
    tags              text[]  NOT NULL DEFAULT '{}',
    views             bigint  NOT NULL,
    published_at      timestamptz,
    PRIMARY KEY (day, region, category, youtube_video_id)
);

-- The charts a user looked at (GET /analytics/trends): their daily channel sync keeps each one
-- snapshot for 30 days after it was last asked for, so trends have a history to compare.
CREATE TABLE trend_charts (
    user_id      text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    region       text        NOT NULL,
    category     text        NOT NULL DEFAULT '',
    requested_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, region, category)
);

-- A chart's fetch of the day, claimed until `fetching_until` by whoever fetches it, so
-- concurrent requests and syncs fetch (and pay for) it once.
CREATE TABLE trending_fetches (
    day            date        NOT NULL,
    region         text        NOT NULL,
    category       text        NOT NULL DEFAULT '',
    fetching_until timestamptz NOT NULL,
    PRIMARY KEY (day, region, category)
);
