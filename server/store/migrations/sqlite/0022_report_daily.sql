-- 0022: running counts per UTC day (`day`: ms of its start) beside the
-- hourly ones (issue 17; docs/REPORTS.md "Volume"), with the same keys and
-- counts: each day's row is the sum of its 24 hours' rows. The projection
-- (server/store/reports.py) adds to both in the same statement batch; a
-- report sums the whole UTC days of its range here (a year: ~36,000 rows
-- instead of ~180,000) and the hours at either end from report_hourly.
CREATE TABLE report_daily (
    tenant_id     INTEGER NOT NULL,
    day           INTEGER NOT NULL,
    agent_id      INTEGER NOT NULL,
    team_id       INTEGER NOT NULL,
    channel       TEXT NOT NULL,
    conversations INTEGER NOT NULL DEFAULT 0,
    messages_in   INTEGER NOT NULL DEFAULT 0,
    messages_out  INTEGER NOT NULL DEFAULT 0,
    resolutions   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day, agent_id, team_id, channel)
) WITHOUT ROWID;
INSERT INTO report_daily (tenant_id, day, agent_id, team_id, channel, conversations, messages_in, messages_out,
    resolutions)
SELECT tenant_id, hour - hour % 86400000, agent_id, team_id, channel, SUM(conversations), SUM(messages_in),
    SUM(messages_out), SUM(resolutions)
FROM report_hourly
GROUP BY tenant_id, hour - hour % 86400000, agent_id, team_id, channel;

-- A report counts a period's CSAT surveys by agent (and by team and channel,
-- through their episodes): this index holds what it reads, so the surveys'
-- rows are not looked up one by one (a year: 40,000 of them).
CREATE INDEX csat_surveys_report ON csat_surveys(tenant_id, created_at, agent_id, rating, scale, conversation_id, episode);
