-- Erasure that reaches every backup (docs/backup.md, docs/gdpr.md).
--
-- `erasures` records, in the erasure's own transaction, which account was erased and which data
-- keys that destroyed: ids and times only. The server copies each row to the erasure ledger kept
-- beside the backups, and replays ledger entries a restored database does not know yet.
-- Rows without a user are key purges of the retention job (sealed clinical notes past retention).
CREATE TABLE erasures (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid,
    erased_at timestamptz NOT NULL DEFAULT now(),
    destroyed_keys uuid[] NOT NULL DEFAULT '{}',
    sealed_keys uuid[] NOT NULL DEFAULT '{}',
    purge_after timestamptz
);
CREATE INDEX erasures_erased_at_idx ON erasures (erased_at);
-- Owner only: no request role reads or writes it.
ALTER TABLE erasures ENABLE ROW LEVEL SECURITY;
ALTER TABLE erasures FORCE ROW LEVEL SECURITY;
CREATE POLICY erasures_system_only ON erasures FOR SELECT USING (false);

-- A sealed data key is kept (professional records of an erased practitioner) but readable through
-- no request: no policy shows it. The retention job destroys it after `purge_after`.
ALTER TABLE data_keys ADD COLUMN sealed_at timestamptz, ADD COLUMN purge_after timestamptz;
ALTER TABLE data_keys ADD CONSTRAINT data_keys_sealed_purge CHECK ((sealed_at IS NULL) = (purge_after IS NULL));

DROP POLICY data_keys_subject_read ON data_keys;
CREATE POLICY data_keys_subject_read ON data_keys FOR SELECT
    USING (sealed_at IS NULL AND (
           (subject_type = 'CONSULTATION' AND subject_id IN (SELECT id FROM consultations))
        OR (subject_type = 'EMPLOYEE' AND subject_id = app_employee_id())
        OR (subject_type = 'USER' AND subject_id = app_user_id())
        OR (subject_type = 'FILE' AND subject_id IN (SELECT id FROM files))));

-- Clinical notes now have their author's key (subject USER, the practitioner's user id), never the
-- consultation's: a patient's erasure destroys the chat, not the practitioner's records. Notes
-- written before this migration are re-sealed under the author key by the server at start.
CREATE INDEX clinical_notes_key_id_idx ON clinical_notes (key_id);

-- The employee's access list (`GET /api/me/access-log`): audit rows name reads of chats, notes and
-- files by a per-reader pseudonym (docs/gdpr.md), so the request role cannot find them by itself.
-- The caller computes the pseudonyms of their own items; these two narrow functions return only
-- the notes about the calling employee and the read rows of those exact (reader, pseudonym) pairs.
CREATE FUNCTION my_consultation_notes()
RETURNS TABLE (note_id uuid, consultation_id uuid, author_user_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT n.id, n.consultation_id, p.user_id
    FROM clinical_notes n
    JOIN consultations c ON c.id = n.consultation_id
    JOIN practitioners p ON p.id = n.practitioner_id
    WHERE app_role() = 'EMPLOYEE' AND c.employee_id = app_employee_id()
$$;
REVOKE ALL ON FUNCTION my_consultation_notes() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION my_consultation_notes() TO huntzen_app;

CREATE FUNCTION access_log_reads(readers uuid[], resource_ids text[])
RETURNS TABLE (read_at timestamptz, reader_id uuid, reader_role user_role, resource text,
               resource_id text, via text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT a.created_at, a.user_id, a.user_role, a.resource, a.resource_id, a.details ->> 'via'
    FROM audit_logs a
    JOIN unnest(readers, resource_ids) AS wanted (reader, rid)
      ON a.user_id = wanted.reader AND a.resource_id = wanted.rid
    WHERE app_role() = 'EMPLOYEE' AND a.action = 'READ'
      AND a.resource IN ('messages', 'file', 'clinical_note')
$$;
REVOKE ALL ON FUNCTION access_log_reads(uuid[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION access_log_reads(uuid[], text[]) TO huntzen_app;
CREATE INDEX audit_logs_reader_resource_idx ON audit_logs (user_id, resource_id) WHERE action = 'READ';
