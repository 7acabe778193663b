-- Reports come as PDF too: a title page, charts and tables with totals (see ReportDigest).
ALTER TABLE reports DROP CONSTRAINT reports_format_check;
ALTER TABLE reports ADD CONSTRAINT reports_format_check CHECK (format IN ('csv', 'json', 'pdf'));
