-- 0019: reporting facts (issue 17; docs/REPORTS.md). Written by the store's
-- reports reactor (server/store/reports.py) in the same transaction as the
-- events that change them, and recomputed from the event log by
-- `frontdesk reports rebuild`. Times and durations are integer milliseconds;
-- `*_bms` are the business-hours forms, computed once with the schedule in
-- force when written.

-- One row per episode of a conversation (open -> resolved; a reopen starts a
-- new one). `start_event_id` is the event that started it; `end_event_id` the
-- resolve (the CSAT survey's `episode`). `unanswered_since` is the oldest
-- visitor message no agent replied to yet (the reply-time state), and
-- `answered_from` the one the latest reply answered. `schedule_since` names
-- the business hours in force when the episode started (report_schedules).
CREATE TABLE report_episodes (
    tenant_id         INTEGER NOT NULL,
    conversation_id   INTEGER NOT NULL,
    start_event_id    INTEGER NOT NULL,
    episode_no        INTEGER NOT NULL,
    started_at        INTEGER NOT NULL,
    ended_at          INTEGER,
    end_event_id      INTEGER,
    first_reply_at    INTEGER,
    first_response_ms INTEGER,
    first_response_bms INTEGER,
    resolution_ms     INTEGER,
    resolution_bms    INTEGER,
    agent_id          INTEGER,
    team_id           INTEGER,
    channel           TEXT NOT NULL,
    unanswered_since  INTEGER,
    answered_from     INTEGER,
    schedule_since    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, start_event_id)
);
-- The report's reads by period are index-only: each index holds what they fetch.
CREATE INDEX report_episodes_started ON report_episodes(
    tenant_id, started_at, agent_id, team_id, channel, first_response_ms, first_response_bms
);
CREATE INDEX report_episodes_ended ON report_episodes(
    tenant_id, ended_at, agent_id, team_id, channel, resolution_ms, resolution_bms
) WHERE ended_at IS NOT NULL;
CREATE INDEX report_episodes_open ON report_episodes(conversation_id) WHERE ended_at IS NULL;

-- One row per agent reply (notes are not replies); `reply_ms` is null when it
-- answered no visitor message.
CREATE TABLE report_replies (
    tenant_id       INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    message_id      INTEGER NOT NULL,
    conversation_id INTEGER NOT NULL,
    agent_id        INTEGER NOT NULL,
    team_id         INTEGER,
    channel         TEXT NOT NULL,
    reply_ms        INTEGER,
    reply_bms       INTEGER,
    PRIMARY KEY (tenant_id, at, message_id)
) WITHOUT ROWID;  -- kept in time order: a period is one range of the table

-- Running counts per UTC hour (`hour`: ms of its start), agent (0: none),
-- team (0: none) and channel.
CREATE TABLE report_hourly (
    tenant_id     INTEGER NOT NULL,
    hour          INTEGER NOT NULL,
    agent_id      INTEGER NOT NULL,
    team_id       INTEGER NOT NULL,
    channel       TEXT NOT NULL,
    conversations INTEGER NOT NULL DEFAULT 0,
    messages_in   INTEGER NOT NULL DEFAULT 0,
    messages_out  INTEGER NOT NULL DEFAULT 0,
    resolutions   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, hour, agent_id, team_id, channel)
);

-- The history of each tenant's business hours (the configuration's
-- `business_hours`, JSON), from `since` (ms) on: the schedule in force when a
-- figure is written. Not derived: a rebuild keeps it.
CREATE TABLE report_schedules (
    tenant_id INTEGER NOT NULL,
    since     INTEGER NOT NULL,
    hours     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, since)
);
