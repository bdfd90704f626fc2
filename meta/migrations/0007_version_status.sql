-- 0007: each version's own verdict (processing, ready, rejected, failed),
-- so that reading an explicit version never serves one a scan rejected or
-- one never scanned. Versions stored before this migration were served as
-- ready, and stay so.
--
-- Portable between SQLite and PostgreSQL, like 0001.

ALTER TABLE versions ADD COLUMN status TEXT NOT NULL DEFAULT 'ready';
