-- 0007: each version's own verdict (processing, ready, rejected, failed),
-- so that reading an explicit version never serves one a scan rejected or
-- one never scanned. A file's current version takes the file's status;
-- every other version existing before this migration was served as ready
-- and stays so.
--
-- Portable between SQLite and PostgreSQL, like 0001.

ALTER TABLE versions ADD COLUMN status TEXT NOT NULL DEFAULT 'ready';

UPDATE versions SET status = (
	SELECT f.status FROM files f WHERE f.id = versions.file_id AND f.version = versions.version
) WHERE EXISTS (
	SELECT 1 FROM files f WHERE f.id = versions.file_id AND f.version = versions.version
		AND f.status IN ('processing', 'rejected', 'failed')
);
