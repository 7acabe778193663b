-- A stage's reservation is taken only under the job's live lease (the attempt that holds it
-- now); anything else is 'lease_lost' and holds nothing.
CREATE OR REPLACE FUNCTION cost_reserve(p_job bigint, p_attempt integer, p_video text, p_stage text, p_provider text, p_model text,
                             p_amount bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_user   text;
    v_day    date;
    v_daily  bigint;
    v_month  bigint;
    v_budget cost_budgets%ROWTYPE;
BEGIN
    SELECT user_id INTO v_user FROM videos WHERE id = p_video FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'not_processing';
    END IF;
    -- Only the attempt that holds the job may hold money for it: a stale attempt (its lease
    -- ran out and the job was claimed again) would otherwise block the live one's room, or be
    -- booked as assumed spend for a call it never makes.
    IF NOT EXISTS (SELECT 1 FROM jobs WHERE id = p_job AND attempt = p_attempt AND state = 'running') THEN
        RETURN 'lease_lost';
    END IF;
    v_day := cost_local_day(v_user, now());
    PERFORM cost_period_add(v_user, v_day, 0, 0);  -- creates and locks the day, then the month
    SELECT spent + reserved INTO v_daily FROM cost_periods WHERE user_id = v_user AND kind = 'day' AND starts_on = v_day;
    SELECT spent + reserved INTO v_month FROM cost_periods
     WHERE user_id = v_user AND kind = 'month' AND starts_on = date_trunc('month', v_day)::date;
    SELECT * INTO v_budget FROM cost_budgets WHERE user_id = v_user;
    IF v_budget.daily_budget IS NOT NULL AND v_daily + p_amount > v_budget.daily_budget THEN
        RETURN 'daily_budget';
    END IF;
    IF v_budget.monthly_budget IS NOT NULL AND v_month + p_amount > v_budget.monthly_budget THEN
        RETURN 'monthly_budget';
    END IF;
    UPDATE videos SET reserved = reserved + p_amount, updated_at = now()
     WHERE id = p_video AND status = 'processing' AND spent + reserved + p_amount <= cost_limit;
    IF NOT FOUND THEN
        RETURN CASE WHEN EXISTS (SELECT 1 FROM videos WHERE id = p_video AND status = 'processing') THEN 'cost_limit' ELSE 'not_processing' END;
    END IF;
    INSERT INTO cost_reservations (job_id, attempt, video_id, stage, provider, model, amount, user_id, day)
    VALUES (p_job, p_attempt, p_video, p_stage, p_provider, p_model, p_amount, v_user, v_day);
    RETURN 'reserved';
END $$;

