-- The SQL of GET /api/reports/employee-usage?period=2026-06, as the HR admin's request: context,
-- then the report as a JSON array (reports.rs USAGE_ITEMS_SQL), in one transaction.
SET ROLE huntzen_app;
BEGIN;
SELECT user_id, role, company_id, employee_id, practitioner_id FROM app_begin(:session);
SELECT '[' || coalesce(string_agg('{"employeeId":' || to_json(r.employee_id)::text || ',"employeeName":' || to_json(r.employee_name)::text || ',"period":' || to_json('2026-06'::text)::text || ',"consultationCount":' || r.consultation_count || ',"totalDurationMinutes":' || r.total_duration_minutes || '}', ',' ORDER BY r.n), '') || ']' FROM report_employee_usage('2026-06-01'::date, '2026-07-01'::date) WITH ORDINALITY AS r(employee_id, employee_name, department, consultation_count, total_duration_minutes, n);
COMMIT;
