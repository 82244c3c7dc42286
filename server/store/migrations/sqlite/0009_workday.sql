-- 0009: agents edit or delete their own messages (PROTOCOL.md, "Editing and
-- deleting"). A message row holds only its current text; every text it had
-- before an edit or its deletion is kept in message_originals, for admins
-- (message.originals), never in an event, and erased with the visitor.
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;

CREATE TABLE message_originals (
    id              INTEGER PRIMARY KEY,
    message_id      INTEGER NOT NULL REFERENCES messages(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    body            TEXT NOT NULL,       -- the text before this change
    change          TEXT NOT NULL CHECK (change IN ('edited', 'deleted')),
    agent_id        INTEGER,
    changed_at      INTEGER NOT NULL,
    event_id        INTEGER NOT NULL     -- this change's message.updated event
);
CREATE INDEX message_originals_message ON message_originals (message_id, id);
CREATE INDEX message_originals_conversation ON message_originals (conversation_id);

-- An agent's availability (PROTOCOL.md, "availability.set"): away agents do
-- not count as "someone is there" for visitors.
ALTER TABLE agents ADD COLUMN away INTEGER NOT NULL DEFAULT 0;
