-- Live notifications for WebSocket clients. Video state changes are published by the
-- statements that make them; every other outbox event (batch.completed, quota.warning,
-- account.auth_expired, ...) is published here, whoever inserts it, in the same transaction.
-- The channel name is `DomainEvents.liveChannel`.
CREATE FUNCTION domain_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    payload text := json_build_object('type', 'system.notification', 'user_id', NEW.user_id, 'event', NEW.type,
                                      'event_id', NEW.id, 'details', NEW.data)::text;
BEGIN
    -- NOTIFY payloads are limited to 8000 bytes; an event that large is left to webhooks.
    IF octet_length(payload) < 7900 THEN
        PERFORM pg_notify('ytempire_live_events', payload);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER domain_events_live AFTER INSERT ON domain_events
    FOR EACH ROW WHEN (NEW.type NOT LIKE 'video.%' AND NEW.type NOT LIKE 'webhook.%')
    EXECUTE FUNCTION domain_events_notify();
