-- 0015: where a visitor is and what the site knows about them (PROTOCOL.md,
-- "Visitor"). The country (and city and region, with --geoip) is looked up
-- from the address at hello; the address itself is kept only while the
-- tenant's store_ip is on. visits counts hellos at least 30 minutes apart.
-- attributes is the JSON object the site set (attributes.set, identify):
-- name -> {"value", "type", "verified"}; attributes_text holds their values as
-- words, for search. All of it lives on the visitor row, so erasure (which
-- deletes the row) removes it.
ALTER TABLE visitors ADD COLUMN ip TEXT;
ALTER TABLE visitors ADD COLUMN country TEXT;
ALTER TABLE visitors ADD COLUMN region TEXT;
ALTER TABLE visitors ADD COLUMN city TEXT;
ALTER TABLE visitors ADD COLUMN visits INTEGER NOT NULL DEFAULT 1;
ALTER TABLE visitors ADD COLUMN attributes TEXT;
ALTER TABLE visitors ADD COLUMN attributes_text TEXT;
