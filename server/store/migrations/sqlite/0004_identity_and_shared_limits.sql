-- 0004: identity secret rotation, the verified-identity index, and limits
-- that hold across nodes (kept in the database every node shares).

-- During a rotation the previous identity secret stays valid beside the new
-- one, until `frontdesk tenant identity-secret end-rotation` (or a second
-- rotation) drops it.
ALTER TABLE tenants ADD COLUMN secret_previous TEXT;
ALTER TABLE tenants ADD COLUMN secret_rotated_at INTEGER;

-- A verified user's visitors (one per browser or device) see each other's
-- conversations: hello and every visitor request look them up by user id.
CREATE INDEX visitors_verified_user ON visitors(tenant_id, user_id) WHERE verified = 1;

-- Token buckets shared by every node ("visitor:<id>" for the message budget):
-- taken inside the write transaction, so on PostgreSQL the cluster-wide write
-- lock makes each take exact.
CREATE TABLE rate_buckets (
    key    TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    stamp  INTEGER NOT NULL
);

-- Failed logins per account (trimmed, case-folded email), counted in the
-- write transaction before the password hash runs; exact across nodes.
CREATE TABLE login_failures (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX login_failures_account ON login_failures(account, at);
CREATE INDEX login_failures_at ON login_failures(at);
