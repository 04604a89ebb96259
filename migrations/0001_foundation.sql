-- Foundation: extensions, the request role, enums and the helpers every policy uses.
--
-- Request traffic runs as `huntzen_app`: it owns nothing, has no BYPASSRLS, and can only see rows
-- that the policies grant for the transaction-local context set by `app_begin` (see 0002).
-- A missing context reads as NULL, which no policy matches: fail closed.

CREATE EXTENSION IF NOT EXISTS btree_gist;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'huntzen_app') THEN
        CREATE ROLE huntzen_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
    -- The migrating login switches to the request role on its request pool.
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT huntzen_app TO %I', current_user);
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO huntzen_app;

CREATE TYPE user_role AS ENUM ('SUPER_ADMIN', 'ADMIN_HUNTZEN', 'ADMIN_RH', 'PRACTITIONER', 'EMPLOYEE');
CREATE TYPE company_size AS ENUM ('SMALL', 'MEDIUM', 'LARGE', 'ENTERPRISE');
CREATE TYPE specialty AS ENUM (
    'PSYCHOLOGUE_CLINICIEN', 'PSYCHOLOGUE_TRAVAIL', 'PSYCHIATRE',
    'PSYCHOTHERAPEUTE', 'NEUROPSYCHOLOGUE', 'COACH_MENTAL');
CREATE TYPE consultation_format AS ENUM ('VIDEO', 'AUDIO', 'IN_PERSON');
CREATE TYPE consultation_status AS ENUM (
    'SCHEDULED', 'CONFIRMED', 'IN_PROGRESS', 'COMPLETED', 'CANCELLED', 'NO_SHOW');
CREATE TYPE consultation_event_type AS ENUM (
    'SCHEDULED', 'CONFIRMED', 'CANCELLED', 'ROOM_JOINED', 'ROOM_LEFT', 'STARTED', 'ENDED', 'NO_SHOW');
CREATE TYPE mood AS ENUM ('VERY_BAD', 'BAD', 'NEUTRAL', 'GOOD', 'VERY_GOOD');
CREATE TYPE article_category AS ENUM (
    'MENTAL_HEALTH', 'STRESS_MANAGEMENT', 'WORK_LIFE_BALANCE', 'PRODUCTIVITY', 'RELATIONSHIPS', 'WELLBEING');
CREATE TYPE article_status AS ENUM ('DRAFT', 'PUBLISHED', 'ARCHIVED');
CREATE TYPE notification_type AS ENUM (
    'CONSULTATION_CONFIRMED', 'CONSULTATION_CANCELLED', 'CONSULTATION_REMINDER',
    'MESSAGE_RECEIVED', 'NEWS_PUBLISHED', 'SYSTEM');
CREATE TYPE audit_action AS ENUM (
    'CREATE', 'READ', 'UPDATE', 'DELETE', 'LOGIN', 'LOGIN_FAILED', 'LOGOUT', 'EXPORT', 'IMPORT',
    'VALIDATE', 'CANCEL', 'SECURITY');
CREATE TYPE one_time_token_purpose AS ENUM ('VERIFY_EMAIL', 'RESET_PASSWORD', 'INVITATION');
CREATE TYPE data_key_subject AS ENUM ('CONSULTATION', 'EMPLOYEE', 'FILE', 'USER');

-- updated_at maintained by the database, not by every UPDATE statement.
CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- Context readers. `current_setting(.., true)` reads '' once a transaction that set it has
-- ended on a pooled connection, hence NULLIF before the cast.
CREATE FUNCTION app_user_id() RETURNS uuid LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $$;
CREATE FUNCTION app_company_id() RETURNS uuid LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT NULLIF(current_setting('app.company_id', true), '')::uuid $$;
CREATE FUNCTION app_employee_id() RETURNS uuid LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT NULLIF(current_setting('app.employee_id', true), '')::uuid $$;
CREATE FUNCTION app_practitioner_id() RETURNS uuid LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT NULLIF(current_setting('app.practitioner_id', true), '')::uuid $$;
CREATE FUNCTION app_role() RETURNS user_role LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT NULLIF(current_setting('app.role', true), '')::user_role $$;

-- Adding whole minutes has no calendar dependency, so it is safe in an index expression.
CREATE FUNCTION add_minutes(ts timestamptz, minutes integer) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT ts + make_interval(mins => minutes) $$;

GRANT EXECUTE ON FUNCTION app_user_id(), app_company_id(), app_employee_id(), app_practitioner_id(),
    app_role(), add_minutes(timestamptz, integer) TO huntzen_app;
