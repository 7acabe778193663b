-- Indexes the dashboard's reads need (docs/benchmarks.md has the plans): a user's videos'
-- daily figures by channel and day, read from the index alone; publications by user and time;
-- finished videos by user and time (the cost summary's videos_generated).
CREATE INDEX video_analytics_daily_channel_cover ON video_analytics_daily (channel_id, day)
    INCLUDE (video_id, views, revenue, likes, comments, shares);
DROP INDEX video_analytics_daily_channel;
CREATE INDEX publications_user_published ON publications (user_id, published_at) WHERE status = 'published';
CREATE INDEX videos_user_finished ON videos (user_id, finished_at) WHERE finished_at IS NOT NULL;
