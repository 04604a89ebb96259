-- Reports: aggregates only. HR cannot read consultations (RLS), so these narrow SECURITY DEFINER
-- functions compute counters for the caller's own company and return numbers, never who, why,
-- with whom or when. Each checks the caller's role itself.

-- Completed consultations and minutes per employee of the caller's company, in [p_from, p_to).
CREATE FUNCTION report_employee_usage(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (employee_id uuid, employee_name text, department text, consultation_count bigint, total_duration_minutes bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT e.id, e.first_name || ' ' || e.last_name, e.department,
           count(c.id), coalesce(sum(c.actual_duration), 0)::bigint
    FROM employees e
    LEFT JOIN consultations c ON c.employee_id = e.id AND c.status = 'COMPLETED'
         AND c.ended_at >= p_from AND c.ended_at < p_to
    WHERE app_role() = 'ADMIN_RH' AND e.company_id = app_company_id()
      AND (e.removed_at IS NULL OR c.id IS NOT NULL)
    GROUP BY e.id
    ORDER BY lower(e.last_name), lower(e.first_name), e.id
$$;

-- One employee of the caller's company, per month (UTC) of completion.
CREATE FUNCTION report_employee_months(p_employee uuid)
RETURNS TABLE (period text, consultation_count bigint, total_duration_minutes bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT to_char(c.ended_at AT TIME ZONE 'UTC', 'YYYY-MM'), count(*), coalesce(sum(c.actual_duration), 0)::bigint
    FROM consultations c JOIN employees e ON e.id = c.employee_id
    WHERE app_role() = 'ADMIN_RH' AND e.company_id = app_company_id() AND e.id = p_employee
      AND c.status = 'COMPLETED'
    GROUP BY 1 ORDER BY 1 DESC
$$;

-- Platform aggregates for platform roles: counts only.
CREATE FUNCTION report_platform_kpis()
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT CASE WHEN app_role() IN ('ADMIN_HUNTZEN', 'SUPER_ADMIN') THEN jsonb_build_object(
        'companies', (SELECT count(*) FROM companies WHERE deleted_at IS NULL),
        'activeCompanies', (SELECT count(*) FROM companies WHERE is_active AND deleted_at IS NULL),
        'employees', (SELECT count(*) FROM employees WHERE removed_at IS NULL),
        'validatedPractitioners', (SELECT count(*) FROM practitioners WHERE is_validated AND is_active),
        'pendingPractitioners', (SELECT count(*) FROM practitioners WHERE NOT is_validated AND is_active),
        'consultationsByStatus', (SELECT coalesce(jsonb_object_agg(status, n), '{}') FROM
            (SELECT status::text, count(*) AS n FROM consultations GROUP BY 1) s),
        'consultationsByFormat', (SELECT coalesce(jsonb_object_agg(format, n), '{}') FROM
            (SELECT format::text, count(*) AS n FROM consultations GROUP BY 1) f),
        'consultationsByMonth', (SELECT coalesce(jsonb_agg(jsonb_build_object('period', period, 'count', n) ORDER BY period DESC), '[]') FROM
            (SELECT to_char(scheduled_at AT TIME ZONE 'UTC', 'YYYY-MM') AS period, count(*) AS n FROM consultations
             WHERE scheduled_at >= now() - interval '12 months' GROUP BY 1) m),
        'utilisationRate', (SELECT CASE WHEN count(*) = 0 THEN 0
                                 ELSE round(count(*) FILTER (WHERE status = 'COMPLETED')::numeric / count(*), 4) END
                            FROM consultations WHERE status IN ('COMPLETED', 'CANCELLED', 'NO_SHOW'))
    ) END
$$;

REVOKE ALL ON FUNCTION report_employee_usage(timestamptz, timestamptz), report_employee_months(uuid), report_platform_kpis() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION report_employee_usage(timestamptz, timestamptz), report_employee_months(uuid), report_platform_kpis() TO huntzen_app;
