-- Scheduling: weekly availability in the practitioner's local time, consultations and their events.

CREATE TABLE availabilities (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    practitioner_id uuid NOT NULL REFERENCES practitioners (id) ON DELETE CASCADE,
    day_of_week smallint CHECK (day_of_week BETWEEN 0 AND 6),
    start_time time,
    end_time time,
    slot_duration integer NOT NULL DEFAULT 50 CHECK (slot_duration BETWEEN 10 AND 240),
    is_exception boolean NOT NULL DEFAULT false,
    exception_date date,
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (start_time IS NULL OR end_time IS NULL OR start_time < end_time),
    CHECK (is_exception = (exception_date IS NOT NULL)),
    CHECK (is_exception OR (day_of_week IS NOT NULL AND start_time IS NOT NULL AND end_time IS NOT NULL))
);
CREATE INDEX availabilities_practitioner_id_idx ON availabilities (practitioner_id);
CREATE INDEX availabilities_day_of_week_idx ON availabilities (day_of_week);
CREATE INDEX availabilities_exception_date_idx ON availabilities (exception_date);

CREATE TABLE consultations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id uuid NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    employee_id uuid NOT NULL REFERENCES employees (id) ON DELETE CASCADE,
    practitioner_id uuid NOT NULL REFERENCES practitioners (id) ON DELETE CASCADE,
    scheduled_at timestamptz NOT NULL,
    duration integer NOT NULL DEFAULT 50 CHECK (duration BETWEEN 10 AND 240),
    format consultation_format NOT NULL,
    status consultation_status NOT NULL DEFAULT 'SCHEDULED',
    started_at timestamptz,
    ended_at timestamptz,
    actual_duration integer CHECK (actual_duration >= 0),
    cancelled_at timestamptz,
    cancelled_by uuid,
    cancel_reason text,
    room_name text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- No double booking, by construction: live consultations of one practitioner never overlap.
    CONSTRAINT consultations_no_overlap EXCLUDE USING gist (
        practitioner_id WITH =,
        tstzrange(scheduled_at, add_minutes(scheduled_at, duration)) WITH &&
    ) WHERE (status IN ('SCHEDULED', 'CONFIRMED', 'IN_PROGRESS'))
);
CREATE INDEX consultations_company_id_idx ON consultations (company_id);
CREATE INDEX consultations_employee_id_idx ON consultations (employee_id);
CREATE INDEX consultations_practitioner_id_idx ON consultations (practitioner_id);
CREATE INDEX consultations_scheduled_at_idx ON consultations (scheduled_at);
CREATE INDEX consultations_status_idx ON consultations (status);

CREATE TABLE consultation_events (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    consultation_id uuid NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    event_type consultation_event_type NOT NULL,
    actor_id uuid NOT NULL,
    actor_role user_role NOT NULL,
    timestamp timestamptz NOT NULL DEFAULT now(),
    metadata jsonb
);
CREATE INDEX consultation_events_consultation_id_idx ON consultation_events (consultation_id);
CREATE INDEX consultation_events_event_type_idx ON consultation_events (event_type);
CREATE INDEX consultation_events_timestamp_idx ON consultation_events (timestamp);

CREATE TRIGGER availabilities_updated_at BEFORE UPDATE ON availabilities FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER consultations_updated_at BEFORE UPDATE ON consultations FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- ───────────── Row-level security ─────────────

ALTER TABLE availabilities ENABLE ROW LEVEL SECURITY;
ALTER TABLE availabilities FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON availabilities TO huntzen_app;
-- Readable wherever the practitioner is (listed ones by everyone signed in, one's own always).
CREATE POLICY availabilities_read ON availabilities FOR SELECT
    USING (practitioner_id IN (SELECT id FROM practitioners));
CREATE POLICY availabilities_owner_write ON availabilities FOR ALL
    USING (practitioner_id = app_practitioner_id())
    WITH CHECK (practitioner_id = app_practitioner_id());

-- A consultation is visible to its two participants only. HR sees usage through aggregate
-- functions (reports), never these rows; platform roles not at all.
ALTER TABLE consultations ENABLE ROW LEVEL SECURITY;
ALTER TABLE consultations FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE ON consultations TO huntzen_app;
CREATE POLICY consultations_participant_read ON consultations FOR SELECT
    USING (employee_id = app_employee_id() OR practitioner_id = app_practitioner_id());
CREATE POLICY consultations_employee_book ON consultations FOR INSERT
    WITH CHECK (app_role() = 'EMPLOYEE' AND employee_id = app_employee_id() AND company_id = app_company_id());
CREATE POLICY consultations_participant_update ON consultations FOR UPDATE
    USING (employee_id = app_employee_id() OR practitioner_id = app_practitioner_id())
    WITH CHECK (employee_id = app_employee_id() OR practitioner_id = app_practitioner_id());

ALTER TABLE consultation_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE consultation_events FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT ON consultation_events TO huntzen_app;
CREATE POLICY consultation_events_participant_read ON consultation_events FOR SELECT
    USING (consultation_id IN (SELECT id FROM consultations));
CREATE POLICY consultation_events_participant_write ON consultation_events FOR INSERT
    WITH CHECK (actor_id = app_user_id() AND consultation_id IN (SELECT id FROM consultations));

-- People seen through a shared consultation: a practitioner sees their patients' names, an
-- employee the practitioners they booked, a practitioner the companies they bill.
CREATE POLICY employees_practitioner_read ON employees FOR SELECT
    USING (app_role() = 'PRACTITIONER' AND id IN (SELECT employee_id FROM consultations));
CREATE POLICY practitioners_booked_read ON practitioners FOR SELECT
    USING (app_role() = 'EMPLOYEE' AND id IN (SELECT practitioner_id FROM consultations));
CREATE POLICY companies_practitioner_read ON companies FOR SELECT
    USING (app_role() = 'PRACTITIONER' AND id IN (SELECT company_id FROM consultations));
