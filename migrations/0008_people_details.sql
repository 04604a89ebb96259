-- Names of accounts that have no employee or practitioner profile (HR and platform admins), and
-- removal of an employee from their company (kept for counters; hidden from lists).
ALTER TABLE users ADD COLUMN first_name text, ADD COLUMN last_name text;
ALTER TABLE employees ADD COLUMN removed_at timestamptz;
CREATE INDEX employees_company_name_idx ON employees (company_id, lower(last_name), lower(first_name));
