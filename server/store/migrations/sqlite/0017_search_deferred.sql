-- 0017: the words of a new message or note reach the full-text index off the write path.
--
-- Before, the insert triggers of 0008 added each message's words to search_fts inside the message's own
-- transaction: FTS5 then writes a new index segment per commit, about 30 µs of every message (docs/PERFORMANCE.md).
-- Now an insert only adds its search_entries row; the store's writer adds the words of every entry above
-- search_progress.indexed_upto in batches (server/store/search.py, index_backlog), inside a transaction it commits
-- anyway, so one segment holds many messages. Search reads the text of entries above indexed_upto itself (they
-- are the newest), so a message is found the moment it is committed, indexed or not.
--
-- An edit or a delete touches the index only for entries already in it (id <= indexed_upto); an entry not yet
-- indexed gets its words, as they are then, when the writer reaches it. SQLite has one writer, so entry ids
-- commit in order and "every id up to indexed_upto" is exact.
CREATE TABLE search_progress (
    only_row     INTEGER PRIMARY KEY CHECK (only_row = 1),
    indexed_upto INTEGER NOT NULL
);
INSERT INTO search_progress (only_row, indexed_upto) SELECT 1, COALESCE(MAX(id), 0) FROM search_entries;

DROP TRIGGER messages_search_insert;
DROP TRIGGER messages_search_update;
DROP TRIGGER messages_search_delete;
DROP TRIGGER notes_search_insert;
DROP TRIGGER notes_search_update;
DROP TRIGGER notes_search_delete;

CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO search_entries (tenant_id, conversation_id, kind, source_id)
        SELECT tenant_id, new.conversation_id, 'message', new.id FROM conversations WHERE id = new.conversation_id;
END;
CREATE TRIGGER messages_search_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO search_fts (search_fts, rowid, body)
        SELECT 'delete', id, old.body FROM search_entries
        WHERE kind = 'message' AND source_id = old.id AND id <= (SELECT indexed_upto FROM search_progress);
    INSERT INTO search_fts (rowid, body)
        SELECT id, new.body FROM search_entries
        WHERE kind = 'message' AND source_id = new.id AND id <= (SELECT indexed_upto FROM search_progress);
END;
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    INSERT INTO search_fts (search_fts, rowid, body)
        SELECT 'delete', id, old.body FROM search_entries
        WHERE kind = 'message' AND source_id = old.id AND id <= (SELECT indexed_upto FROM search_progress);
    DELETE FROM search_entries WHERE kind = 'message' AND source_id = old.id;
END;

CREATE TRIGGER notes_search_insert AFTER INSERT ON notes BEGIN
    INSERT INTO search_entries (tenant_id, conversation_id, kind, source_id)
        SELECT tenant_id, new.conversation_id, 'note', new.id FROM conversations WHERE id = new.conversation_id;
END;
CREATE TRIGGER notes_search_update AFTER UPDATE OF body ON notes BEGIN
    INSERT INTO search_fts (search_fts, rowid, body)
        SELECT 'delete', id, old.body FROM search_entries
        WHERE kind = 'note' AND source_id = old.id AND id <= (SELECT indexed_upto FROM search_progress);
    INSERT INTO search_fts (rowid, body)
        SELECT id, new.body FROM search_entries
        WHERE kind = 'note' AND source_id = new.id AND id <= (SELECT indexed_upto FROM search_progress);
END;
CREATE TRIGGER notes_search_delete AFTER DELETE ON notes BEGIN
    INSERT INTO search_fts (search_fts, rowid, body)
        SELECT 'delete', id, old.body FROM search_entries
        WHERE kind = 'note' AND source_id = old.id AND id <= (SELECT indexed_upto FROM search_progress);
    DELETE FROM search_entries WHERE kind = 'note' AND source_id = old.id;
END;
