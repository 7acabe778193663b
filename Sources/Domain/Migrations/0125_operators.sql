-- Operators: users who may use the admin API and the console, granted and revoked from the
-- command line only (each grant and revocation in the queue's `operator_audit`).
ALTER TABLE users ADD COLUMN operator boolean NOT NULL DEFAULT false;
