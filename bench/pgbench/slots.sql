-- The SQL of GET /api/practitioners/{id}/availability, statement for statement, in one
-- transaction as the request role: context, then the practitioner's schedule in one statement
-- (src/care/scheduling/schedule.rs: the query of `load`).
SET ROLE huntzen_app;
BEGIN;
SELECT user_id, role, company_id, employee_id, practitioner_id FROM app_begin(:session);
SELECT p.time_zone, p.minimum_notice_minutes, p.booking_horizon_days, p.is_validated, p.is_active,
       p.offers_video, p.offers_phone, p.offers_in_person,
       a.is_exception, a.day_of_week, a.start_time, a.end_time, a.slot_duration, a.exception_date,
       b.busy_starts, b.busy_ends
FROM practitioners p
CROSS JOIN LATERAL (SELECT array_agg(is_exception) AS is_exception, array_agg(day_of_week) AS day_of_week,
                           array_agg(start_time) AS start_time, array_agg(end_time) AS end_time,
                           array_agg(slot_duration) AS slot_duration, array_agg(exception_date) AS exception_date
                    FROM availabilities WHERE practitioner_id = p.id AND is_active) a
CROSS JOIN LATERAL (SELECT array_agg(starts_at) AS busy_starts, array_agg(ends_at) AS busy_ends
                    FROM practitioner_busy(p.id, :window_start, :window_end)) b
WHERE p.id = :practitioner;
COMMIT;
