-- 0017: on SQLite, the full-text index is filled off the write path (see sqlite/0017). PostgreSQL's GIN index
-- already defers its work (its pending list, fastupdate); this migration only keeps the schema version in step.
SELECT 1;
