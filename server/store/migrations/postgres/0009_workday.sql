-- 0009: message edits and agent availability; see the SQLite migration of the same name.
ALTER TABLE messages ADD COLUMN edited_at BIGINT;
ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;

CREATE TABLE message_originals (
    id              BIGSERIAL PRIMARY KEY,
    message_id      BIGINT NOT NULL REFERENCES messages(id),
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    body            TEXT NOT NULL,
    change          TEXT NOT NULL CHECK (change IN ('edited', 'deleted')),
    agent_id        BIGINT,
    changed_at      BIGINT NOT NULL,
    event_id        BIGINT NOT NULL
);
CREATE INDEX message_originals_message ON message_originals (message_id, id);
CREATE INDEX message_originals_conversation ON message_originals (conversation_id);

ALTER TABLE agents ADD COLUMN away INTEGER NOT NULL DEFAULT 0;
