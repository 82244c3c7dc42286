-- 0007: a message's own row is its idempotency record. A repeated client_id
-- (per sender and conversation) is found in messages through this index,
-- which also makes a second copy impossible; the ack is rebuilt from the
-- message and its event (store/messages.py, post_message). The column order
-- serves both lookups: per conversation, and per sender for a visitor's
-- message sent without a conversation_id. client_writes keeps the results of
-- the other idempotent writes (notes, status changes, assignments); its
-- message records, whose scope is the bare conversation id, are no longer read.
CREATE UNIQUE INDEX messages_client ON messages(author_id, client_id, author_kind, conversation_id);
DELETE FROM client_writes WHERE scope NOT LIKE '%:%';
