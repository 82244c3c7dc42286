-- 0020 (PostgreSQL): nothing to change. The SQLite 0020 rebuilds the hourly
-- counts and the episodes WITHOUT ROWID (kept in key order); PostgreSQL
-- tables are heaps read through their indexes either way (0019's covering
-- `INCLUDE` indexes). Kept so both dialects share one schema version.
SELECT 1;
