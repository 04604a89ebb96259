-- Account safety: step-up-free token kinds for email changes and unlock links, registrations that
-- grant nothing before the mailbox is proven, suspension, several email domains per company, and
-- when a login was last used.

ALTER TYPE one_time_token_purpose ADD VALUE IF NOT EXISTS 'CHANGE_EMAIL';
ALTER TYPE one_time_token_purpose ADD VALUE IF NOT EXISTS 'UNLOCK';

-- `pending_email`: the address a `PUT /api/me/email` asked for, until its link is used (the user
-- sets it; only the mailed link moves it to `email`).
-- `self_registered`: created by `POST /api/auth/register`; while its email is unverified, an
-- invitation or HR creation of the same address replaces it.
-- `suspended_at`: set with `is_active = false` by a suspension, cleared by a reactivation.
ALTER TABLE users
    ADD COLUMN pending_email text,
    ADD COLUMN self_registered boolean NOT NULL DEFAULT false,
    ADD COLUMN suspended_at timestamptz;

-- The last sign-in or token refresh of a login.
ALTER TABLE login_sessions ADD COLUMN last_used_at timestamptz;
UPDATE login_sessions SET last_used_at = created_at;
ALTER TABLE login_sessions ALTER COLUMN last_used_at SET DEFAULT now(), ALTER COLUMN last_used_at SET NOT NULL;

-- A company lists every email domain of its employees; `domain` stays its first.
ALTER TABLE companies ADD COLUMN domains text[] NOT NULL DEFAULT '{}';
UPDATE companies SET domains = ARRAY[lower(domain)] WHERE coalesce(domain, '') <> '';
CREATE INDEX companies_domains_idx ON companies USING gin (domains);

