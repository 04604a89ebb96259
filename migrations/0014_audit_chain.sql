-- Tamper evidence for the audit trail: every row carries a hash chaining it to the previous row
-- (`hash = sha256(prev_hash ‖ row content)`), computed by the database at insert, serialised by
-- an advisory lock. IP address and user agent are personal metadata outside the hash, so an
-- erasure can clear them without breaking the chain. `audit_verify()` finds the first broken row.

ALTER TABLE audit_logs ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY,
                       ADD COLUMN prev_hash bytea,
                       ADD COLUMN hash bytea;
CREATE UNIQUE INDEX audit_logs_seq_idx ON audit_logs (seq);

CREATE FUNCTION audit_row_digest(prev bytea, r audit_logs) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(coalesce(prev, '\x'::bytea) || convert_to(concat_ws('|',
        r.seq, r.id, r.user_id, r.user_role, r.action, r.resource, r.resource_id, r.company_id,
        r.details::text, to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')), 'UTF8'))
$$;

CREATE FUNCTION audit_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('huntzen_audit_chain'));
    SELECT hash INTO NEW.prev_hash FROM audit_logs ORDER BY seq DESC LIMIT 1;
    NEW.hash := audit_row_digest(NEW.prev_hash, NEW);
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_logs_chain BEFORE INSERT ON audit_logs FOR EACH ROW EXECUTE FUNCTION audit_chain();

-- The first row whose hash or link does not match (none: the chain holds). Retention may remove
-- the oldest rows: the chain is checked from the earliest remaining one.
CREATE FUNCTION audit_verify() RETURNS TABLE (broken_seq bigint, broken_id uuid, checked bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r audit_logs;
    prev bytea;
    first boolean := true;
    n bigint := 0;
BEGIN
    FOR r IN SELECT * FROM audit_logs ORDER BY seq LOOP
        n := n + 1;
        IF (NOT first AND r.prev_hash IS DISTINCT FROM prev)
           OR r.hash IS DISTINCT FROM audit_row_digest(r.prev_hash, r) THEN
            broken_seq := r.seq; broken_id := r.id; checked := n;
            RETURN NEXT;
            RETURN;
        END IF;
        prev := r.hash;
        first := false;
    END LOOP;
    checked := n;
    RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION audit_verify() FROM PUBLIC;
