-- 0008: full-text search of messages and notes (PROTOCOL.md, "Search").
--
-- search_entries has one row per message and per note: the tenant and the
-- conversation to filter by, and an id that grows with time (AUTOINCREMENT:
-- never reused), so "newest match first" is "highest id first".
-- search_fts is a contentless FTS5 index keyed by that id: it keeps the
-- words, never the text (the text stays in messages and notes, where erasure
-- deletes it). Words are runs of letters and digits, case folded and with
-- diacritics kept, which is what PostgreSQL's `simple` configuration makes of
-- the same text (the same query finds the same conversations on both).
-- detail=none: no positions, since queries are words-with-prefix ANDed, never
-- phrases; the index is several times smaller. columnsize=0: no per-row token
-- counts (they serve only ranking, which search does not use): one B-tree
-- write less per message, most of the index's cost on the write path.
--
-- Triggers keep both in step with every write (insert, body edit, delete,
-- erasure), whatever code path does it.
CREATE TABLE search_entries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER NOT NULL,
    conversation_id INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('message', 'note')),
    source_id       INTEGER NOT NULL,
    UNIQUE (kind, source_id)
);
CREATE INDEX search_entries_tenant ON search_entries(tenant_id, id);
CREATE INDEX search_entries_conversation ON search_entries(conversation_id, id);

CREATE VIRTUAL TABLE search_fts USING fts5(
    body, content='', detail=none, columnsize=0, tokenize='unicode61 remove_diacritics 0'
);

CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO search_entries (tenant_id, conversation_id, kind, source_id)
        SELECT tenant_id, new.conversation_id, 'message', new.id FROM conversations WHERE id = new.conversation_id;
    INSERT INTO search_fts (rowid, body)
        SELECT id, new.body FROM search_entries WHERE kind = 'message' AND source_id = new.id;
END;
CREATE TRIGGER messages_search_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO search_fts (search_fts, rowid, body)
        SELECT 'delete', id, old.body FROM search_entries WHERE kind = 'message' AND source_id = old.id;
    INSERT INTO search_fts (rowid, body)
        SELECT id, new.body FROM search_entries WHERE kind = 'message' AND source_id = new.id;
END;
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    INSERT INTO search_fts (search_fts, rowid, body)
        SELECT 'delete', id, old.body FROM search_entries WHERE kind = 'message' AND source_id = old.id;
    DELETE FROM search_entries WHERE kind = 'message' AND source_id = old.id;
END;

CREATE TRIGGER notes_search_insert AFTER INSERT ON notes BEGIN
    INSERT INTO search_entries (tenant_id, conversation_id, kind, source_id)
        SELECT tenant_id, new.conversation_id, 'note', new.id FROM conversations WHERE id = new.conversation_id;
    INSERT INTO search_fts (rowid, body)
        SELECT id, new.body FROM search_entries WHERE kind = 'note' AND source_id = new.id;
END;
CREATE TRIGGER notes_search_update AFTER UPDATE OF body ON notes BEGIN
    INSERT INTO search_fts (search_fts, rowid, body)
        SELECT 'delete', id, old.body FROM search_entries WHERE kind = 'note' AND source_id = old.id;
    INSERT INTO search_fts (rowid, body)
        SELECT id, new.body FROM search_entries WHERE kind = 'note' AND source_id = new.id;
END;
CREATE TRIGGER notes_search_delete AFTER DELETE ON notes BEGIN
    INSERT INTO search_fts (search_fts, rowid, body)
        SELECT 'delete', id, old.body FROM search_entries WHERE kind = 'note' AND source_id = old.id;
    DELETE FROM search_entries WHERE kind = 'note' AND source_id = old.id;
END;

-- The backfill: every existing message and note, oldest first (by event_id,
-- the order they were written in), so ids follow time as they will from now on.
INSERT INTO search_entries (tenant_id, conversation_id, kind, source_id)
    SELECT c.tenant_id, x.conversation_id, x.kind, x.id
    FROM (SELECT 'message' AS kind, id, conversation_id, event_id FROM messages
          UNION ALL SELECT 'note', id, conversation_id, event_id FROM notes) x
    JOIN conversations c ON c.id = x.conversation_id
    ORDER BY x.event_id, x.kind, x.id;
INSERT INTO search_fts (rowid, body)
    SELECT e.id, m.body FROM search_entries e JOIN messages m ON e.kind = 'message' AND m.id = e.source_id;
INSERT INTO search_fts (rowid, body)
    SELECT e.id, n.body FROM search_entries e JOIN notes n ON e.kind = 'note' AND n.id = e.source_id;
