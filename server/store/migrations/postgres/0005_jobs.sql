-- 0005: the one durable job table; see the SQLite migration of the same name.
CREATE TABLE jobs (
    id           BIGSERIAL PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL DEFAULT '{}',
    tenant_id    BIGINT REFERENCES tenants(id),
    -- Set when the payload holds a visitor's data: erasure deletes the job.
    visitor_id   BIGINT,
    -- At most one queued job per key (a debounce reschedules it).
    dedupe_key   TEXT UNIQUE,
    state        TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'dead')),
    due_at       BIGINT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    lease_owner  TEXT,
    lease_until  BIGINT,
    last_error   TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs(due_at) WHERE state = 'queued';
CREATE INDEX jobs_visitor ON jobs(visitor_id) WHERE visitor_id IS NOT NULL;
CREATE INDEX jobs_tenant ON jobs(tenant_id) WHERE tenant_id IS NOT NULL;
