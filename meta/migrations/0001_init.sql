-- 0001: files, their versions and upload tickets.
--
-- Portable between SQLite and PostgreSQL: TEXT, BIGINT and INTEGER only.
-- Times are BIGINT microseconds since the Unix epoch (UTC), 0 for none;
-- booleans INTEGER 0/1; tags, metadata and acl JSON text; MD5 hex text.

CREATE TABLE files (
	workspace      TEXT    NOT NULL,
	id             TEXT    NOT NULL PRIMARY KEY,
	file_name      TEXT    NOT NULL DEFAULT '',
	title          TEXT    NOT NULL DEFAULT '',
	mime_type      TEXT    NOT NULL DEFAULT '',
	kind           TEXT    NOT NULL DEFAULT '',
	size           BIGINT  NOT NULL DEFAULT 0,
	digest         TEXT    NOT NULL DEFAULT '',
	width          INTEGER NOT NULL DEFAULT 0,
	height         INTEGER NOT NULL DEFAULT 0,
	status         TEXT    NOT NULL,
	status_code    TEXT    NOT NULL DEFAULT '',
	status_reason  TEXT    NOT NULL DEFAULT '',
	source         TEXT    NOT NULL DEFAULT '',
	version        INTEGER NOT NULL DEFAULT 0,
	storage_key    TEXT    NOT NULL DEFAULT '',
	owner          TEXT    NOT NULL DEFAULT '',
	collection_id  TEXT    NOT NULL DEFAULT '',
	tags           TEXT    NOT NULL DEFAULT '[]',
	metadata       TEXT    NOT NULL DEFAULT '',
	access_control TEXT    NOT NULL DEFAULT '',
	acl            TEXT    NOT NULL DEFAULT '{}',
	persist        INTEGER NOT NULL DEFAULT 0,
	expires_at     BIGINT  NOT NULL DEFAULT 0,
	created_at     BIGINT  NOT NULL,
	updated_at     BIGINT  NOT NULL,
	deleted_at     BIGINT  NOT NULL DEFAULT 0
);

-- Keyset listing by creation time or name within a workspace.
CREATE INDEX files_workspace_created ON files (workspace, created_at, id);
CREATE INDEX files_workspace_name ON files (workspace, file_name, id);
-- Janitor sweeps: deleted rows, expiring temporary files.
CREATE INDEX files_deleted ON files (deleted_at) WHERE deleted_at > 0;
CREATE INDEX files_expires ON files (expires_at) WHERE expires_at > 0;

CREATE TABLE versions (
	workspace   TEXT    NOT NULL,
	file_id     TEXT    NOT NULL REFERENCES files (id),
	version     INTEGER NOT NULL,
	file_name   TEXT    NOT NULL DEFAULT '',
	mime_type   TEXT    NOT NULL DEFAULT '',
	kind        TEXT    NOT NULL DEFAULT '',
	size        BIGINT  NOT NULL DEFAULT 0,
	digest      TEXT    NOT NULL DEFAULT '',
	width       INTEGER NOT NULL DEFAULT 0,
	height      INTEGER NOT NULL DEFAULT 0,
	storage_key TEXT    NOT NULL DEFAULT '',
	source      TEXT    NOT NULL DEFAULT '',
	created_by  TEXT    NOT NULL DEFAULT '',
	created_at  BIGINT  NOT NULL,
	PRIMARY KEY (file_id, version)
);

CREATE TABLE uploads (
	id             TEXT    NOT NULL PRIMARY KEY,
	workspace      TEXT    NOT NULL,
	file_id        TEXT    NOT NULL REFERENCES files (id),
	version        INTEGER NOT NULL,
	base_version   INTEGER NOT NULL,
	storage_key    TEXT    NOT NULL DEFAULT '',
	file_name      TEXT    NOT NULL DEFAULT '',
	mime_type      TEXT    NOT NULL DEFAULT '',
	size           BIGINT  NOT NULL DEFAULT 0,
	max_size       BIGINT  NOT NULL DEFAULT 0,
	status         TEXT    NOT NULL,
	error_code     TEXT    NOT NULL DEFAULT '',
	error_reason   TEXT    NOT NULL DEFAULT '',
	written_size   BIGINT  NOT NULL DEFAULT 0,
	written_digest TEXT    NOT NULL DEFAULT '',
	written_md5    TEXT    NOT NULL DEFAULT '',
	created_by     TEXT    NOT NULL DEFAULT '',
	created_at     BIGINT  NOT NULL,
	expires_at     BIGINT  NOT NULL DEFAULT 0
);

CREATE INDEX uploads_file_created ON uploads (file_id, created_at);
CREATE INDEX uploads_status_expires ON uploads (status, expires_at);
