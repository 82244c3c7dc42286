-- 0021: the reporting facts are projected from the event log after the commit, in batches, instead of
-- being written inside every write (server/store/reports.py, "The projection"). Each tenant's cursor is the
-- last event its facts include: every event of the tenant up to it has been turned into facts, exactly once
-- (the facts and the cursor move in one transaction). Until now the facts were written with the events, so
-- each tenant starts at its newest event.
CREATE TABLE report_cursors (
    tenant_id     INTEGER PRIMARY KEY,
    last_event_id INTEGER NOT NULL
);
INSERT INTO report_cursors (tenant_id, last_event_id)
SELECT tenant_id, MAX(event_id) FROM events GROUP BY tenant_id;
