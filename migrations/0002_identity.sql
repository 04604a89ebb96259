-- Identity and tenancy: companies, users, login sessions, tokens, employees, practitioners.

CREATE TABLE companies (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    slug text NOT NULL UNIQUE,
    domain text,
    sector text,
    size company_size,
    address text,
    city text,
    country text NOT NULL DEFAULT 'France',
    logo_url text,
    cover_url text,
    primary_color text DEFAULT '#4A90E2',
    contact_email text,
    contact_phone text,
    website_url text,
    auto_approve_employees boolean NOT NULL DEFAULT false,
    allow_internal_news boolean NOT NULL DEFAULT true,
    sessions_per_employee_per_year integer CHECK (sessions_per_employee_per_year >= 0),
    is_active boolean NOT NULL DEFAULT false,
    validated_at timestamptz,
    validated_by uuid,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX companies_domain_key ON companies (lower(domain)) WHERE deleted_at IS NULL;
CREATE INDEX companies_is_active_idx ON companies (is_active);

CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text NOT NULL,
    password_hash text,
    role user_role NOT NULL DEFAULT 'EMPLOYEE',
    company_id uuid REFERENCES companies (id),
    is_active boolean NOT NULL DEFAULT true,
    awaiting_approval boolean NOT NULL DEFAULT false,
    email_verified boolean NOT NULL DEFAULT false,
    locale text NOT NULL DEFAULT 'fr' CHECK (locale IN ('fr', 'en')),
    totp_secret bytea,
    totp_enabled_at timestamptz,
    totp_last_step bigint,
    password_changed_at timestamptz,
    last_login_at timestamptz,
    erased_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((role IN ('ADMIN_RH', 'EMPLOYEE')) = (company_id IS NOT NULL))
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_company_id_idx ON users (company_id);

-- A login: every refresh token descends from one session; revoking it ends them all at once.
CREATE TABLE login_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip_address text,
    user_agent text,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoked_reason text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_sessions_user_id_idx ON login_sessions (user_id);

CREATE TABLE refresh_tokens (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id uuid NOT NULL REFERENCES login_sessions (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    parent_id uuid REFERENCES refresh_tokens (id) ON DELETE CASCADE,
    used_at timestamptz,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);

-- Email verification, password reset and invitation links: random, hashed, single-use, expiring.
CREATE TABLE one_time_tokens (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose one_time_token_purpose NOT NULL,
    token_hash bytea NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX one_time_tokens_user_id_idx ON one_time_tokens (user_id);

CREATE TABLE recovery_codes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recovery_codes_user_id_idx ON recovery_codes (user_id);

CREATE TABLE employees (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    company_id uuid NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    first_name text NOT NULL,
    last_name text NOT NULL,
    department text,
    position text,
    phone_number text,
    bio text,
    avatar_url text,
    cover_url text,
    onboarding_completed_at timestamptz,
    consent_given_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX employees_company_id_idx ON employees (company_id);
CREATE INDEX employees_company_department_idx ON employees (company_id, department);

CREATE TABLE practitioners (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    first_name text NOT NULL,
    last_name text NOT NULL,
    title text NOT NULL,
    specialty specialty NOT NULL,
    languages text[] NOT NULL DEFAULT '{}',
    bio text NOT NULL DEFAULT '',
    experience integer CHECK (experience >= 0),
    diplomas text[] NOT NULL DEFAULT '{}',
    avatar_url text,
    cover_url text,
    offers_video boolean NOT NULL DEFAULT true,
    offers_phone boolean NOT NULL DEFAULT true,
    offers_in_person boolean NOT NULL DEFAULT false,
    is_validated boolean NOT NULL DEFAULT false,
    validated_at timestamptz,
    validated_by uuid,
    documents_verified boolean NOT NULL DEFAULT false,
    time_zone text NOT NULL DEFAULT 'Europe/Paris',
    minimum_notice_minutes integer NOT NULL DEFAULT 60 CHECK (minimum_notice_minutes >= 0),
    booking_horizon_days integer CHECK (booking_horizon_days > 0),
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX practitioners_specialty_idx ON practitioners (specialty);
CREATE INDEX practitioners_is_validated_idx ON practitioners (is_validated);
CREATE INDEX practitioners_is_active_idx ON practitioners (is_active);

CREATE TRIGGER companies_updated_at BEFORE UPDATE ON companies FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER users_updated_at BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER employees_updated_at BEFORE UPDATE ON employees FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER practitioners_updated_at BEFORE UPDATE ON practitioners FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Opens a request's context in one statement: checks that the login session is live and that the
-- user and their company are active, then sets the transaction-local settings the policies read.
-- Role and company come from the database, never from the token, so a change applies at once.
-- Returns no row when the session is not valid (the caller answers 401).
CREATE FUNCTION app_begin(p_session_id uuid)
RETURNS TABLE (user_id uuid, role user_role, company_id uuid, employee_id uuid, practitioner_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r record;
BEGIN
    SELECT u.id, u.role, u.company_id, e.id AS employee_id, p.id AS practitioner_id INTO r
    FROM login_sessions s
    JOIN users u ON u.id = s.user_id
    LEFT JOIN companies c ON c.id = u.company_id
    LEFT JOIN employees e ON e.user_id = u.id
    LEFT JOIN practitioners p ON p.user_id = u.id
    WHERE s.id = p_session_id
      AND s.revoked_at IS NULL
      AND s.expires_at > now()
      AND u.is_active AND NOT u.awaiting_approval AND u.erased_at IS NULL
      AND (u.company_id IS NULL OR (c.is_active AND c.deleted_at IS NULL));
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM set_config('app.user_id', r.id::text, true),
            set_config('app.role', r.role::text, true),
            set_config('app.company_id', coalesce(r.company_id::text, ''), true),
            set_config('app.employee_id', coalesce(r.employee_id::text, ''), true),
            set_config('app.practitioner_id', coalesce(r.practitioner_id::text, ''), true);
    user_id := r.id;
    role := r.role;
    company_id := r.company_id;
    employee_id := r.employee_id;
    practitioner_id := r.practitioner_id;
    RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION app_begin(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_begin(uuid) TO huntzen_app;

-- ───────────── Row-level security ─────────────
-- Platform roles (ADMIN_HUNTZEN, SUPER_ADMIN) get narrow, explicit policies; none reaches an
-- employee's identity or any clinical table.

ALTER TABLE companies ENABLE ROW LEVEL SECURITY;
ALTER TABLE companies FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE ON companies TO huntzen_app;
CREATE POLICY companies_own_read ON companies FOR SELECT
    USING (id = app_company_id());
CREATE POLICY companies_platform_read ON companies FOR SELECT
    USING (app_role() IN ('ADMIN_HUNTZEN', 'SUPER_ADMIN'));
CREATE POLICY companies_platform_create ON companies FOR INSERT
    WITH CHECK (app_role() = 'ADMIN_HUNTZEN');
CREATE POLICY companies_platform_update ON companies FOR UPDATE
    USING (app_role() = 'ADMIN_HUNTZEN') WITH CHECK (app_role() = 'ADMIN_HUNTZEN');
CREATE POLICY companies_hr_update ON companies FOR UPDATE
    USING (app_role() = 'ADMIN_RH' AND id = app_company_id())
    WITH CHECK (app_role() = 'ADMIN_RH' AND id = app_company_id());

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE ON users TO huntzen_app;
CREATE POLICY users_self_read ON users FOR SELECT
    USING (id = app_user_id());
CREATE POLICY users_self_update ON users FOR UPDATE
    USING (id = app_user_id())
    WITH CHECK (id = app_user_id() AND role = app_role() AND company_id IS NOT DISTINCT FROM app_company_id());
CREATE POLICY users_hr_read ON users FOR SELECT
    USING (app_role() = 'ADMIN_RH' AND company_id = app_company_id());
CREATE POLICY users_hr_create ON users FOR INSERT
    WITH CHECK (app_role() = 'ADMIN_RH' AND company_id = app_company_id() AND role = 'EMPLOYEE');
CREATE POLICY users_hr_update ON users FOR UPDATE
    USING (app_role() = 'ADMIN_RH' AND company_id = app_company_id() AND role = 'EMPLOYEE')
    WITH CHECK (app_role() = 'ADMIN_RH' AND company_id = app_company_id() AND role = 'EMPLOYEE');
-- Platform admins manage HR admins, practitioners and each other; never an employee's account.
CREATE POLICY users_platform_read ON users FOR SELECT
    USING (app_role() IN ('ADMIN_HUNTZEN', 'SUPER_ADMIN') AND role <> 'EMPLOYEE');
CREATE POLICY users_platform_create ON users FOR INSERT
    WITH CHECK (app_role() = 'ADMIN_HUNTZEN' AND role = 'ADMIN_RH');
CREATE POLICY users_platform_update ON users FOR UPDATE
    USING (app_role() = 'ADMIN_HUNTZEN' AND role IN ('ADMIN_RH', 'PRACTITIONER'))
    WITH CHECK (app_role() = 'ADMIN_HUNTZEN' AND role IN ('ADMIN_RH', 'PRACTITIONER'));

ALTER TABLE login_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE login_sessions FORCE ROW LEVEL SECURITY;
GRANT SELECT, UPDATE ON login_sessions TO huntzen_app;
CREATE POLICY login_sessions_own ON login_sessions FOR SELECT USING (user_id = app_user_id());
CREATE POLICY login_sessions_own_update ON login_sessions FOR UPDATE
    USING (user_id = app_user_id()) WITH CHECK (user_id = app_user_id());

ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;
GRANT SELECT ON refresh_tokens TO huntzen_app;
CREATE POLICY refresh_tokens_own ON refresh_tokens FOR SELECT USING (user_id = app_user_id());

ALTER TABLE one_time_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE one_time_tokens FORCE ROW LEVEL SECURITY;
GRANT SELECT ON one_time_tokens TO huntzen_app;
CREATE POLICY one_time_tokens_own ON one_time_tokens FOR SELECT USING (user_id = app_user_id());

ALTER TABLE recovery_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE recovery_codes FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON recovery_codes TO huntzen_app;
CREATE POLICY recovery_codes_own ON recovery_codes FOR ALL
    USING (user_id = app_user_id()) WITH CHECK (user_id = app_user_id());

ALTER TABLE employees ENABLE ROW LEVEL SECURITY;
ALTER TABLE employees FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON employees TO huntzen_app;
CREATE POLICY employees_self_read ON employees FOR SELECT USING (user_id = app_user_id());
CREATE POLICY employees_self_update ON employees FOR UPDATE
    USING (user_id = app_user_id())
    WITH CHECK (user_id = app_user_id() AND company_id = app_company_id());
CREATE POLICY employees_hr ON employees FOR ALL
    USING (app_role() = 'ADMIN_RH' AND company_id = app_company_id())
    WITH CHECK (app_role() = 'ADMIN_RH' AND company_id = app_company_id());

ALTER TABLE practitioners ENABLE ROW LEVEL SECURITY;
ALTER TABLE practitioners FORCE ROW LEVEL SECURITY;
GRANT SELECT, UPDATE ON practitioners TO huntzen_app;
CREATE POLICY practitioners_listed_read ON practitioners FOR SELECT
    USING (is_validated AND is_active AND app_user_id() IS NOT NULL);
CREATE POLICY practitioners_self_read ON practitioners FOR SELECT USING (user_id = app_user_id());
CREATE POLICY practitioners_self_update ON practitioners FOR UPDATE
    USING (user_id = app_user_id()) WITH CHECK (user_id = app_user_id());
CREATE POLICY practitioners_platform_read ON practitioners FOR SELECT
    USING (app_role() IN ('ADMIN_HUNTZEN', 'SUPER_ADMIN'));
CREATE POLICY practitioners_platform_update ON practitioners FOR UPDATE
    USING (app_role() = 'ADMIN_HUNTZEN') WITH CHECK (app_role() = 'ADMIN_HUNTZEN');

-- Policies cannot compare a row before and after an update: these guards stop a request from
-- granting itself what only an administrator may grant. System work (no request context) passes.
CREATE FUNCTION guard_user_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF app_role() IS NOT NULL AND OLD.id = app_user_id() AND (
        NEW.is_active IS DISTINCT FROM OLD.is_active
        OR NEW.awaiting_approval IS DISTINCT FROM OLD.awaiting_approval
        OR NEW.email_verified IS DISTINCT FROM OLD.email_verified
        OR NEW.email IS DISTINCT FROM OLD.email) THEN
        RAISE EXCEPTION 'a user cannot change their own account status' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION guard_practitioner_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF app_role() IS NOT NULL AND app_role() <> 'ADMIN_HUNTZEN' AND (
        NEW.is_validated IS DISTINCT FROM OLD.is_validated
        OR NEW.validated_at IS DISTINCT FROM OLD.validated_at
        OR NEW.validated_by IS DISTINCT FROM OLD.validated_by
        OR NEW.documents_verified IS DISTINCT FROM OLD.documents_verified
        OR NEW.is_active IS DISTINCT FROM OLD.is_active) THEN
        RAISE EXCEPTION 'only a platform administrator validates a practitioner' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION guard_company_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF app_role() IS NOT NULL AND app_role() <> 'ADMIN_HUNTZEN' AND (
        NEW.is_active IS DISTINCT FROM OLD.is_active
        OR NEW.validated_at IS DISTINCT FROM OLD.validated_at
        OR NEW.deleted_at IS DISTINCT FROM OLD.deleted_at
        OR NEW.domain IS DISTINCT FROM OLD.domain
        OR NEW.slug IS DISTINCT FROM OLD.slug) THEN
        RAISE EXCEPTION 'only a platform administrator changes a company''s status or domain' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER users_guard BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION guard_user_update();
CREATE TRIGGER practitioners_guard BEFORE UPDATE ON practitioners FOR EACH ROW EXECUTE FUNCTION guard_practitioner_update();
CREATE TRIGGER companies_guard BEFORE UPDATE ON companies FOR EACH ROW EXECUTE FUNCTION guard_company_update();
