-- GDPR access: a person reads the audit rows about their own actions (their export includes them).
CREATE POLICY audit_logs_own_read ON audit_logs FOR SELECT USING (user_id = app_user_id());
