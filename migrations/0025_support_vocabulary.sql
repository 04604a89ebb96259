-- The words support tickets need, added alone: PostgreSQL uses a new enum value only once the
-- transaction that added it has committed (0026 uses them).
ALTER TYPE data_key_subject ADD VALUE IF NOT EXISTS 'TICKET';
ALTER TYPE notification_type ADD VALUE IF NOT EXISTS 'SUPPORT_REPLY';
