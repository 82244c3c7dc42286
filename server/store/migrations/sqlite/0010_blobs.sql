-- 0010: on SQLite, file bytes live on disk beside the database (server/store/blobs/disk.py); this migration only keeps
-- the schema version in step with PostgreSQL's 0010, which adds the blob tables.
SELECT 1;
