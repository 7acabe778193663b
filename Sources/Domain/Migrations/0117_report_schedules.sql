-- Recurring reports: a report made with a schedule owns a periodic job (`report-schedule:<id>`);
-- each of its runs makes a report of its own, for the same named period as of that run.
ALTER TABLE reports ADD COLUMN period text, ADD COLUMN schedule_id text;
CREATE INDEX reports_schedule ON reports (schedule_id) WHERE schedule_id IS NOT NULL;
