-- Chat delivery in commit order (issue 21). Every message gets `seq`, its position in its
-- consultation, assigned under a per-consultation row lock held to the commit: positions follow
-- commit order, have no gaps (a retry of an already-stored `client_message_id` stores nothing and
-- takes no position), and replay reads "after position n" instead of a timestamp (a sending
-- transaction's `now()` is its start, not its commit).

CREATE TABLE message_sequences (
    consultation_id uuid PRIMARY KEY REFERENCES consultations (id) ON DELETE CASCADE,
    last_seq bigint NOT NULL
);
-- Only the trigger below (as the owner) touches it.
ALTER TABLE message_sequences ENABLE ROW LEVEL SECURITY;
ALTER TABLE message_sequences FORCE ROW LEVEL SECURITY;
CREATE POLICY message_sequences_system_only ON message_sequences FOR SELECT USING (false);

ALTER TABLE messages ADD COLUMN seq bigint;
UPDATE messages m SET seq = o.n
FROM (SELECT id, row_number() OVER (PARTITION BY consultation_id ORDER BY created_at, id) AS n
      FROM messages) o
WHERE o.id = m.id;
INSERT INTO message_sequences (consultation_id, last_seq)
SELECT consultation_id, max(seq) FROM messages GROUP BY consultation_id;
ALTER TABLE messages ALTER COLUMN seq SET NOT NULL;
CREATE UNIQUE INDEX messages_consultation_seq_idx ON messages (consultation_id, seq);

CREATE FUNCTION assign_message_seq() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    last bigint;
BEGIN
    -- Takes (or creates) the consultation's row and keeps it locked until this transaction ends:
    -- a second sender in the same consultation waits here, so positions follow commit order.
    INSERT INTO message_sequences AS s (consultation_id, last_seq) VALUES (NEW.consultation_id, 0)
    ON CONFLICT (consultation_id) DO UPDATE SET last_seq = s.last_seq
    RETURNING s.last_seq INTO last;
    -- Under the lock (and with a snapshot taken after it), a retry of a stored message is seen:
    -- it is skipped, so the caller's ON CONFLICT path returns the first one and no position is used.
    IF NEW.client_message_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM messages
        WHERE consultation_id = NEW.consultation_id AND sender_id = NEW.sender_id
          AND client_message_id = NEW.client_message_id) THEN
        RETURN NULL;
    END IF;
    UPDATE message_sequences SET last_seq = last + 1 WHERE consultation_id = NEW.consultation_id;
    NEW.seq := last + 1;
    RETURN NEW;
END
$$;
CREATE TRIGGER messages_seq BEFORE INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION assign_message_seq();
