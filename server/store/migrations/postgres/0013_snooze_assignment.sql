-- 0013: snooze and auto-assignment; see the SQLite migration of the same name.
ALTER TABLE conversations ADD COLUMN snoozed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN snoozed_until BIGINT;
ALTER TABLE conversations ADD COLUMN assign_reason TEXT;
ALTER TABLE conversations ADD COLUMN queued_at BIGINT;
ALTER TABLE agents ADD COLUMN last_assigned_at BIGINT;

CREATE INDEX conversations_unassigned ON conversations (tenant_id, created_at, id)
    WHERE assignee_id IS NULL AND status = 'open';
