-- 0011: attachments (issue 14); see the SQLite migration of the same name.
CREATE TABLE files (
    id              TEXT PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    uploader_kind   TEXT NOT NULL,
    uploader_id     BIGINT NOT NULL,
    visitor_id      BIGINT,
    conversation_id BIGINT,
    message_id      BIGINT,
    note_id         BIGINT,
    name            TEXT NOT NULL,
    mime            TEXT NOT NULL,
    size            BIGINT NOT NULL,
    sha256          TEXT NOT NULL,
    width           INTEGER,
    height          INTEGER,
    thumb_sha256    TEXT,
    thumb_mime      TEXT,
    status          TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX files_message ON files (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX files_note ON files (note_id) WHERE note_id IS NOT NULL;
CREATE INDEX files_visitor ON files (visitor_id);
CREATE INDEX files_conversation ON files (conversation_id);
CREATE INDEX files_sha256 ON files (sha256);
CREATE INDEX files_thumb_sha256 ON files (thumb_sha256) WHERE thumb_sha256 IS NOT NULL;
