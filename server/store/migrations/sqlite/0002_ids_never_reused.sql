-- 0002: ids are never reused. Without AUTOINCREMENT, SQLite hands the id of a
-- deleted newest row to the next row, so after `frontdesk visitor erase` a new
-- visitor (and their conversations and messages) could take the erased one's
-- ids, and a console cache keyed by id could show the erased data under them.
-- SQLite cannot add AUTOINCREMENT to a column, so each table is rebuilt
-- (https://www.sqlite.org/lang_altertable.html, "other kinds of table schema
-- changes"); the runner turns foreign key enforcement off around migrations.

CREATE TABLE visitors_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO visitors_new SELECT id, tenant_id, token_hash, name, email, user_id, verified, user_agent, browser, os,
    language, timezone, page_url, page_title, referrer, first_seen, last_seen FROM visitors;
DROP TABLE visitors;
ALTER TABLE visitors_new RENAME TO visitors;
CREATE INDEX visitors_tenant ON visitors(tenant_id, last_seen);

CREATE TABLE conversations_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO conversations_new SELECT id, tenant_id, visitor_id, status, assignee_id, created_at, last_activity,
    last_seq, last_note_seq, unread_agent, unread_visitor, preview FROM conversations;
DROP TABLE conversations;
ALTER TABLE conversations_new RENAME TO conversations;
CREATE UNIQUE INDEX conversations_one_open ON conversations(visitor_id) WHERE status <> 'resolved';
CREATE INDEX conversations_inbox ON conversations(tenant_id, last_activity DESC, id DESC);
CREATE INDEX conversations_status ON conversations(tenant_id, status, last_activity DESC);
CREATE INDEX conversations_assignee ON conversations(tenant_id, assignee_id, last_activity DESC);

CREATE TABLE messages_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO messages_new SELECT id, conversation_id, seq, author_kind, author_id, client_id, body, created_at,
    event_id FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;

CREATE TABLE notes_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    seq             INTEGER NOT NULL,
    agent_id        INTEGER NOT NULL REFERENCES agents(id),
    client_id       TEXT,
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    event_id        INTEGER NOT NULL,
    UNIQUE (conversation_id, seq)
);
INSERT INTO notes_new SELECT id, conversation_id, seq, agent_id, client_id, body, created_at, event_id FROM notes;
DROP TABLE notes;
ALTER TABLE notes_new RENAME TO notes;

-- The inserts above set each table's sqlite_sequence entry to its highest id,
-- and RENAME carried the entries over: new ids continue from there.
