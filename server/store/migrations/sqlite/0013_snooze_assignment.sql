-- 0013: snooze and auto-assignment (issue 15, items 3 and 5; PROTOCOL.md, "Snooze" and "Auto-assignment").
--
-- A snooze is a flag over the stored status, not a status of its own: the
-- conversation keeps status 'open' (or 'pending') and the unique index of open
-- conversations, and the protocol shows it as "snoozed". snoozed_until is the
-- time it wakes (its wake-up is a job, store/snooze.py); NULL with snoozed = 1:
-- until the visitor writes.
ALTER TABLE conversations ADD COLUMN snoozed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN snoozed_until INTEGER;
-- Why the conversation has its assignee: 'auto', 'manual' or 'transfer'.
ALTER TABLE conversations ADD COLUMN assign_reason TEXT;
-- When the conversation went back into the auto-assignment queue (its
-- assignee stayed offline after it was reopened); NULL: it queues by created_at.
ALTER TABLE conversations ADD COLUMN queued_at INTEGER;
-- When the auto-assigner last gave this agent a conversation: ties between
-- equally loaded agents go to the one idle longest.
ALTER TABLE agents ADD COLUMN last_assigned_at INTEGER;

CREATE INDEX conversations_unassigned ON conversations (tenant_id, created_at, id)
    WHERE assignee_id IS NULL AND status = 'open';
