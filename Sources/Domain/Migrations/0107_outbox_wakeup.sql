-- Wakes the leading dispatcher's webhook fan-out as soon as outbox events commit, instead of at
-- its next round: one empty NOTIFY per statement, which Postgres folds into one per
-- transaction. The channel name is `DomainEvents.outboxChannel`.
CREATE FUNCTION domain_events_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ytempire_outbox', '');
    RETURN NULL;
END $$;

CREATE TRIGGER domain_events_wake AFTER INSERT ON domain_events
    FOR EACH STATEMENT EXECUTE FUNCTION domain_events_wake();
