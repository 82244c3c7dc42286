-- See the SQLite migration of the same name: a visitor's resume reads its
-- own events and the tenant-wide ones through this index.
CREATE INDEX events_visitor ON events(visitor_id, event_id);
-- hello lists the visitor's conversations (the visitor_id index is partial).
CREATE INDEX conversations_visitor ON conversations(visitor_id, last_activity DESC);
