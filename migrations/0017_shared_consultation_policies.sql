-- "People seen through a shared consultation" (0003) read as `id IN (SELECT x FROM consultations)`:
-- PostgreSQL evaluated that by reading every consultation the caller may see, once per query. A
-- practitioner with 1,000,000 consultations paid ~0.7 s for any read joining companies (the billing
-- export). The same rules as correlated EXISTS probes, each answered by an index.
CREATE INDEX consultations_practitioner_company_idx ON consultations (practitioner_id, company_id);

DROP POLICY employees_practitioner_read ON employees;
CREATE POLICY employees_practitioner_read ON employees FOR SELECT
    USING (app_role() = 'PRACTITIONER' AND EXISTS (
        SELECT 1 FROM consultations c WHERE c.employee_id = employees.id AND c.practitioner_id = app_practitioner_id()));

DROP POLICY practitioners_booked_read ON practitioners;
CREATE POLICY practitioners_booked_read ON practitioners FOR SELECT
    USING (app_role() = 'EMPLOYEE' AND EXISTS (
        SELECT 1 FROM consultations c WHERE c.practitioner_id = practitioners.id AND c.employee_id = app_employee_id()));

DROP POLICY companies_practitioner_read ON companies;
CREATE POLICY companies_practitioner_read ON companies FOR SELECT
    USING (app_role() = 'PRACTITIONER' AND EXISTS (
        SELECT 1 FROM consultations c WHERE c.company_id = companies.id AND c.practitioner_id = app_practitioner_id()));

-- A practitioner's completed consultations in completion order (billing, its CSV export):
-- read in index order, so the export streams from the first row without sorting.
CREATE INDEX consultations_completed_by_practitioner_idx ON consultations (practitioner_id, ended_at, id)
    WHERE status = 'COMPLETED';
