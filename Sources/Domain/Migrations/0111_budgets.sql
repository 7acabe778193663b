-- Budgets over all of a user's videos: a ceiling per day and per month in the user's time
-- zone, enforced by the same transaction that takes a stage's reservation (cost_reserve),
-- beside each video's own cost_limit. PUT /costs/limits writes them.
CREATE TABLE cost_budgets (
    user_id          text        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    daily_budget     bigint      CHECK (daily_budget IS NULL OR daily_budget >= 0),
    monthly_budget   bigint      CHECK (monthly_budget IS NULL OR monthly_budget >= 0),
    alert_thresholds float8[]    NOT NULL DEFAULT '{0.5,0.8,1.0}',
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- What each of a user's days and months has spent and holds now: the running sums a
-- reservation checks. Kept by the triggers below from the ledger and the reservations, so
-- no code path can forget them; `alerted` holds the thresholds already announced.
CREATE TABLE cost_periods (
    user_id   text     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind      text     NOT NULL CHECK (kind IN ('day', 'month')),
    starts_on date     NOT NULL,
    spent     bigint   NOT NULL DEFAULT 0,
    reserved  bigint   NOT NULL DEFAULT 0,
    alerted   float8[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (user_id, kind, starts_on)
);

-- The user and local day a reservation counts in, and the local day a ledger row counts in:
-- the day of the reservation it settled (so a call reserved before midnight and settled after
-- it stays in one day's row), else the day it was written.
ALTER TABLE cost_reservations ADD COLUMN user_id text, ADD COLUMN day date;
ALTER TABLE cost_ledger ADD COLUMN day date;
CREATE INDEX cost_ledger_user_day ON cost_ledger (user_id, day);

-- The zone of the user's settings, or UTC when unset or unknown to this server.
CREATE FUNCTION cost_user_zone(p_user text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_zone text;
BEGIN
    SELECT coalesce(settings->>'timezone', 'UTC') INTO v_zone FROM users WHERE id = p_user;
    PERFORM now() AT TIME ZONE coalesce(v_zone, 'UTC');
    RETURN coalesce(v_zone, 'UTC');
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN 'UTC';
END $$;

-- The user's local date at `p_at`.
CREATE FUNCTION cost_local_day(p_user text, p_at timestamptz) RETURNS date
LANGUAGE sql STABLE AS $$
    SELECT (p_at AT TIME ZONE cost_user_zone(p_user))::date
$$;

-- Adds to a user's day and the month holding it, day row first (the order every caller
-- locks them in); with zeros it creates and locks both.
CREATE FUNCTION cost_period_add(p_user text, p_day date, p_spent bigint, p_reserved bigint) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO cost_periods (user_id, kind, starts_on, spent, reserved) VALUES (p_user, 'day', p_day, p_spent, p_reserved)
    ON CONFLICT (user_id, kind, starts_on) DO UPDATE
       SET spent = cost_periods.spent + excluded.spent, reserved = cost_periods.reserved + excluded.reserved;
    INSERT INTO cost_periods (user_id, kind, starts_on, spent, reserved)
    VALUES (p_user, 'month', date_trunc('month', p_day)::date, p_spent, p_reserved)
    ON CONFLICT (user_id, kind, starts_on) DO UPDATE
       SET spent = cost_periods.spent + excluded.spent, reserved = cost_periods.reserved + excluded.reserved;
$$;

CREATE FUNCTION cost_reservation_counted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.user_id IS NOT NULL THEN
        PERFORM cost_period_add(NEW.user_id, NEW.day, 0, NEW.amount);
    ELSIF TG_OP = 'DELETE' AND OLD.user_id IS NOT NULL THEN
        -- The rows exist since the insert; they are gone only when the user is being deleted.
        UPDATE cost_periods SET reserved = reserved - OLD.amount WHERE user_id = OLD.user_id AND kind = 'day' AND starts_on = OLD.day;
        UPDATE cost_periods SET reserved = reserved - OLD.amount
         WHERE user_id = OLD.user_id AND kind = 'month' AND starts_on = date_trunc('month', OLD.day)::date;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER cost_reservations_counted AFTER INSERT OR DELETE ON cost_reservations
    FOR EACH ROW EXECUTE FUNCTION cost_reservation_counted();

CREATE FUNCTION cost_ledger_dated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.day IS NULL THEN
        NEW.day := cost_local_day(NEW.user_id, NEW.created_at);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER cost_ledger_dated BEFORE INSERT ON cost_ledger FOR EACH ROW EXECUTE FUNCTION cost_ledger_dated();

CREATE FUNCTION cost_ledger_counted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM cost_period_add(NEW.user_id, NEW.day, NEW.amount, 0);
    RETURN NULL;
END $$;
CREATE TRIGGER cost_ledger_counted AFTER INSERT ON cost_ledger FOR EACH ROW EXECUTE FUNCTION cost_ledger_counted();

-- Takes a stage attempt's reservation if it fits under every ceiling at once: the video's
-- cost_limit, the user's daily budget and monthly budget (spent + reserved + amount at each).
-- The video is locked first, then the user's day and month rows: the order of the settling
-- paths too, whose row triggers run at the end of the statement that updated the video.
-- Returns 'reserved', 'cost_limit', 'daily_budget', 'monthly_budget' or 'not_processing'.
CREATE FUNCTION cost_reserve(p_job bigint, p_attempt integer, p_video text, p_stage text, p_provider text, p_model text,
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

-- Rows written before budgets: the ledger gets its days, reservations in flight their user
-- and day, and the periods their sums, so a budget set today counts this month's spend.
UPDATE cost_ledger SET day = cost_local_day(user_id, created_at) WHERE day IS NULL;
UPDATE cost_reservations r SET user_id = v.user_id, day = cost_local_day(v.user_id, r.created_at)
  FROM videos v WHERE v.id = r.video_id AND r.user_id IS NULL;
INSERT INTO cost_periods (user_id, kind, starts_on, spent, reserved)
SELECT user_id, kind, starts_on, sum(spent), sum(reserved) FROM (
    SELECT user_id, 'day' AS kind, day AS starts_on, amount AS spent, 0 AS reserved FROM cost_ledger
    UNION ALL SELECT user_id, 'month', date_trunc('month', day)::date, amount, 0 FROM cost_ledger
    UNION ALL SELECT user_id, 'day', day, 0, amount FROM cost_reservations WHERE user_id IS NOT NULL
    UNION ALL SELECT user_id, 'month', date_trunc('month', day)::date, 0, amount FROM cost_reservations WHERE user_id IS NOT NULL
) t
 WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id)
 GROUP BY user_id, kind, starts_on;
