-- 0007: a message's own row is its idempotency record; see the SQLite migration of the same name.
CREATE UNIQUE INDEX messages_client ON messages(author_id, client_id, author_kind, conversation_id);
DELETE FROM client_writes WHERE scope NOT LIKE '%:%';
