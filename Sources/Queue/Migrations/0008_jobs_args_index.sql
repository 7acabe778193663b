-- Operators find jobs by their arguments (`args @> '{"video_id": "vid_…"}'`, the console's and
-- `GET /admin/jobs?arg=`): without an index that is a backward scan of the whole table
-- (220 ms over a million jobs); with this one, a bitmap scan of the matches (0.2 ms). Its
-- price, measured with `ytempire bench queue --stage-args`: about 8 % of the bulk insert
-- rate, nothing measurable on claims and completions (docs/benchmarks.md). jsonb_path_ops
-- indexes only containment, the one operator the search uses. IF NOT EXISTS: on a large live
-- table an operator builds it first with CREATE INDEX CONCURRENTLY (this holds writes while it builds).
CREATE INDEX IF NOT EXISTS jobs_args ON jobs USING gin (args jsonb_path_ops);
