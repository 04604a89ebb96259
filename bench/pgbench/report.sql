-- The SQL of GET /api/reports/employee-usage?period=2026-06, as the HR admin's request.
SET ROLE huntzen_app;
BEGIN;
SELECT user_id, role, company_id, employee_id, practitioner_id FROM app_begin(:session);
SELECT * FROM report_employee_usage('2026-06-01T00:00:00Z', '2026-07-01T00:00:00Z');
COMMIT;
