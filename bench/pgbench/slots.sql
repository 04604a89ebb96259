-- The SQL of GET /api/practitioners/{id}/availability, statement for statement, in one
-- transaction as the request role: context, practitioner, availability rows, busy intervals.
SET ROLE huntzen_app;
BEGIN;
SELECT user_id, role, company_id, employee_id, practitioner_id FROM app_begin(:session);
SELECT time_zone, minimum_notice_minutes, booking_horizon_days, is_validated, is_active, offers_video, offers_phone, offers_in_person, user_id FROM practitioners WHERE id = :practitioner;
SELECT is_exception, day_of_week, start_time, end_time, slot_duration, exception_date FROM availabilities WHERE practitioner_id = :practitioner AND is_active;
SELECT starts_at, ends_at FROM practitioner_busy(:practitioner, now() - interval '1 day', now() + interval '30 days');
COMMIT;
