-- Practitioner vetting: each document has a kind and its own verification (who, when), and a
-- platform admin can refuse an application (or a credentials review) with a reason that is
-- mailed to the practitioner.

ALTER TABLE files
    ADD COLUMN document_kind text
        CHECK (document_kind IN ('DIPLOMA', 'REGISTRATION', 'IDENTITY', 'INSURANCE', 'OTHER')),
    ADD COLUMN verified_at timestamptz,
    ADD COLUMN verified_by uuid REFERENCES users (id) ON DELETE SET NULL;
UPDATE files SET document_kind = 'OTHER' WHERE purpose = 'PRACTITIONER_DOCUMENT';
CREATE INDEX files_practitioner_documents_idx ON files (owner_user_id)
    WHERE purpose = 'PRACTITIONER_DOCUMENT';

-- Platform admins stamp documents as verified; nothing else about a file changes after upload.
GRANT UPDATE (verified_at, verified_by) ON files TO huntzen_app;
CREATE POLICY files_platform_documents_verify ON files FOR UPDATE
    USING (app_role() = 'ADMIN_HUNTZEN' AND purpose = 'PRACTITIONER_DOCUMENT')
    WITH CHECK (app_role() = 'ADMIN_HUNTZEN' AND purpose = 'PRACTITIONER_DOCUMENT');

ALTER TABLE practitioners
    ADD COLUMN rejected_at timestamptz,
    ADD COLUMN rejected_by uuid REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN rejection_reason text CHECK (char_length(rejection_reason) <= 2000);

-- Only a platform admin refuses; the practitioner may only withdraw a refusal by changing their
-- application (the server clears `rejected_at` when they update their profile or add a document).
CREATE OR REPLACE FUNCTION guard_practitioner_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF app_role() IS NOT NULL AND app_role() <> 'ADMIN_HUNTZEN' AND (
        NEW.is_validated IS DISTINCT FROM OLD.is_validated
        OR NEW.validated_at IS DISTINCT FROM OLD.validated_at
        OR NEW.validated_by IS DISTINCT FROM OLD.validated_by
        OR NEW.documents_verified IS DISTINCT FROM OLD.documents_verified
        OR NEW.is_active IS DISTINCT FROM OLD.is_active
        OR NEW.rejected_by IS DISTINCT FROM OLD.rejected_by
        OR NEW.rejection_reason IS DISTINCT FROM OLD.rejection_reason
        OR (NEW.rejected_at IS NOT NULL AND NEW.rejected_at IS DISTINCT FROM OLD.rejected_at)) THEN
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
