-- Booking bound: one insert into consultations at a random slot of the same list, the exclusion
-- constraint deciding between racers (ON CONFLICT DO NOTHING: the loser inserts nothing).
\set s random(1, :slots)
INSERT INTO consultations (company_id, employee_id, practitioner_id, scheduled_at, duration, format)
SELECT company_id, employee_id, practitioner_id, scheduled_at, 30, 'VIDEO' FROM bench_slots WHERE n = :s
ON CONFLICT DO NOTHING;
