-- 0018: satisfaction surveys and export records; see the SQLite migration of the same name.
CREATE TABLE csat_surveys (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenants(id),
    conversation_id BIGINT NOT NULL,
    visitor_id      BIGINT NOT NULL,
    agent_id        BIGINT,
    episode         BIGINT NOT NULL,
    scale           TEXT NOT NULL CHECK (scale IN ('five', 'thumbs')),
    rating          INTEGER,
    comment         TEXT,
    created_at      BIGINT NOT NULL,
    rated_at        BIGINT,
    expires_at      BIGINT NOT NULL,
    link_hash       TEXT UNIQUE,
    link_expires_at BIGINT,
    link_used_at    BIGINT,
    UNIQUE (conversation_id, episode)
);
CREATE INDEX csat_surveys_visitor ON csat_surveys(visitor_id);
CREATE INDEX csat_surveys_tenant ON csat_surveys(tenant_id, created_at);

-- Who exported what, when. `visitor_id` is set when the export names one
-- visitor (their conversation, or a filter on them): erasing the visitor
-- deletes the record.
CREATE TABLE export_records (
    id         BIGSERIAL PRIMARY KEY,
    tenant_id  BIGINT NOT NULL REFERENCES tenants(id),
    agent_id   BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    format     TEXT NOT NULL,
    filter     TEXT NOT NULL DEFAULT '{}',
    visitor_id BIGINT,
    rows       INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX export_records_tenant ON export_records(tenant_id, id);
CREATE INDEX export_records_visitor ON export_records(visitor_id) WHERE visitor_id IS NOT NULL;
