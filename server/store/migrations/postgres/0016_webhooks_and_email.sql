-- 0016: webhooks and email continuity (issue 16, items 4 and 1). Webhooks (docs/OPERATIONS.md, "Webhooks"): a tenant's
-- endpoints, and the log of what was sent to each. The secrets themselves are
-- in the secret store (0006), never here. Deliveries are sent by jobs (0005);
-- a delivery row is the log line an admin sees and redelivers, and it keeps
-- the body it sent so a redelivery sends the same bytes.
CREATE TABLE webhooks (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   BIGINT NOT NULL REFERENCES tenants(id),
    url         TEXT NOT NULL,
    -- JSON array of event kinds (protocol.WEBHOOK_EVENTS).
    events      TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled     INTEGER NOT NULL DEFAULT 1,
    -- Why it was switched off by the server ('' when enabled or switched off by an admin).
    disabled_reason TEXT NOT NULL DEFAULT '',
    -- Failed attempts in a row, over every delivery; a success resets it.
    failures    INTEGER NOT NULL DEFAULT 0,
    -- The last event_id fanned out into deliveries for this endpoint.
    event_cursor BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX webhooks_tenant ON webhooks(tenant_id);

CREATE TABLE webhook_deliveries (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   BIGINT NOT NULL,
    webhook_id  BIGINT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id    BIGINT,
    kind        TEXT NOT NULL,
    -- The webhook-id header: the same for every attempt and redelivery, so receivers de-duplicate.
    msg_id      TEXT NOT NULL,
    body        TEXT NOT NULL,
    -- Set when the body carries a visitor's data: erasure deletes the row.
    visitor_id  BIGINT,
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    response_status INTEGER,
    last_error  TEXT NOT NULL DEFAULT '',
    -- Retries stop this long after retry_from (the first attempt, or the last redelivery).
    retry_from  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries(webhook_id, id);
CREATE INDEX webhook_deliveries_visitor ON webhook_deliveries(visitor_id) WHERE visitor_id IS NOT NULL;

-- Email continuity (issue 16, item 1; docs/OPERATIONS.md, "Email"). A tenant's SMTP
-- settings (the password is in the secret store, never here); per conversation, the
-- random token of its reply address and how far its replies were emailed; mail that
-- arrived for a conversation from an address other than the visitor's, held for an agent.
CREATE TABLE email_settings (
    tenant_id     BIGINT PRIMARY KEY REFERENCES tenants(id),
    enabled       INTEGER NOT NULL DEFAULT 0,
    host          TEXT NOT NULL DEFAULT '',
    port          INTEGER NOT NULL DEFAULT 587,
    security      TEXT NOT NULL DEFAULT 'starttls' CHECK (security IN ('none', 'starttls', 'tls')),
    username      TEXT NOT NULL DEFAULT '',
    from_address  TEXT NOT NULL DEFAULT '',
    reply_domain  TEXT NOT NULL DEFAULT '',
    delay_minutes INTEGER NOT NULL DEFAULT 2,
    -- IMAP polling of a mailbox, for those who cannot point an MX at the server (imap_host '' = off).
    imap_host     TEXT NOT NULL DEFAULT '',
    imap_port     INTEGER NOT NULL DEFAULT 993,
    imap_security TEXT NOT NULL DEFAULT 'tls' CHECK (imap_security IN ('none', 'starttls', 'tls')),
    imap_username TEXT NOT NULL DEFAULT '',
    imap_mailbox  TEXT NOT NULL DEFAULT 'INBOX',
    -- The last sending failure, shown in the console until a send succeeds.
    last_error    TEXT NOT NULL DEFAULT '',
    last_error_at BIGINT,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE email_threads (
    conversation_id BIGINT PRIMARY KEY REFERENCES conversations(id),
    tenant_id       BIGINT NOT NULL,
    visitor_id      BIGINT NOT NULL,
    token           TEXT NOT NULL UNIQUE,
    -- The newest message seq already sent by email.
    emailed_seq     INTEGER NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL
);
CREATE INDEX email_threads_visitor ON email_threads(visitor_id);

CREATE TABLE email_held (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    visitor_id      BIGINT NOT NULL,
    sender          TEXT NOT NULL,
    body            TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX email_held_tenant ON email_held(tenant_id, id);
CREATE INDEX email_held_visitor ON email_held(visitor_id);

-- Agents' own switch for notification emails (new conversation, assignment) while offline.
ALTER TABLE agents ADD COLUMN email_notify INTEGER NOT NULL DEFAULT 1;
