-- 0004: see the SQLite migration of the same name. Identity secret rotation,
-- the verified-identity index, and the limits every node shares.
ALTER TABLE tenants ADD COLUMN secret_previous TEXT;
ALTER TABLE tenants ADD COLUMN secret_rotated_at BIGINT;

CREATE INDEX visitors_verified_user ON visitors(tenant_id, user_id) WHERE verified = 1;

CREATE TABLE rate_buckets (
    key    TEXT PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    stamp  BIGINT NOT NULL
);

CREATE TABLE login_failures (
    id      BIGSERIAL PRIMARY KEY,
    account TEXT NOT NULL,
    at      BIGINT NOT NULL
);
CREATE INDEX login_failures_account ON login_failures(account, at);
CREATE INDEX login_failures_at ON login_failures(at);
