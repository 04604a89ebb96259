-- The company allowance as one definition: the sessions an employee has used in a calendar year
-- (UTC), read by booking (under the employee's booking lock) and by /api/me. SECURITY INVOKER:
-- row-level security decides which consultations the caller counts (an employee: their own).
CREATE FUNCTION allowance_used(p_employee uuid, p_year int) RETURNS bigint
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT count(*)
    FROM consultations c
    WHERE c.employee_id = p_employee
      AND c.status <> 'CANCELLED'
      AND c.scheduled_at >= make_timestamptz(p_year, 1, 1, 0, 0, 0, 'UTC')
      AND c.scheduled_at < make_timestamptz(p_year + 1, 1, 1, 0, 0, 0, 'UTC')
$$;
REVOKE ALL ON FUNCTION allowance_used(uuid, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION allowance_used(uuid, int) TO huntzen_app;
