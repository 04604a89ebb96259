-- Support tickets ("Support N2"): any signed-in user opens one and follows it; platform admins
-- (ADMIN_HUNTZEN) list, assign, answer and close. The subject and every message are sealed with
-- the ticket's own data key (subject TICKET), readable where the ticket is: by its creator and by
-- platform admins. Erasing the creator destroys that key.
CREATE TABLE support_tickets (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    creator_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    creator_role user_role NOT NULL,
    category text NOT NULL
        CHECK (category IN ('ACCOUNT', 'BOOKING', 'TECHNICAL', 'BILLING', 'PRIVACY', 'OTHER')),
    status text NOT NULL DEFAULT 'OPEN'
        CHECK (status IN ('OPEN', 'IN_PROGRESS', 'WAITING', 'RESOLVED', 'CLOSED')),
    assignee_id uuid REFERENCES users (id) ON DELETE SET NULL,
    key_id uuid NOT NULL REFERENCES data_keys (id),
    subject bytea NOT NULL,
    body bytea NOT NULL,
    last_reply_at timestamptz,
    closed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX support_tickets_creator_idx ON support_tickets (creator_id, created_at DESC);
CREATE INDEX support_tickets_queue_idx ON support_tickets (status, created_at);
CREATE TRIGGER support_tickets_updated_at BEFORE UPDATE ON support_tickets
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE support_ticket_replies (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ticket_id uuid NOT NULL REFERENCES support_tickets (id) ON DELETE CASCADE,
    author_id uuid REFERENCES users (id) ON DELETE SET NULL,
    author_role user_role NOT NULL,
    body bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX support_ticket_replies_ticket_idx ON support_ticket_replies (ticket_id, created_at, id);

ALTER TABLE support_tickets ENABLE ROW LEVEL SECURITY;
ALTER TABLE support_tickets FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT ON support_tickets TO huntzen_app;
GRANT UPDATE (status, assignee_id, last_reply_at, closed_at) ON support_tickets TO huntzen_app;
CREATE POLICY support_tickets_read ON support_tickets FOR SELECT
    USING (creator_id = app_user_id() OR app_role() = 'ADMIN_HUNTZEN');
CREATE POLICY support_tickets_open ON support_tickets FOR INSERT
    WITH CHECK (creator_id = app_user_id() AND creator_role = app_role());
CREATE POLICY support_tickets_update ON support_tickets FOR UPDATE
    USING (creator_id = app_user_id() OR app_role() = 'ADMIN_HUNTZEN')
    WITH CHECK (creator_id = app_user_id() OR app_role() = 'ADMIN_HUNTZEN');

-- The creator's replies may reopen a ticket; only a platform admin assigns, resolves or closes.
CREATE FUNCTION guard_support_ticket_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF app_role() IS NOT NULL AND app_role() <> 'ADMIN_HUNTZEN' AND (
        NEW.assignee_id IS DISTINCT FROM OLD.assignee_id
        OR NEW.closed_at IS DISTINCT FROM OLD.closed_at
        OR (NEW.status IS DISTINCT FROM OLD.status AND NEW.status <> 'OPEN')) THEN
        RAISE EXCEPTION 'only a platform administrator assigns or closes a ticket'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER support_tickets_guard BEFORE UPDATE ON support_tickets
    FOR EACH ROW EXECUTE FUNCTION guard_support_ticket_update();

ALTER TABLE support_ticket_replies ENABLE ROW LEVEL SECURITY;
ALTER TABLE support_ticket_replies FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT ON support_ticket_replies TO huntzen_app;
CREATE POLICY support_ticket_replies_read ON support_ticket_replies FOR SELECT
    USING (ticket_id IN (SELECT id FROM support_tickets));
CREATE POLICY support_ticket_replies_write ON support_ticket_replies FOR INSERT
    WITH CHECK (author_id = app_user_id() AND author_role = app_role()
        AND ticket_id IN (SELECT id FROM support_tickets));

-- A ticket's key is readable where the ticket is. The key is created just before its ticket (the
-- ticket row names it), so any signed-in caller may create a TICKET key: until a ticket the caller
-- can see points at it, it protects nothing and nobody reads it.
DROP POLICY data_keys_subject_read ON data_keys;
CREATE POLICY data_keys_subject_read ON data_keys FOR SELECT
    USING (sealed_at IS NULL AND (
           (subject_type = 'CONSULTATION' AND subject_id IN (SELECT id FROM consultations))
        OR (subject_type = 'EMPLOYEE' AND subject_id = app_employee_id())
        OR (subject_type = 'USER' AND subject_id = app_user_id())
        OR (subject_type = 'FILE' AND subject_id IN (SELECT id FROM files))
        OR (subject_type = 'TICKET' AND subject_id IN (SELECT id FROM support_tickets))));
CREATE POLICY data_keys_ticket_create ON data_keys FOR INSERT
    WITH CHECK (subject_type = 'TICKET' AND app_user_id() IS NOT NULL);

-- The creator is told of each answer; the server (a platform admin's request) writes that
-- notification through this narrow function, for this ticket's creator only.
CREATE FUNCTION notify_ticket_creator(p_ticket uuid, p_title text, p_message text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    target uuid;
BEGIN
    IF app_role() IS DISTINCT FROM 'ADMIN_HUNTZEN' THEN
        RAISE EXCEPTION 'only support answers notify a ticket creator' USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT creator_id INTO target FROM support_tickets WHERE id = p_ticket;
    IF target IS NULL THEN
        RAISE EXCEPTION 'no such ticket' USING ERRCODE = 'no_data_found';
    END IF;
    INSERT INTO notifications (user_id, type, title, message, link_url)
    VALUES (target, 'SUPPORT_REPLY', p_title, p_message, '/support/tickets/' || p_ticket);
END
$$;
REVOKE ALL ON FUNCTION notify_ticket_creator(uuid, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION notify_ticket_creator(uuid, text, text) TO huntzen_app;
