-- The HR monthly report reads one company's completed consultations of one month. This partial
-- covering index answers it with an index-only range scan (company, month) instead of visiting
-- every consultation of every employee (bench/RESULTS.md: ~37 ms -> ~15 ms for a company of
-- 1,000 employees and 110,000 consultations).
CREATE INDEX consultations_completed_by_company_idx ON consultations (company_id, ended_at)
    INCLUDE (employee_id, actual_duration) WHERE status = 'COMPLETED';

-- Same result as in 0011; the counters are aggregated per employee first, from the index above.
CREATE OR REPLACE FUNCTION report_employee_usage(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (employee_id uuid, employee_name text, department text, consultation_count bigint, total_duration_minutes bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT e.id, e.first_name || ' ' || e.last_name, e.department,
           coalesce(u.consultations, 0), coalesce(u.minutes, 0)
    FROM employees e
    LEFT JOIN (SELECT c.employee_id, count(*) AS consultations, coalesce(sum(c.actual_duration), 0)::bigint AS minutes
               FROM consultations c
               WHERE c.company_id = app_company_id() AND c.status = 'COMPLETED'
                 AND c.ended_at >= p_from AND c.ended_at < p_to
               GROUP BY c.employee_id) u ON u.employee_id = e.id
    WHERE app_role() = 'ADMIN_RH' AND e.company_id = app_company_id()
      AND (e.removed_at IS NULL OR u.employee_id IS NOT NULL)
    ORDER BY lower(e.last_name), lower(e.first_name), e.id
$$;
