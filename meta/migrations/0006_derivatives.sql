-- 0006: derivatives, the renditions (thumbnails) generated from one version
-- of a file. A derivative belongs to its version and goes with its file.
--
-- Portable between SQLite and PostgreSQL, like 0001.

CREATE TABLE derivatives (
	workspace   TEXT    NOT NULL,
	file_id     TEXT    NOT NULL REFERENCES files (id),
	version     INTEGER NOT NULL,
	spec        TEXT    NOT NULL,
	storage_key TEXT    NOT NULL,
	mime_type   TEXT    NOT NULL DEFAULT '',
	size        BIGINT  NOT NULL DEFAULT 0,
	digest      TEXT    NOT NULL DEFAULT '',
	width       INTEGER NOT NULL DEFAULT 0,
	height      INTEGER NOT NULL DEFAULT 0,
	source      TEXT    NOT NULL DEFAULT '',
	created_at  BIGINT  NOT NULL,
	PRIMARY KEY (file_id, version, spec)
);