-- Keeps `domain` and `domains` in step, lower-cased, and one domain to one live company (checked
-- under a lock, across every company whatever the caller's row-level view).
CREATE FUNCTION sync_company_domains() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.domains IS NOT DISTINCT FROM OLD.domains
       AND NEW.domain IS DISTINCT FROM OLD.domain THEN
        NEW.domains := array_remove(OLD.domains, lower(OLD.domain));
        IF coalesce(NEW.domain, '') <> '' THEN
            NEW.domains := ARRAY[lower(NEW.domain)] || array_remove(NEW.domains, lower(NEW.domain));
        END IF;
    ELSIF TG_OP = 'INSERT' AND cardinality(NEW.domains) = 0 AND coalesce(NEW.domain, '') <> '' THEN
        NEW.domains := ARRAY[lower(NEW.domain)];
    END IF;
    NEW.domains := ARRAY(SELECT d FROM (SELECT lower(x) AS d, min(n) AS n
                                        FROM unnest(NEW.domains) WITH ORDINALITY AS t(x, n)
                                        WHERE coalesce(x, '') <> '' GROUP BY lower(x)) s
                         ORDER BY n);
    NEW.domain := NEW.domains[1];
    IF NEW.deleted_at IS NULL AND cardinality(NEW.domains) > 0 THEN
        PERFORM pg_advisory_xact_lock(hashtext('huntzen:company_domains'));
        IF EXISTS (SELECT 1 FROM companies c
                   WHERE c.id <> NEW.id AND c.deleted_at IS NULL AND c.domains && NEW.domains) THEN
            RAISE EXCEPTION 'another company already uses one of these email domains'
                USING ERRCODE = 'unique_violation', CONSTRAINT = 'companies_domains_key';
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER companies_domains BEFORE INSERT OR UPDATE ON companies
    FOR EACH ROW EXECUTE FUNCTION sync_company_domains();

CREATE OR REPLACE FUNCTION guard_company_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF app_role() IS NOT NULL AND app_role() <> 'ADMIN_HUNTZEN' AND (
        NEW.is_active IS DISTINCT FROM OLD.is_active
        OR NEW.validated_at IS DISTINCT FROM OLD.validated_at
        OR NEW.deleted_at IS DISTINCT FROM OLD.deleted_at
        OR NEW.domain IS DISTINCT FROM OLD.domain
        OR NEW.domains IS DISTINCT FROM OLD.domains
        OR NEW.slug IS DISTINCT FROM OLD.slug) THEN
        RAISE EXCEPTION 'only a platform administrator changes a company''s status or domain' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION guard_user_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF app_role() IS NOT NULL AND OLD.id = app_user_id() AND (
        NEW.is_active IS DISTINCT FROM OLD.is_active
        OR NEW.awaiting_approval IS DISTINCT FROM OLD.awaiting_approval
        OR NEW.email_verified IS DISTINCT FROM OLD.email_verified
        OR NEW.email IS DISTINCT FROM OLD.email
        OR NEW.suspended_at IS DISTINCT FROM OLD.suspended_at
        OR NEW.self_registered IS DISTINCT FROM OLD.self_registered) THEN
        RAISE EXCEPTION 'a user cannot change their own account status' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

-- An invitation, an HR creation or a new registration of an address held by an unverified
-- self-registration replaces it: that registration never granted anything (login refuses an
-- unverified address), so it holds nothing to keep. An HR admin releases only addresses in their
-- company's domains; people without an admin role release nothing.
CREATE FUNCTION release_unverified_registration(p_email text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    released uuid;
BEGIN
    IF app_role() IS NOT NULL AND app_role() NOT IN ('ADMIN_RH', 'ADMIN_HUNTZEN', 'SUPER_ADMIN') THEN
        RETURN false;
    END IF;
    IF app_role() = 'ADMIN_RH' AND NOT EXISTS (
        SELECT 1 FROM companies c
        WHERE c.id = app_company_id() AND split_part(lower(p_email), '@', 2) = ANY (c.domains)) THEN
        RETURN false;
    END IF;
    DELETE FROM users
    WHERE lower(email) = lower(p_email) AND self_registered AND NOT email_verified
      AND erased_at IS NULL
    RETURNING id INTO released;
    RETURN released IS NOT NULL;
END
$$;
REVOKE ALL ON FUNCTION release_unverified_registration(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION release_unverified_registration(text) TO huntzen_app;

-- HR learns nothing about timing: a company has a time zone, and its reports count a consultation
-- from the day after it ended there (a session ending today shows tomorrow), per month of that zone.
ALTER TABLE companies ADD COLUMN time_zone text NOT NULL DEFAULT 'Europe/Paris';

DROP FUNCTION report_employee_usage(timestamptz, timestamptz);
-- Completed consultations and minutes per employee of the caller's company that ended in the
-- company's local days [p_from, p_to) and before today there.
CREATE FUNCTION report_employee_usage(p_from date, p_to date)
RETURNS TABLE (employee_id uuid, employee_name text, department text, consultation_count bigint, total_duration_minutes bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH bounds AS (
        SELECT p_from::timestamp AT TIME ZONE co.time_zone AS lo,
               least(p_to::timestamp AT TIME ZONE co.time_zone,
                     date_trunc('day', now() AT TIME ZONE co.time_zone) AT TIME ZONE co.time_zone) AS hi
        FROM companies co WHERE co.id = app_company_id()
    )
    SELECT e.id, e.first_name || ' ' || e.last_name, e.department,
           coalesce(u.consultations, 0), coalesce(u.minutes, 0)
    FROM employees e
    LEFT JOIN (SELECT c.employee_id, count(*) AS consultations, coalesce(sum(c.actual_duration), 0)::bigint AS minutes
               FROM consultations c, bounds b
               WHERE c.company_id = app_company_id() AND c.status = 'COMPLETED'
                 AND c.ended_at >= b.lo AND c.ended_at < b.hi
               GROUP BY c.employee_id) u ON u.employee_id = e.id
    WHERE app_role() = 'ADMIN_RH' AND e.company_id = app_company_id()
      AND (e.removed_at IS NULL OR u.employee_id IS NOT NULL)
    ORDER BY lower(e.last_name), lower(e.first_name), e.id
$$;
REVOKE ALL ON FUNCTION report_employee_usage(date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION report_employee_usage(date, date) TO huntzen_app;

-- One employee of the caller's company, per month of the company's zone, consultations that
-- ended before today there.
CREATE OR REPLACE FUNCTION report_employee_months(p_employee uuid)
RETURNS TABLE (period text, consultation_count bigint, total_duration_minutes bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT to_char(c.ended_at AT TIME ZONE co.time_zone, 'YYYY-MM'), count(*),
           coalesce(sum(c.actual_duration), 0)::bigint
    FROM consultations c
    JOIN employees e ON e.id = c.employee_id
    JOIN companies co ON co.id = e.company_id
    WHERE app_role() = 'ADMIN_RH' AND e.company_id = app_company_id() AND e.id = p_employee
      AND c.status = 'COMPLETED'
      AND c.ended_at < date_trunc('day', now() AT TIME ZONE co.time_zone) AT TIME ZONE co.time_zone
    GROUP BY 1 ORDER BY 1 DESC
$$;

-- Practitioner credentials: what validation vouched for (title, specialty, diplomas, licence
-- number) changes only through review. A validated practitioner's own change is parked in
-- `pending_review` (the public profile keeps the validated values) until an ADMIN_HUNTZEN
-- validates it.
ALTER TABLE practitioners
    ADD COLUMN license_number text,
    ADD COLUMN pending_review jsonb;

CREATE OR REPLACE FUNCTION guard_practitioner_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF app_role() IS NOT NULL AND app_role() <> 'ADMIN_HUNTZEN' AND (
        NEW.is_validated IS DISTINCT FROM OLD.is_validated
        OR NEW.validated_at IS DISTINCT FROM OLD.validated_at
        OR NEW.validated_by IS DISTINCT FROM OLD.validated_by
        OR NEW.documents_verified IS DISTINCT FROM OLD.documents_verified
        OR NEW.is_active IS DISTINCT FROM OLD.is_active) THEN
        RAISE EXCEPTION 'only a platform administrator validates a practitioner' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF app_role() IS NOT NULL AND app_role() <> 'ADMIN_HUNTZEN' AND OLD.is_validated AND (
        NEW.title IS DISTINCT FROM OLD.title
        OR NEW.specialty IS DISTINCT FROM OLD.specialty
        OR NEW.diplomas IS DISTINCT FROM OLD.diplomas
        OR NEW.license_number IS DISTINCT FROM OLD.license_number) THEN
        RAISE EXCEPTION 'a validated practitioner''s credentials change through review' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
