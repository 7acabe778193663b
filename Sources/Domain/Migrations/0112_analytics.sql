-- YouTube Analytics: each channel's and each published video's figures per day, as
-- reports.query gave them (a re-sync of a day replaces it), and the Analytics API's own daily
-- quota per account, kept apart from the Data API's.
ALTER TABLE youtube_accounts
    ADD COLUMN analytics_quota_day   date,
    ADD COLUMN analytics_quota_used  integer NOT NULL DEFAULT 0,
    ADD COLUMN analytics_quota_limit integer NOT NULL DEFAULT 10000 CHECK (analytics_quota_limit >= 0),
    -- false once Google refused the analytics scopes: the account must be connected again.
    ADD COLUMN analytics_granted     boolean NOT NULL DEFAULT true,
    ADD COLUMN revenue_granted       boolean NOT NULL DEFAULT true;

CREATE TABLE channel_analytics_daily (
    channel_id            text        NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    day                   date        NOT NULL,
    views                 bigint      NOT NULL CHECK (views >= 0),
    minutes_watched       bigint      NOT NULL CHECK (minutes_watched >= 0),
    average_view_duration integer     NOT NULL CHECK (average_view_duration >= 0),
    likes                 bigint      NOT NULL,
    comments              bigint      NOT NULL,
    shares                bigint      NOT NULL,
    subscribers_gained    bigint      NOT NULL,
    subscribers_lost      bigint      NOT NULL,
    revenue               bigint,     -- micros; NULL without the monetary scope
    synced_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, day)
);

CREATE TABLE video_analytics_daily (
    video_id              text        NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    channel_id            text        NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    day                   date        NOT NULL,
    views                 bigint      NOT NULL CHECK (views >= 0),
    minutes_watched       bigint      NOT NULL CHECK (minutes_watched >= 0),
    average_view_duration integer     NOT NULL CHECK (average_view_duration >= 0),
    likes                 bigint      NOT NULL,
    comments              bigint      NOT NULL,
    shares                bigint      NOT NULL,
    subscribers_gained    bigint      NOT NULL,
    subscribers_lost      bigint      NOT NULL,
    revenue               bigint,
    synced_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (video_id, day)
);
CREATE INDEX video_analytics_daily_channel ON video_analytics_daily (channel_id, day);
