-- Scheduling support: Jitsi's own room events, busy ranges for slot computation, and notifying the
-- other participant of a consultation.

ALTER TYPE consultation_event_type ADD VALUE IF NOT EXISTS 'ROOM_CREATED';
ALTER TYPE consultation_event_type ADD VALUE IF NOT EXISTS 'ROOM_DESTROYED';
ALTER TYPE notification_type ADD VALUE IF NOT EXISTS 'CONSULTATION_BOOKED';

-- Events reported by Jitsi (event_sync) may have no known actor; `source` says who reported it.
ALTER TABLE consultation_events
    ALTER COLUMN actor_id DROP NOT NULL,
    ALTER COLUMN actor_role DROP NOT NULL,
    ADD COLUMN source text NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'jitsi'));

-- When a practitioner is busy, without saying with whom: an employee computing free slots cannot
-- read other employees' consultations, but must not be offered their times.
CREATE FUNCTION practitioner_busy(p_practitioner uuid, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (starts_at timestamptz, ends_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT c.scheduled_at, add_minutes(c.scheduled_at, c.duration)
    FROM consultations c
    WHERE app_user_id() IS NOT NULL
      AND c.practitioner_id = p_practitioner
      AND c.status IN ('SCHEDULED', 'CONFIRMED', 'IN_PROGRESS')
      AND tstzrange(c.scheduled_at, add_minutes(c.scheduled_at, c.duration)) && tstzrange(p_from, p_to)
$$;
REVOKE ALL ON FUNCTION practitioner_busy(uuid, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION practitioner_busy(uuid, timestamptz, timestamptz) TO huntzen_app;

-- A participant notifies the other participant of a consultation they can see; nobody else.
CREATE FUNCTION notify_other_participant(p_consultation uuid, p_type notification_type, p_title text,
                                         p_message text, p_link text)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    target uuid;
    created uuid;
BEGIN
    SELECT CASE WHEN c.employee_id = app_employee_id() THEN p.user_id ELSE e.user_id END INTO target
    FROM consultations c
    JOIN employees e ON e.id = c.employee_id
    JOIN practitioners p ON p.id = c.practitioner_id
    WHERE c.id = p_consultation
      AND (c.employee_id = app_employee_id() OR c.practitioner_id = app_practitioner_id());
    IF target IS NULL THEN
        RAISE EXCEPTION 'not a participant of this consultation' USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO notifications (user_id, type, title, message, link_url)
    VALUES (target, p_type, p_title, p_message, p_link)
    RETURNING id INTO created;
    RETURN created;
END
$$;
REVOKE ALL ON FUNCTION notify_other_participant(uuid, notification_type, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION notify_other_participant(uuid, notification_type, text, text, text) TO huntzen_app;
