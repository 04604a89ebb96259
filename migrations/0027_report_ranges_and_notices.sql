-- Platform-wide usage (per company and month, by format; no person) and the monthly notice that
-- a company's report is ready.

-- Completed consultations per company and month of the company's zone, counted (as HR's
-- counters are) from the day after they ended there: months `[p_from, p_to)` (first days).
-- Every live company and every month appear, zeros included. Platform roles only.
CREATE FUNCTION report_platform_usage(p_from date, p_to date)
RETURNS TABLE (company_id uuid, company_name text, period text, consultations bigint,
               minutes bigint, active_employees bigint, video_consultations bigint,
               video_minutes bigint, audio_consultations bigint, audio_minutes bigint,
               in_person_consultations bigint, in_person_minutes bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT co.id, co.name, to_char(m.first, 'YYYY-MM'),
           count(c.id), coalesce(sum(c.actual_duration), 0)::bigint, count(DISTINCT c.employee_id),
           count(c.id) FILTER (WHERE c.format = 'VIDEO'),
           coalesce(sum(c.actual_duration) FILTER (WHERE c.format = 'VIDEO'), 0)::bigint,
           count(c.id) FILTER (WHERE c.format = 'AUDIO'),
           coalesce(sum(c.actual_duration) FILTER (WHERE c.format = 'AUDIO'), 0)::bigint,
           count(c.id) FILTER (WHERE c.format = 'IN_PERSON'),
           coalesce(sum(c.actual_duration) FILTER (WHERE c.format = 'IN_PERSON'), 0)::bigint
    FROM companies co
    CROSS JOIN generate_series(p_from::timestamp, (p_to - 1)::timestamp, interval '1 month') AS m(first)
    LEFT JOIN consultations c
        ON c.company_id = co.id AND c.status = 'COMPLETED'
       AND c.ended_at >= m.first AT TIME ZONE co.time_zone
       AND c.ended_at < least((m.first + interval '1 month') AT TIME ZONE co.time_zone,
                              date_trunc('day', now() AT TIME ZONE co.time_zone) AT TIME ZONE co.time_zone)
    WHERE app_role() IN ('ADMIN_HUNTZEN', 'SUPER_ADMIN') AND co.deleted_at IS NULL
    GROUP BY co.id, co.name, m.first
    ORDER BY lower(co.name), co.id, m.first
$$;
REVOKE ALL ON FUNCTION report_platform_usage(date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION report_platform_usage(date, date) TO huntzen_app;

-- One row per company and month whose "report ready" mails were enqueued (with the row, in one
-- transaction): every replica runs the check, each company hears once per month.
CREATE TABLE report_notices (
    company_id uuid NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    period text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    recipients integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (company_id, period)
);
-- Written by the server's own (system) connection only: no grant to the request role, and no
-- row visible to it even if one were given.
ALTER TABLE report_notices ENABLE ROW LEVEL SECURITY;
ALTER TABLE report_notices FORCE ROW LEVEL SECURITY;
CREATE POLICY report_notices_system_only ON report_notices FOR SELECT USING (false);
