-- 0002: ids are never reused. PostgreSQL's sequences (BIGSERIAL) never hand an
-- id out twice, so nothing changes here; the migration keeps the schema version
-- in step with SQLite's 0002, which rebuilt its tables with AUTOINCREMENT.
SELECT 1;
