-- 0004: public links.
--
-- Portable between SQLite and PostgreSQL, like 0001. A link's URL token is
-- never stored: token_hash is its SHA-256 (hex), so a leaked database does
-- not leak working links; sealed is the token encrypted by the service
-- (with a key the database does not hold) so owners can list their links'
-- URLs. Revocation deletes the row. Rows go with their file in PurgeFile.

CREATE TABLE links (
	id               TEXT   NOT NULL PRIMARY KEY,
	workspace        TEXT   NOT NULL,
	file_id          TEXT   NOT NULL,
	token_hash       TEXT   NOT NULL,
	sealed           TEXT   NOT NULL DEFAULT '',
	created_by       TEXT   NOT NULL DEFAULT '',
	created_at       BIGINT NOT NULL,
	expires_at       BIGINT NOT NULL DEFAULT 0,
	last_accessed_at BIGINT NOT NULL DEFAULT 0
);

-- The anonymous lookup: one unique index probe per request, hit or miss.
CREATE UNIQUE INDEX links_token_hash ON links (token_hash);
-- A file's links, oldest first.
CREATE INDEX links_file ON links (workspace, file_id, created_at);
