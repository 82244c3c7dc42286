-- 0018: satisfaction surveys (CSAT) and the record of every export (issue 16,
-- items 2 and 3). Times are integer milliseconds since the epoch.
--
-- One survey per resolution episode: `episode` is the event_id of the
-- conversation.updated that resolved it. `agent_id` is the agent who handled
-- the conversation (its assignee, else the one who resolved it). A rating may
-- be given and changed until `expires_at`. An emailed link is a random token
-- kept hashed (`link_hash`), good once (`link_used_at`) and until
-- `link_expires_at`.
CREATE TABLE csat_surveys (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id),
    conversation_id INTEGER NOT NULL,
    visitor_id      INTEGER NOT NULL,
    agent_id        INTEGER,
    episode         INTEGER NOT NULL,
    scale           TEXT NOT NULL CHECK (scale IN ('five', 'thumbs')),
    rating          INTEGER,
    comment         TEXT,
    created_at      INTEGER NOT NULL,
    rated_at        INTEGER,
    expires_at      INTEGER NOT NULL,
    link_hash       TEXT UNIQUE,
    link_expires_at INTEGER,
    link_used_at    INTEGER,
    UNIQUE (conversation_id, episode)
);
CREATE INDEX csat_surveys_visitor ON csat_surveys(visitor_id);
CREATE INDEX csat_surveys_tenant ON csat_surveys(tenant_id, created_at);

-- Who exported what, when. `visitor_id` is set when the export names one
-- visitor (their conversation, or a filter on them): erasing the visitor
-- deletes the record.
CREATE TABLE export_records (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    agent_id   INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    format     TEXT NOT NULL,
    filter     TEXT NOT NULL DEFAULT '{}',
    visitor_id INTEGER,
    rows       INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX export_records_tenant ON export_records(tenant_id, id);
CREATE INDEX export_records_visitor ON export_records(visitor_id) WHERE visitor_id IS NOT NULL;
