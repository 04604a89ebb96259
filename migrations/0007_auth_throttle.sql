-- Failed or sensitive authentication attempts, counted per scope and key (a hashed account email,
-- a client address, a user id) over a sliding window. In the database so that every node sees the
-- same counts. Only the owner (sign-in runs without a user context) reads and writes it.
CREATE TABLE auth_throttle (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope text NOT NULL,
    key bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_throttle_lookup_idx ON auth_throttle (scope, key, created_at);

ALTER TABLE auth_throttle ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth_throttle FORCE ROW LEVEL SECURITY;
-- No grant to the request role; this policy only documents that no request context sees a row.
CREATE POLICY auth_throttle_system_only ON auth_throttle FOR SELECT USING (false);
