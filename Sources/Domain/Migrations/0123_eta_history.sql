-- The ETA model rebuilds the queue each finished video met when it was submitted: the videos
-- then in flight (by creation time) and the stages finished in the day before (by finish time).
CREATE INDEX videos_created ON videos (created_at) WHERE kind = 'video';
CREATE INDEX video_stages_finished ON video_stages (finished_at) WHERE status = 'completed';
