-- The reservation an `actual` ledger row settled. A row whose amount is above it is an
-- overrun: the provider billed more than the worst case reserved for the call. The ledger
-- keeps the truth either way; an overrun that passes the video's cost_limit stops the video
-- with cost_limit_exceeded and writes cost.limit_reached. (NULL: written before this column,
-- or an `assumed` row, which is its reservation.)
ALTER TABLE cost_ledger ADD COLUMN reserved bigint;
CREATE INDEX cost_ledger_overruns ON cost_ledger (video_id) WHERE amount > reserved;
