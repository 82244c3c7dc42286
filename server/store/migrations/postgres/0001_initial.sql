-- 0001: the initial schema, the same as migrations/sqlite/0001_initial.sql.
-- Times are integer milliseconds since the epoch (BIGINT); ids are BIGINT so
-- that _sql.py reads the same Python ints from either database; flags stay
-- INTEGER 0/1 because _sql.py compares them with 1.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE tenants (
    id         BIGSERIAL PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    site_key   TEXT NOT NULL UNIQUE,
    secret     TEXT NOT NULL,
    config     TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);

CREATE TABLE agents (
    id            BIGSERIAL PRIMARY KEY,
    tenant_id     BIGINT NOT NULL REFERENCES tenants(id),
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'agent')),
    password_hash TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    BIGINT NOT NULL,
    UNIQUE (tenant_id, email)
);
CREATE INDEX agents_email ON agents(email);

CREATE TABLE agent_tokens (
    token_hash TEXT PRIMARY KEY,
    agent_id   BIGINT NOT NULL REFERENCES agents(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX agent_tokens_agent ON agent_tokens(agent_id);

CREATE TABLE visitors (
    id         BIGSERIAL PRIMARY KEY,
    tenant_id  BIGINT NOT NULL REFERENCES tenants(id),
    token_hash TEXT NOT NULL UNIQUE,
    name       TEXT,
    email      TEXT,
    user_id    TEXT,
    verified   INTEGER NOT NULL DEFAULT 0,
    user_agent TEXT,
    browser    TEXT,
    os         TEXT,
    language   TEXT,
    timezone   TEXT,
    page_url   TEXT,
    page_title TEXT,
    referrer   TEXT,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);
CREATE INDEX visitors_tenant ON visitors(tenant_id, last_seen);

CREATE TABLE conversations (
    id             BIGSERIAL PRIMARY KEY,
    tenant_id      BIGINT NOT NULL REFERENCES tenants(id),
    visitor_id     BIGINT NOT NULL REFERENCES visitors(id),
    status         TEXT NOT NULL CHECK (status IN ('open', 'pending', 'resolved')),
    assignee_id    BIGINT REFERENCES agents(id),
    created_at     BIGINT NOT NULL,
    last_activity  BIGINT NOT NULL,
    last_seq       BIGINT NOT NULL DEFAULT 0,
    last_note_seq  BIGINT NOT NULL DEFAULT 0,
    unread_agent   BIGINT NOT NULL DEFAULT 0,
    unread_visitor BIGINT NOT NULL DEFAULT 0,
    preview        TEXT NOT NULL DEFAULT ''
);
-- A visitor has at most one conversation that is not resolved.
CREATE UNIQUE INDEX conversations_one_open ON conversations(visitor_id) WHERE status <> 'resolved';
CREATE INDEX conversations_inbox ON conversations(tenant_id, last_activity DESC, id DESC);
CREATE INDEX conversations_status ON conversations(tenant_id, status, last_activity DESC);
CREATE INDEX conversations_assignee ON conversations(tenant_id, assignee_id, last_activity DESC);

CREATE TABLE messages (
    id              BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    seq             BIGINT NOT NULL,
    author_kind     TEXT NOT NULL CHECK (author_kind IN ('visitor', 'agent', 'system')),
    author_id       BIGINT,
    client_id       TEXT,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    event_id        BIGINT NOT NULL,
    UNIQUE (conversation_id, seq)
);

CREATE TABLE notes (
    id              BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    seq             BIGINT NOT NULL,
    agent_id        BIGINT NOT NULL REFERENCES agents(id),
    client_id       TEXT,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    event_id        BIGINT NOT NULL,
    UNIQUE (conversation_id, seq)
);

-- The event log: event_id is every client's resume cursor. Writers append
-- under one advisory lock (see postgres.py), so ids commit in order.
CREATE TABLE events (
    event_id        BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    conversation_id BIGINT,
    visitor_id      BIGINT,
    payload         TEXT NOT NULL,
    visitor_payload TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX events_tenant ON events(tenant_id, event_id);

-- Idempotency: the first result of each (sender, conversation, client_id).
CREATE TABLE client_writes (
    sender          TEXT NOT NULL,
    scope           TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    result          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (sender, scope, client_id)
);
