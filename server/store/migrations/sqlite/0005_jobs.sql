-- 0005: the one durable job table (DESIGN.md, "Growing it"). Anything that
-- must happen later, at least once, surviving a restart (emails, webhook
-- deliveries, snooze wake-ups, cleanups) is a row here: a due time, attempts
-- with backoff, and a lease so that exactly one node runs it at a time.
-- Times are integer milliseconds since the epoch.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL DEFAULT '{}',
    tenant_id    INTEGER REFERENCES tenants(id),
    -- Set when the payload holds a visitor's data: erasure deletes the job.
    visitor_id   INTEGER,
    -- At most one queued job per key (a debounce reschedules it).
    dedupe_key   TEXT UNIQUE,
    state        TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'dead')),
    due_at       INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    lease_owner  TEXT,
    lease_until  INTEGER,
    last_error   TEXT,
    created_at   INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs(due_at) WHERE state = 'queued';
CREATE INDEX jobs_visitor ON jobs(visitor_id) WHERE visitor_id IS NOT NULL;
CREATE INDEX jobs_tenant ON jobs(tenant_id) WHERE tenant_id IS NOT NULL;
