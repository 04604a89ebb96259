-- Blog, company news, notifications, consents and the audit trail.

CREATE TABLE articles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    title text NOT NULL,
    slug text NOT NULL UNIQUE,
    excerpt text NOT NULL DEFAULT '',
    content text NOT NULL DEFAULT '',
    cover_url text,
    meta_title text,
    meta_description text,
    category article_category NOT NULL,
    tags text[] NOT NULL DEFAULT '{}',
    status article_status NOT NULL DEFAULT 'DRAFT',
    published_at timestamptz,
    author_id uuid REFERENCES users (id) ON DELETE SET NULL,
    author_role user_role NOT NULL CHECK (author_role IN ('SUPER_ADMIN', 'ADMIN_HUNTZEN')),
    view_count integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX articles_status_idx ON articles (status);
CREATE INDEX articles_published_at_idx ON articles (published_at);
CREATE INDEX articles_category_idx ON articles (category);

CREATE TABLE news (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    company_id uuid NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    title text NOT NULL,
    content text NOT NULL,
    image_url text,
    published_at timestamptz NOT NULL DEFAULT now(),
    author_id uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX news_company_id_idx ON news (company_id);
CREATE INDEX news_published_at_idx ON news (published_at);

CREATE TABLE notifications (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type notification_type NOT NULL,
    title text NOT NULL,
    message text NOT NULL,
    link_url text,
    is_read boolean NOT NULL DEFAULT false,
    read_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user_id_idx ON notifications (user_id);
CREATE INDEX notifications_is_read_idx ON notifications (is_read);
CREATE INDEX notifications_created_at_idx ON notifications (created_at);

CREATE TABLE consents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type text NOT NULL,
    version text NOT NULL,
    given boolean NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consents_user_id_idx ON consents (user_id, type, created_at);

-- Who did what; never a secret, never confidential content. Emails are not stored here:
-- rows name people by their pseudonymous `user_id` only.
CREATE TABLE audit_logs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid,
    user_role user_role,
    action audit_action NOT NULL,
    resource text NOT NULL,
    resource_id text,
    company_id uuid,
    ip_address text,
    user_agent text,
    details jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_logs_user_id_idx ON audit_logs (user_id);
CREATE INDEX audit_logs_action_idx ON audit_logs (action);
CREATE INDEX audit_logs_resource_idx ON audit_logs (resource);
CREATE INDEX audit_logs_company_id_idx ON audit_logs (company_id);
CREATE INDEX audit_logs_created_at_idx ON audit_logs (created_at);

CREATE TRIGGER articles_updated_at BEFORE UPDATE ON articles FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER news_updated_at BEFORE UPDATE ON news FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- ───────────── Row-level security ─────────────

ALTER TABLE articles ENABLE ROW LEVEL SECURITY;
ALTER TABLE articles FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON articles TO huntzen_app;
CREATE POLICY articles_published_read ON articles FOR SELECT USING (status = 'PUBLISHED');
CREATE POLICY articles_platform ON articles FOR ALL
    USING (app_role() IN ('ADMIN_HUNTZEN', 'SUPER_ADMIN'))
    WITH CHECK (app_role() IN ('ADMIN_HUNTZEN', 'SUPER_ADMIN'));

ALTER TABLE news ENABLE ROW LEVEL SECURITY;
ALTER TABLE news FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON news TO huntzen_app;
CREATE POLICY news_company_read ON news FOR SELECT USING (company_id = app_company_id());
CREATE POLICY news_hr_write ON news FOR ALL
    USING (app_role() = 'ADMIN_RH' AND company_id = app_company_id())
    WITH CHECK (app_role() = 'ADMIN_RH' AND company_id = app_company_id());

ALTER TABLE notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE notifications FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON notifications TO huntzen_app;
CREATE POLICY notifications_own ON notifications FOR ALL
    USING (user_id = app_user_id()) WITH CHECK (user_id = app_user_id());

ALTER TABLE consents ENABLE ROW LEVEL SECURITY;
ALTER TABLE consents FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT ON consents TO huntzen_app;
CREATE POLICY consents_own_read ON consents FOR SELECT USING (user_id = app_user_id());
CREATE POLICY consents_own_record ON consents FOR INSERT WITH CHECK (user_id = app_user_id());

ALTER TABLE audit_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_logs FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT ON audit_logs TO huntzen_app;
CREATE POLICY audit_logs_super_admin_read ON audit_logs FOR SELECT USING (app_role() = 'SUPER_ADMIN');
CREATE POLICY audit_logs_own_write ON audit_logs FOR INSERT
    WITH CHECK (user_id = app_user_id() AND (company_id IS NULL OR company_id = app_company_id()));
