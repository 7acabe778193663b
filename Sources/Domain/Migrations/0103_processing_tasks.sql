-- Single-stage processing tasks (POST /video-processing/script|voice|thumbnail) are videos
-- that run one stage: `kind` names it ('video' runs the whole pipeline); a voice task's text
-- is its input.
ALTER TABLE videos ADD COLUMN kind text NOT NULL DEFAULT 'video' CHECK (kind IN ('video', 'script', 'voice', 'thumbnail'));
ALTER TABLE videos ADD COLUMN input_text text;
-- When a completed video was last sent back through its weakest stage (POST
-- /video-processing/optimize): its review then completes it whatever the new score.
ALTER TABLE videos ADD COLUMN optimized_at timestamptz;
