-- Fixed-window request counters shared by every API instance. UNLOGGED: after a crash the
-- counters start again from zero, which only forgives a few requests.
CREATE UNLOGGED TABLE rate_limit_windows (
    bucket       text        NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer     NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
