-- Audio calls in progress (ringing or connected), shared by every API node so that a caller on one
-- node and a callee on another see the same call. Ids and timestamps only: no content, nothing
-- personal beyond the two user ids, and a row lives only as long as the call. Only the owner (the
-- real-time code, which has already checked the socket's session) reads and writes it.
CREATE TABLE live_calls (
    consultation_id uuid PRIMARY KEY REFERENCES consultations (id) ON DELETE CASCADE,
    call_id uuid NOT NULL,
    caller uuid NOT NULL,
    callee uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- NULL while ringing.
    connected_at timestamptz
);
CREATE INDEX live_calls_caller_idx ON live_calls (caller);
CREATE INDEX live_calls_callee_idx ON live_calls (callee);

ALTER TABLE live_calls ENABLE ROW LEVEL SECURITY;
ALTER TABLE live_calls FORCE ROW LEVEL SECURITY;
-- No grant to the request role; this policy only documents that no request context sees a row.
CREATE POLICY live_calls_system_only ON live_calls FOR SELECT USING (false);
