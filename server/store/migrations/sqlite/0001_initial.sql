-- 0001: the initial schema. Times are integer milliseconds since the epoch.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE tenants (
    id         INTEGER PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    site_key   TEXT NOT NULL UNIQUE,
    secret     TEXT NOT NULL,
    config     TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL
);

CREATE TABLE agents (
    id            INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'agent')),
    password_hash TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    UNIQUE (tenant_id, email)
);
CREATE INDEX agents_email ON agents(email);

CREATE TABLE agent_tokens (
    token_hash TEXT PRIMARY KEY,
    agent_id   INTEGER NOT NULL REFERENCES agents(id),
    created_at INTEGER NOT NULL
);
CREATE INDEX agent_tokens_agent ON agent_tokens(agent_id);

CREATE TABLE visitors (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
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
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
);
CREATE INDEX visitors_tenant ON visitors(tenant_id, last_seen);

CREATE TABLE conversations (
    id             INTEGER PRIMARY KEY,
    tenant_id      INTEGER NOT NULL REFERENCES tenants(id),
    visitor_id     INTEGER NOT NULL REFERENCES visitors(id),
    status         TEXT NOT NULL CHECK (status IN ('open', 'pending', 'resolved')),
    assignee_id    INTEGER REFERENCES agents(id),
    created_at     INTEGER NOT NULL,
    last_activity  INTEGER NOT NULL,
    last_seq       INTEGER NOT NULL DEFAULT 0,
    last_note_seq  INTEGER NOT NULL DEFAULT 0,
    unread_agent   INTEGER NOT NULL DEFAULT 0,
    unread_visitor INTEGER NOT NULL DEFAULT 0,
    preview        TEXT NOT NULL DEFAULT ''
);
-- A visitor has at most one conversation that is not resolved.
CREATE UNIQUE INDEX conversations_one_open ON conversations(visitor_id) WHERE status <> 'resolved';
CREATE INDEX conversations_inbox ON conversations(tenant_id, last_activity DESC, id DESC);
CREATE INDEX conversations_status ON conversations(tenant_id, status, last_activity DESC);
CREATE INDEX conversations_assignee ON conversations(tenant_id, assignee_id, last_activity DESC);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    seq             INTEGER NOT NULL,
    author_kind     TEXT NOT NULL CHECK (author_kind IN ('visitor', 'agent', 'system')),
    author_id       INTEGER,
    client_id       TEXT,
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    event_id        INTEGER NOT NULL,
    UNIQUE (conversation_id, seq)
);

CREATE TABLE notes (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    seq             INTEGER NOT NULL,
    agent_id        INTEGER NOT NULL REFERENCES agents(id),
    client_id       TEXT,
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    event_id        INTEGER NOT NULL,
    UNIQUE (conversation_id, seq)
);

-- The event log: event_id is every client's resume cursor.
CREATE TABLE events (
    event_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    conversation_id INTEGER,
    visitor_id      INTEGER,
    payload         TEXT NOT NULL,
    visitor_payload TEXT,
    created_at      INTEGER NOT NULL
);
CREATE INDEX events_tenant ON events(tenant_id, event_id);

-- Idempotency: the first result of each (sender, conversation, client_id).
CREATE TABLE client_writes (
    sender          TEXT NOT NULL,
    scope           TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    result          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (sender, scope, client_id)
);
