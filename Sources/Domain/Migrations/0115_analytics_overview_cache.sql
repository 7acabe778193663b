-- The analytics overview of a user is computed once per change of the facts it reads: every
-- write to those facts bumps the user's version (triggers below, so no code path can forget),
-- and a cached overview is served only while its version is current.
CREATE TABLE analytics_versions (
    user_id text   PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    version bigint NOT NULL DEFAULT 0
);

CREATE FUNCTION analytics_touch(p_user text) RETURNS void LANGUAGE sql AS $$
    -- (Nothing for a user being deleted: their rows go with them.)
    INSERT INTO analytics_versions (user_id, version) SELECT p_user, 1 WHERE EXISTS (SELECT 1 FROM users WHERE id = p_user)
    ON CONFLICT (user_id) DO UPDATE SET version = analytics_versions.version + 1
$$;

-- Rows that carry the user, one at a time (publications, channels and videos change rarely).
CREATE FUNCTION analytics_touched_by_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_touch(CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END);
    RETURN NULL;
END $$;

-- Statements that write many rows at once (a sync's days, a stage's ledger rows): one bump per
-- user per statement, from the statement's rows (`changed`, its transition table).
CREATE FUNCTION analytics_touched_by_channel_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_touch(u.user_id) FROM (SELECT DISTINCT c.user_id FROM changed r JOIN channels c ON c.id = r.channel_id) u;
    RETURN NULL;
END $$;

CREATE FUNCTION analytics_touched_by_user_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_touch(u.user_id) FROM (SELECT DISTINCT r.user_id FROM changed r) u;
    RETURN NULL;
END $$;

CREATE TRIGGER channel_analytics_daily_inserted AFTER INSERT ON channel_analytics_daily
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION analytics_touched_by_channel_rows();
CREATE TRIGGER channel_analytics_daily_updated AFTER UPDATE ON channel_analytics_daily
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION analytics_touched_by_channel_rows();
CREATE TRIGGER channel_analytics_daily_deleted AFTER DELETE ON channel_analytics_daily
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION analytics_touched_by_channel_rows();
CREATE TRIGGER video_analytics_daily_inserted AFTER INSERT ON video_analytics_daily
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION analytics_touched_by_channel_rows();
CREATE TRIGGER video_analytics_daily_updated AFTER UPDATE ON video_analytics_daily
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION analytics_touched_by_channel_rows();
CREATE TRIGGER video_analytics_daily_deleted AFTER DELETE ON video_analytics_daily
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION analytics_touched_by_channel_rows();
CREATE TRIGGER cost_ledger_inserted AFTER INSERT ON cost_ledger
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION analytics_touched_by_user_rows();
CREATE TRIGGER cost_ledger_deleted AFTER DELETE ON cost_ledger
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION analytics_touched_by_user_rows();
CREATE TRIGGER publications_touch AFTER INSERT OR DELETE OR UPDATE OF status, published_at ON publications
    FOR EACH ROW EXECUTE FUNCTION analytics_touched_by_user();
CREATE TRIGGER channels_touch AFTER INSERT OR DELETE OR UPDATE OF name ON channels
    FOR EACH ROW EXECUTE FUNCTION analytics_touched_by_user();
CREATE TRIGGER videos_touch AFTER DELETE OR UPDATE OF title, youtube_video_id ON videos
    FOR EACH ROW EXECUTE FUNCTION analytics_touched_by_user();

-- The last overview computed per user and period, with the version of the facts it read.
CREATE TABLE analytics_overview_cache (
    user_id     text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    days        integer     NOT NULL,
    to_day      date        NOT NULL,
    version     bigint      NOT NULL,
    body        jsonb       NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, days)
);
