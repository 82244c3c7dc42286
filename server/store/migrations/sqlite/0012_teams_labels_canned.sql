-- 0012: teams, labels and canned responses (issue 15; PROTOCOL.md, "Teams", "Labels", "Canned responses").

-- A team is a group of agents of one tenant; a conversation may belong to one (its inbox filter).
CREATE TABLE teams (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX teams_name ON teams (tenant_id, lower(name));

CREATE TABLE team_members (
    team_id  INTEGER NOT NULL REFERENCES teams(id),
    agent_id INTEGER NOT NULL REFERENCES agents(id),
    PRIMARY KEY (team_id, agent_id)
);
CREATE INDEX team_members_agent ON team_members (agent_id);

ALTER TABLE conversations ADD COLUMN team_id INTEGER REFERENCES teams(id);
CREATE INDEX conversations_team ON conversations (tenant_id, team_id, last_activity DESC);

-- Labels: a name and a colour per tenant. A conversation's labels are kept on its row as ",3,7," (ids between
-- commas, ascending; '' for none), so every read of a conversation carries them without a join, and the inbox
-- filters with one LIKE.
CREATE TABLE labels (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    name       TEXT NOT NULL,
    color      TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX labels_name ON labels (tenant_id, lower(name));

ALTER TABLE conversations ADD COLUMN label_ids TEXT NOT NULL DEFAULT '';

-- Canned responses: tenant-wide, one team's, or one agent's own (personal).
CREATE TABLE canned_responses (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    scope      TEXT NOT NULL CHECK (scope IN ('tenant', 'team', 'personal')),
    team_id    INTEGER REFERENCES teams(id),
    agent_id   INTEGER REFERENCES agents(id),
    shortcut   TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX canned_responses_tenant ON canned_responses (tenant_id, scope);
