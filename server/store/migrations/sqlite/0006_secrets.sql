-- 0006: the one secret store (DESIGN.md, "Growing it"). SMTP passwords,
-- webhook secrets, link-signing keys: each is a row here, sealed with the
-- operator's key (server/secrets.py) so the database and its backups never
-- hold a secret in the clear. Never in a tenant's config blob.
CREATE TABLE secrets (
    tenant_id  INTEGER NOT NULL REFERENCES tenants(id),
    name       TEXT NOT NULL,
    sealed     TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
