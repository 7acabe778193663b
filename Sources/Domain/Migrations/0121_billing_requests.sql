-- Payments: each call that changes something at Stripe takes the next number of this
-- sequence for its idempotency key, so a retried call (a dropped connection, the client's
-- retry) is applied once. A sequence, not a counter in the account's row: numbers are taken
-- outside the caller's transaction (one that rolls back must not give its key to the next
-- request) without waiting on the row that transaction holds.
CREATE SEQUENCE billing_request_seq;

-- A Stripe event is kept as Stripe signed it: `json` keeps the text (jsonb refuses the
-- `\u0000` a customer's own text may carry, which would refuse the event on every delivery).
ALTER TABLE stripe_events ALTER COLUMN payload TYPE json USING payload::json;
