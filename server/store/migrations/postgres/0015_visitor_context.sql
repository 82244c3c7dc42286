-- 0015: visitor location, visit count and custom attributes; see the SQLite migration of the same name.
ALTER TABLE visitors ADD COLUMN ip TEXT;
ALTER TABLE visitors ADD COLUMN country TEXT;
ALTER TABLE visitors ADD COLUMN region TEXT;
ALTER TABLE visitors ADD COLUMN city TEXT;
ALTER TABLE visitors ADD COLUMN visits INTEGER NOT NULL DEFAULT 1;
ALTER TABLE visitors ADD COLUMN attributes TEXT;
ALTER TABLE visitors ADD COLUMN attributes_text TEXT;
