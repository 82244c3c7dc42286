-- 0012: teams, labels and canned responses; see the SQLite migration of the same name.
CREATE TABLE teams (
    id         BIGSERIAL PRIMARY KEY,
    tenant_id  BIGINT NOT NULL REFERENCES tenants(id),
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX teams_name ON teams (tenant_id, lower(name));

CREATE TABLE team_members (
    team_id  BIGINT NOT NULL REFERENCES teams(id),
    agent_id BIGINT NOT NULL REFERENCES agents(id),
    PRIMARY KEY (team_id, agent_id)
);
CREATE INDEX team_members_agent ON team_members (agent_id);

ALTER TABLE conversations ADD COLUMN team_id BIGINT REFERENCES teams(id);
CREATE INDEX conversations_team ON conversations (tenant_id, team_id, last_activity DESC);

CREATE TABLE labels (
    id         BIGSERIAL PRIMARY KEY,
    tenant_id  BIGINT NOT NULL REFERENCES tenants(id),
    name       TEXT NOT NULL,
    color      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX labels_name ON labels (tenant_id, lower(name));

ALTER TABLE conversations ADD COLUMN label_ids TEXT NOT NULL DEFAULT '';

CREATE TABLE canned_responses (
    id         BIGSERIAL PRIMARY KEY,
    tenant_id  BIGINT NOT NULL REFERENCES tenants(id),
    scope      TEXT NOT NULL CHECK (scope IN ('tenant', 'team', 'personal')),
    team_id    BIGINT REFERENCES teams(id),
    agent_id   BIGINT REFERENCES agents(id),
    shortcut   TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX canned_responses_tenant ON canned_responses (tenant_id, scope);
