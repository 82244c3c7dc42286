-- 0008: full-text search of messages and notes; see the SQLite migration of
-- the same name. Here the words are a tsvector with a GIN index, in the
-- `simple` configuration (no stemming, no stop words) over the text with
-- every run of non-alphanumerics made a space, so that PostgreSQL's parser
-- sees the same words as FTS5's unicode61 tokenizer (no e-mail, URL or
-- hyphenated-word tokens). strip(): positions are not needed (no phrases).
CREATE FUNCTION frontdesk_search_words(body TEXT) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT strip(to_tsvector('simple', regexp_replace(body, '[^[:alnum:]]+', ' ', 'g'))) $$;

CREATE TABLE search_entries (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    conversation_id BIGINT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('message', 'note')),
    source_id       BIGINT NOT NULL,
    words           tsvector NOT NULL,
    UNIQUE (kind, source_id)
);

-- The backfill, oldest first (see the SQLite migration), before the indexes.
INSERT INTO search_entries (tenant_id, conversation_id, kind, source_id, words)
    SELECT c.tenant_id, x.conversation_id, x.kind, x.id, frontdesk_search_words(x.body)
    FROM (SELECT 'message' AS kind, id, conversation_id, event_id, body FROM messages
          UNION ALL SELECT 'note', id, conversation_id, event_id, body FROM notes) x
    JOIN conversations c ON c.id = x.conversation_id
    ORDER BY x.event_id, x.kind, x.id;

CREATE INDEX search_entries_tenant ON search_entries(tenant_id, id);
CREATE INDEX search_entries_conversation ON search_entries(conversation_id, id);
CREATE INDEX search_entries_words ON search_entries USING GIN (words);

-- Kept in step with every write (insert, body edit, delete, erasure) by triggers.
CREATE FUNCTION frontdesk_search_entry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_entries WHERE kind = TG_ARGV[0] AND source_id = OLD.id;
        RETURN OLD;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE search_entries SET words = frontdesk_search_words(NEW.body)
            WHERE kind = TG_ARGV[0] AND source_id = NEW.id;
        RETURN NEW;
    END IF;
    INSERT INTO search_entries (tenant_id, conversation_id, kind, source_id, words)
        SELECT c.tenant_id, NEW.conversation_id, TG_ARGV[0], NEW.id, frontdesk_search_words(NEW.body)
        FROM conversations c WHERE c.id = NEW.conversation_id;
    RETURN NEW;
END $$;

CREATE TRIGGER messages_search AFTER INSERT OR DELETE OR UPDATE OF body ON messages
    FOR EACH ROW EXECUTE FUNCTION frontdesk_search_entry('message');
CREATE TRIGGER notes_search AFTER INSERT OR DELETE OR UPDATE OF body ON notes
    FOR EACH ROW EXECUTE FUNCTION frontdesk_search_entry('note');
