-- A year of history for the user :'user_id' (psql variable), for ops/bench/api: 15 linked
-- channels, 10,000 published videos spread evenly over the last 365 days, 6 ledger rows per
-- video, each channel's daily YouTube Analytics for the year, and each video's daily figures
-- for its first 28 days (a channel sync keeps its newest 50 videos, about 27 days of uploads).
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO channels (id, user_id, name, youtube_channel_id)
SELECT 'ch_bench_' || c, :'user_id', 'Bench channel ' || c, 'UCbench' || lpad(c::text, 17, '0')
  FROM generate_series(1, 15) c;

INSERT INTO videos (id, user_id, channel_id, title, script_style, voice_id, thumbnail_style, duration_target, quality_threshold,
                    status, cost_limit, spent, tags, youtube_video_id, created_at, updated_at, finished_at)
SELECT 'vid_bench_' || v, :'user_id', 'ch_bench_' || (v % 15 + 1),
       'Bench video ' || v || ' about ' || (ARRAY['ai', 'cooking', 'history', 'gaming', 'finance'])[v % 5 + 1],
       'educational', 'alloy', 'modern', 600, 80, 'published', 5000000, 1230000, ARRAY['bench'], 'ytbench' || v,
       t, t, t + interval '20 minutes'
  FROM generate_series(1, 10000) v, LATERAL (SELECT now() - make_interval(secs => (10000 - v) * 3153.6) AS t) at;

INSERT INTO publications (video_id, user_id, status, privacy_status, youtube_video_id, created_at, updated_at, published_at)
SELECT id, user_id, 'published', 'public', youtube_video_id, finished_at, finished_at, finished_at + interval '10 minutes'
  FROM videos WHERE user_id = :'user_id';

INSERT INTO cost_ledger (job_id, attempt, video_id, user_id, stage, provider, model, units, unit, unit_price, amount, basis, created_at)
SELECT 1000000 + row_number() OVER (), 1, v.id, v.user_id, s.stage, s.provider, s.model, 1, 'call', s.amount / 1e6, s.amount, 'actual',
       v.created_at + s.offset_
  FROM videos v
 CROSS JOIN (VALUES ('script', 'openai', 'gpt-4o-mini', 180000, interval '1 minute'),
                    ('voice', 'elevenlabs', 'eleven_multilingual_v2', 450000, interval '3 minutes'),
                    ('thumbnail', 'openai', 'dall-e-3', 400000, interval '4 minutes'),
                    ('assemble', 'ffmpeg', 'ffmpeg', 0, interval '8 minutes'),
                    ('review', 'openai', 'gpt-4o-mini', 120000, interval '10 minutes'),
                    ('script', 'openai', 'gpt-4o-mini', 80000, interval '12 minutes')) AS s(stage, provider, model, amount, offset_)
 WHERE v.user_id = :'user_id';

INSERT INTO channel_analytics_daily (channel_id, day, views, minutes_watched, average_view_duration, likes, comments, shares,
                                     subscribers_gained, subscribers_lost, revenue)
SELECT 'ch_bench_' || c, d::date, 20000 + c * 100, 60000, 180, 900, 120, 60, 40, 5, 45000000
  FROM generate_series(1, 15) c, generate_series(current_date - 365, current_date - 1, interval '1 day') d;

INSERT INTO video_analytics_daily (video_id, channel_id, day, views, minutes_watched, average_view_duration, likes, comments, shares,
                                   subscribers_gained, subscribers_lost, revenue)
SELECT v.id, v.channel_id, v.created_at::date + k, 400 + (k * 37 + length(v.id)) % 300, 1200, 180, 20, 3, 2, 1, 0, 900000
  FROM videos v CROSS JOIN generate_series(0, 27) k
 WHERE v.user_id = :'user_id' AND v.created_at::date + k < current_date;
COMMIT;
VACUUM ANALYZE;
