-- Rescheduling and cancellation rules, and where in-person sessions happen.
--
-- `late_cancellation_hours`: an employee's cancellation or reschedule less than this many hours
-- before the start uses one session of the allowance (`consultations.late_changes` counts them;
-- `allowance_used` adds them). A practitioner's change never does.
ALTER TABLE companies
    ADD COLUMN late_cancellation_hours integer NOT NULL DEFAULT 24
        CHECK (late_cancellation_hours BETWEEN 0 AND 336);
ALTER TABLE consultations
    ADD COLUMN late_changes smallint NOT NULL DEFAULT 0 CHECK (late_changes BETWEEN 0 AND 1000);

ALTER TYPE consultation_event_type ADD VALUE IF NOT EXISTS 'RESCHEDULED';
ALTER TYPE notification_type ADD VALUE IF NOT EXISTS 'CONSULTATION_RESCHEDULED';

-- A used session is never given back by an update.
CREATE FUNCTION guard_consultation_late_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.late_changes < OLD.late_changes THEN
        RAISE EXCEPTION 'late changes are never taken back' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER consultations_late_changes_guard BEFORE UPDATE OF late_changes ON consultations
    FOR EACH ROW EXECUTE FUNCTION guard_consultation_late_changes();

-- The allowance: every consultation of the year that is not cancelled, plus every late change.
CREATE OR REPLACE FUNCTION allowance_used(p_employee uuid, p_year int) RETURNS bigint
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT count(*) FILTER (WHERE c.status <> 'CANCELLED') + coalesce(sum(c.late_changes), 0)
    FROM consultations c
    WHERE c.employee_id = p_employee
      AND c.scheduled_at >= make_timestamptz(p_year, 1, 1, 0, 0, 0, 'UTC')
      AND c.scheduled_at < make_timestamptz(p_year + 1, 1, 1, 0, 0, 0, 'UTC')
$$;

-- The office of in-person sessions: read by the practitioner and, through a consultation, by
-- the employee of an IN_PERSON booking; never part of the public profile.
ALTER TABLE practitioners
    ADD COLUMN office_address text CHECK (char_length(office_address) <= 300),
    ADD COLUMN office_access_notes text CHECK (char_length(office_access_notes) <= 1000);
