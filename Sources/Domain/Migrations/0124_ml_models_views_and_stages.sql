-- The views forecast keeps the first forecast of each video and horizon ("vid_…@7", "vid_…@30")
-- by each version (NULL: the baseline), however often the video's analytics are read; its live
-- error compares them with what YouTube counted once the horizon passed.
CREATE UNIQUE INDEX ml_predictions_views_once ON ml_predictions (model_id, version, subject) NULLS NOT DISTINCT
    WHERE model_id = 'views-forecast';
-- A forecast reads its channel's latest videos old enough to have reached each horizon.
CREATE INDEX videos_channel_published ON videos (channel_id, published_at) WHERE published_at IS NOT NULL;
-- The cost estimator now predicts each stage (a `stage` feature) and the ETA sees each stage's
-- busy slots (`running_*`): versions trained on the old features cannot be fed, so they retire
-- and the baselines answer until the next training (nightly, or `ytempire models train`).
UPDATE ml_models SET status = 'retired',
       reason = 'trained on the features before per-stage costs and busy slots; a new training replaces it'
 WHERE model_id IN ('cost-estimator', 'eta-estimator') AND status = 'active';
