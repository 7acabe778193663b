-- ML models: every trained version with what it was trained on, its held-out error beside its
-- baseline's on the same rows, and whether it is the one in use. At most one active version
-- per model; a version that did not beat its baseline stays a candidate and says why.
CREATE TABLE ml_models (
    model_id         text        NOT NULL,
    version          integer     NOT NULL,
    algorithm        text        NOT NULL,
    parameters       jsonb       NOT NULL,
    -- [{"name", "definition"}], in the order the model takes them.
    features         jsonb       NOT NULL,
    training_from    timestamptz,
    training_to      timestamptz,
    training_rows    integer     NOT NULL,
    calibration_rows integer     NOT NULL DEFAULT 0,
    test_rows        integer     NOT NULL,
    -- {"model": {mae, mape, r2, count, coverage?}, "baseline": {…}, "interval": {alpha, quantile, calibration_count}?}
    metrics          jsonb       NOT NULL,
    status           text        NOT NULL CHECK (status IN ('candidate', 'active', 'retired')),
    reason           text,
    artifact_key     text,
    training_ms      integer     NOT NULL DEFAULT 0,
    trained_at       timestamptz NOT NULL DEFAULT now(),
    activated_at     timestamptz,
    PRIMARY KEY (model_id, version)
);
CREATE UNIQUE INDEX ml_models_one_active ON ml_models (model_id) WHERE status = 'active';

-- Predictions the product made, to compare with what happened (a video's real cost once it
-- finished): the live error of each model, and how long predicting took.
CREATE TABLE ml_predictions (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id    text        NOT NULL,
    version     integer,
    subject     text        NOT NULL,
    predicted   float8      NOT NULL,
    baseline    float8      NOT NULL,
    latency_us  integer     NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ml_predictions_model ON ml_predictions (model_id, created_at);
CREATE INDEX ml_predictions_subject ON ml_predictions (subject);
