-- Benchmark data (run by bench/run as the database owner on a scratch cluster). Every account's
-- password hash is copied from :'hash_email' (made by `huntzen seed-demo`), so no hashing here.
\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE h AS SELECT password_hash FROM users WHERE email = :'hash_email';

-- Booking company: 64 employees, 20 practitioners open every day 08:00-18:00 UTC in 30-minute slots.
INSERT INTO companies (name, slug, domain, is_active) VALUES ('Bench', 'bench-co', 'bench.test', true);
INSERT INTO users (email, password_hash, role, company_id, email_verified)
SELECT 'bench-e-' || n || '@bench.test', (SELECT password_hash FROM h), 'EMPLOYEE', c.id, true
FROM generate_series(1, 64) n, companies c WHERE c.slug = 'bench-co';
INSERT INTO employees (user_id, company_id, first_name, last_name)
SELECT u.id, u.company_id, 'Bench', split_part(u.email, '@', 1) FROM users u WHERE u.email LIKE 'bench-e-%';
INSERT INTO users (email, password_hash, role, email_verified)
SELECT 'bench-p-' || n || '@bench.test', (SELECT password_hash FROM h), 'PRACTITIONER', true FROM generate_series(1, 20) n;
INSERT INTO practitioners (user_id, first_name, last_name, title, specialty, is_validated, time_zone, minimum_notice_minutes)
SELECT id, 'Bench', split_part(email, '@', 1), 'Dr', 'PSYCHOLOGUE_CLINICIEN', true, 'UTC', 0
FROM users WHERE email LIKE 'bench-p-%';
INSERT INTO availabilities (practitioner_id, day_of_week, start_time, end_time, slot_duration)
SELECT p.id, d, '08:00', '18:00', 30 FROM practitioners p JOIN users u ON u.id = p.user_id, generate_series(0, 6) d
WHERE u.email LIKE 'bench-p-%';

-- Reports and exports: 10 companies of 1,000 employees with their HR admins, and 1.1 million
-- COMPLETED consultations with one practitioner (bench-p-export): 100,000 ended in May 2026,
-- 1,000,000 in June 2026.
INSERT INTO companies (name, slug, domain, is_active)
SELECT 'Report ' || n, 'report-' || n, 'report-' || n || '.test', true FROM generate_series(1, 10) n;
INSERT INTO users (email, password_hash, role, company_id, email_verified, first_name, last_name)
SELECT 'rh@' || c.domain, (SELECT password_hash FROM h), 'ADMIN_RH', c.id, true, 'RH', c.name
FROM companies c WHERE c.slug LIKE 'report-%';
INSERT INTO users (email, password_hash, role, company_id, email_verified)
SELECT 'e' || n || '@' || c.domain, (SELECT password_hash FROM h), 'EMPLOYEE', c.id, true
FROM companies c, generate_series(1, 1000) n WHERE c.slug LIKE 'report-%';
INSERT INTO employees (user_id, company_id, first_name, last_name, department)
SELECT u.id, u.company_id, 'Emp', split_part(u.email, '@', 1), 'Dept ' || (abs(hashtext(u.email)) % 8)
FROM users u JOIN companies c ON c.id = u.company_id WHERE c.slug LIKE 'report-%' AND u.role = 'EMPLOYEE';
INSERT INTO users (email, password_hash, role, email_verified)
VALUES ('bench-p-export@bench.test', (SELECT password_hash FROM h), 'PRACTITIONER', true);
INSERT INTO practitioners (user_id, first_name, last_name, title, specialty, is_validated)
SELECT id, 'Export', 'Bench', 'Dr', 'PSYCHIATRE', true FROM users WHERE email = 'bench-p-export@bench.test';
CREATE TEMP TABLE report_employees AS
SELECT row_number() OVER (ORDER BY e.id) AS n, e.id, e.company_id FROM employees e
JOIN companies c ON c.id = e.company_id WHERE c.slug LIKE 'report-%';
COMMIT;

-- Bulk rows outside RLS-visible paths: triggers and the exclusion constraint still apply.
INSERT INTO consultations (company_id, employee_id, practitioner_id, scheduled_at, duration, format, status,
                           started_at, ended_at, actual_duration)
SELECT r.company_id, r.id, p.id, at, 50, 'VIDEO', 'COMPLETED', at, at + interval '45 minutes', 45
FROM generate_series(1, 1100000) g
JOIN report_employees r ON r.n = 1 + (g % 10000)
CROSS JOIN (SELECT id FROM practitioners WHERE last_name = 'Bench' AND first_name = 'Export') p
CROSS JOIN LATERAL (SELECT CASE WHEN g <= 100000
                                THEN timestamptz '2026-05-01' + (g * interval '26 seconds')
                                ELSE timestamptz '2026-06-01' + ((g - 100000) * interval '2.5 seconds') END AS at) t;
ANALYZE;
