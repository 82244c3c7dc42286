-- 0011: attachments (issue 14, PROTOCOL.md "Attachments"). A row per stored file: its owner, what it is, and the
-- blob (server/store/blobs/) holding its bytes, plus its thumbnail's. A file belongs to its uploader until a message
-- or note refers to it (message_id / note_id, set once); visitor_id is the visitor whose data it is (the uploader,
-- or the visitor of the conversation an agent sent it in), for erasure.
CREATE TABLE files (
    id              TEXT PRIMARY KEY,
    tenant_id       INTEGER NOT NULL,
    uploader_kind   TEXT NOT NULL,
    uploader_id     INTEGER NOT NULL,
    visitor_id      INTEGER,
    conversation_id INTEGER,
    message_id      INTEGER,
    note_id         INTEGER,
    name            TEXT NOT NULL,
    mime            TEXT NOT NULL,
    size            INTEGER NOT NULL,
    sha256          TEXT NOT NULL,
    width           INTEGER,
    height          INTEGER,
    thumb_sha256    TEXT,
    thumb_mime      TEXT,
    status          TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX files_message ON files (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX files_note ON files (note_id) WHERE note_id IS NOT NULL;
CREATE INDEX files_visitor ON files (visitor_id);
CREATE INDEX files_conversation ON files (conversation_id);
CREATE INDEX files_sha256 ON files (sha256);
CREATE INDEX files_thumb_sha256 ON files (thumb_sha256) WHERE thumb_sha256 IS NOT NULL;
