-- Real time: every notification row announces itself, so that whichever node holds the user's
-- sockets pushes it (`notification:new`), whatever created it (a request, a job, a SQL function).
CREATE FUNCTION announce_notification() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('huntzen_notification', NEW.id::text);
    RETURN NEW;
END
$$;
CREATE TRIGGER notifications_announce AFTER INSERT ON notifications
    FOR EACH ROW EXECUTE FUNCTION announce_notification();

ALTER TYPE consultation_event_type ADD VALUE IF NOT EXISTS 'CALL_STARTED';
ALTER TYPE consultation_event_type ADD VALUE IF NOT EXISTS 'CALL_ENDED';
