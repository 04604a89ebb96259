-- Confidential content. Every value is AES-256-GCM ciphertext (nonce ‖ ciphertext ‖ tag) under a
-- per-subject data key; data keys are stored wrapped by the master keyring. Destroying a subject's
-- key (erasure) makes its content unreadable everywhere, backups included.

CREATE TABLE data_keys (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subject_type data_key_subject NOT NULL,
    subject_id uuid NOT NULL,
    master_key_id text NOT NULL,
    wrapped_key bytea,
    destroyed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (subject_type, subject_id),
    CHECK ((wrapped_key IS NULL) = (destroyed_at IS NOT NULL))
);

CREATE TABLE files (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    company_id uuid REFERENCES companies (id) ON DELETE CASCADE,
    consultation_id uuid REFERENCES consultations (id) ON DELETE CASCADE,
    purpose text NOT NULL,
    is_public boolean NOT NULL DEFAULT false,
    content_type text NOT NULL,
    size bigint NOT NULL CHECK (size >= 0),
    storage_key text NOT NULL UNIQUE,
    original_name text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX files_owner_user_id_idx ON files (owner_user_id);
CREATE INDEX files_consultation_id_idx ON files (consultation_id);

CREATE TABLE messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    consultation_id uuid NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    sender_id uuid NOT NULL,
    sender_role user_role NOT NULL CHECK (sender_role IN ('EMPLOYEE', 'PRACTITIONER')),
    content bytea NOT NULL,
    key_id uuid NOT NULL REFERENCES data_keys (id),
    client_message_id text,
    is_read boolean NOT NULL DEFAULT false,
    read_at timestamptz,
    attachment_file_id uuid REFERENCES files (id) ON DELETE SET NULL,
    attachment_type text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (consultation_id, sender_id, client_message_id)
);
CREATE INDEX messages_consultation_id_idx ON messages (consultation_id, created_at, id);
CREATE INDEX messages_sender_id_idx ON messages (sender_id);
CREATE INDEX messages_created_at_idx ON messages (created_at);

CREATE TABLE clinical_notes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    consultation_id uuid NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    practitioner_id uuid NOT NULL REFERENCES practitioners (id) ON DELETE CASCADE,
    content bytea NOT NULL,
    key_id uuid NOT NULL REFERENCES data_keys (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX clinical_notes_consultation_id_idx ON clinical_notes (consultation_id);
CREATE INDEX clinical_notes_practitioner_id_idx ON clinical_notes (practitioner_id);

CREATE TABLE journal_entries (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    employee_id uuid NOT NULL REFERENCES employees (id) ON DELETE CASCADE,
    content bytea NOT NULL,
    key_id uuid NOT NULL REFERENCES data_keys (id),
    mood mood,
    tags text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX journal_entries_employee_id_idx ON journal_entries (employee_id);
CREATE INDEX journal_entries_created_at_idx ON journal_entries (created_at);

CREATE TRIGGER clinical_notes_updated_at BEFORE UPDATE ON clinical_notes FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER journal_entries_updated_at BEFORE UPDATE ON journal_entries FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- ───────────── Row-level security ─────────────
-- No policy here names a platform or HR role: those roles match none of them.

ALTER TABLE messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE messages FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE ON messages TO huntzen_app;
CREATE POLICY messages_participant_read ON messages FOR SELECT
    USING (consultation_id IN (SELECT id FROM consultations));
CREATE POLICY messages_participant_send ON messages FOR INSERT
    WITH CHECK (sender_id = app_user_id() AND consultation_id IN (SELECT id FROM consultations));
CREATE POLICY messages_participant_mark_read ON messages FOR UPDATE
    USING (consultation_id IN (SELECT id FROM consultations))
    WITH CHECK (consultation_id IN (SELECT id FROM consultations));

ALTER TABLE clinical_notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE clinical_notes FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON clinical_notes TO huntzen_app;
CREATE POLICY clinical_notes_author ON clinical_notes FOR ALL
    USING (practitioner_id = app_practitioner_id())
    WITH CHECK (practitioner_id = app_practitioner_id() AND consultation_id IN (SELECT id FROM consultations));

ALTER TABLE journal_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE journal_entries FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON journal_entries TO huntzen_app;
CREATE POLICY journal_entries_owner ON journal_entries FOR ALL
    USING (employee_id = app_employee_id())
    WITH CHECK (employee_id = app_employee_id());

ALTER TABLE files ENABLE ROW LEVEL SECURITY;
ALTER TABLE files FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, DELETE ON files TO huntzen_app;
CREATE POLICY files_owner ON files FOR ALL
    USING (owner_user_id = app_user_id())
    WITH CHECK (owner_user_id = app_user_id()
        AND (company_id IS NULL OR company_id = app_company_id())
        AND (consultation_id IS NULL OR consultation_id IN (SELECT id FROM consultations)));
CREATE POLICY files_public_read ON files FOR SELECT
    USING (is_public AND app_user_id() IS NOT NULL);
CREATE POLICY files_consultation_read ON files FOR SELECT
    USING (consultation_id IN (SELECT id FROM consultations));
CREATE POLICY files_platform_documents_read ON files FOR SELECT
    USING (app_role() = 'ADMIN_HUNTZEN' AND purpose = 'PRACTITIONER_DOCUMENT');

-- A data key is readable exactly where its subject is.
ALTER TABLE data_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE data_keys FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT ON data_keys TO huntzen_app;
CREATE POLICY data_keys_subject_read ON data_keys FOR SELECT
    USING ((subject_type = 'CONSULTATION' AND subject_id IN (SELECT id FROM consultations))
        OR (subject_type = 'EMPLOYEE' AND subject_id = app_employee_id())
        OR (subject_type = 'USER' AND subject_id = app_user_id())
        OR (subject_type = 'FILE' AND subject_id IN (SELECT id FROM files)));
CREATE POLICY data_keys_subject_create ON data_keys FOR INSERT
    WITH CHECK ((subject_type = 'CONSULTATION' AND subject_id IN (SELECT id FROM consultations))
        OR (subject_type = 'EMPLOYEE' AND subject_id = app_employee_id())
        OR (subject_type = 'USER' AND subject_id = app_user_id())
        OR (subject_type = 'FILE' AND subject_id IN (SELECT id FROM files WHERE owner_user_id = app_user_id())));
