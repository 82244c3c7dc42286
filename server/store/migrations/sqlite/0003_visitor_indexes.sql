-- A visitor's resume replays only its own events and the tenant-wide ones
-- (visitor_id IS NULL); without this index it scanned every event of the
-- tenant after its cursor, so a reconnect storm cost visitors × events.
CREATE INDEX events_visitor ON events(visitor_id, event_id);

-- hello lists the visitor's conversations; the only index on visitor_id was
-- partial (open ones), so that read scanned every conversation of the tenant.
CREATE INDEX conversations_visitor ON conversations(visitor_id, last_activity DESC);
