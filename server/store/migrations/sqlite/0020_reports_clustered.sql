-- 0020: the hourly counts and the episodes kept in the order of their keys
-- (WITHOUT ROWID; issue 17, docs/PERFORMANCE.md "year-long reports"). A
-- report reads a year of hourly counts as one range of the table rather than
-- a lookup per row, and joins each CSAT survey to its episode with one lookup
-- instead of two. Same columns, keys and indexes as 0019.
CREATE TABLE report_hourly_0020 (
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
) WITHOUT ROWID;
INSERT INTO report_hourly_0020 (tenant_id, hour, agent_id, team_id, channel, conversations, messages_in,
    messages_out, resolutions)
SELECT tenant_id, hour, agent_id, team_id, channel, conversations, messages_in, messages_out, resolutions
FROM report_hourly;
DROP TABLE report_hourly;
ALTER TABLE report_hourly_0020 RENAME TO report_hourly;

CREATE TABLE report_episodes_0020 (
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
) WITHOUT ROWID;
INSERT INTO report_episodes_0020 (tenant_id, conversation_id, start_event_id, episode_no, started_at, ended_at,
    end_event_id, first_reply_at, first_response_ms, first_response_bms, resolution_ms, resolution_bms, agent_id,
    team_id, channel, unanswered_since, answered_from, schedule_since)
SELECT tenant_id, conversation_id, start_event_id, episode_no, started_at, ended_at, end_event_id, first_reply_at,
    first_response_ms, first_response_bms, resolution_ms, resolution_bms, agent_id, team_id, channel,
    unanswered_since, answered_from, schedule_since
FROM report_episodes;
DROP TABLE report_episodes;
ALTER TABLE report_episodes_0020 RENAME TO report_episodes;
CREATE INDEX report_episodes_started ON report_episodes(
    tenant_id, started_at, agent_id, team_id, channel, first_response_ms, first_response_bms
);
CREATE INDEX report_episodes_ended ON report_episodes(
    tenant_id, ended_at, agent_id, team_id, channel, resolution_ms, resolution_bms
) WHERE ended_at IS NOT NULL;
CREATE INDEX report_episodes_open ON report_episodes(conversation_id) WHERE ended_at IS NULL;
