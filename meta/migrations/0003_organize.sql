-- 0003: collections and attachments to the application's records.
--
-- Portable between SQLite and PostgreSQL, like 0001. files.collection_id
-- (0001) names a collection of this table, or '' for none.

CREATE TABLE collections (
	workspace     TEXT    NOT NULL,
	id            TEXT    NOT NULL PRIMARY KEY,
	parent_id     TEXT    NOT NULL DEFAULT '',
	name          TEXT    NOT NULL,
	starred       INTEGER NOT NULL DEFAULT 0,
	sort_order    INTEGER NOT NULL DEFAULT 0,
	allowed_types TEXT    NOT NULL DEFAULT '[]',
	max_size      BIGINT  NOT NULL DEFAULT 0,
	created_by    TEXT    NOT NULL DEFAULT '',
	created_at    BIGINT  NOT NULL,
	updated_at    BIGINT  NOT NULL
);
-- Children of a parent in display order.
CREATE INDEX collections_parent ON collections (workspace, parent_id, sort_order, name, id);
-- Undeleted files of a collection in any status (emptiness checks,
-- recursive deletes).
CREATE INDEX files_collection ON files (workspace, collection_id, id) WHERE collection_id <> '' AND deleted_at = 0;

-- One row per file in a record's field; position is 0-based and dense.
CREATE TABLE attachments (
	workspace   TEXT    NOT NULL,
	record_type TEXT    NOT NULL,
	record_id   TEXT    NOT NULL,
	field       TEXT    NOT NULL,
	file_id     TEXT    NOT NULL REFERENCES files (id),
	position    INTEGER NOT NULL,
	created_by  TEXT    NOT NULL DEFAULT '',
	created_at  BIGINT  NOT NULL,
	PRIMARY KEY (workspace, record_type, record_id, field, file_id)
);
CREATE INDEX attachments_order ON attachments (workspace, record_type, record_id, field, position);
CREATE INDEX attachments_file ON attachments (file_id, record_type, record_id, field);

-- Every record a file was ever attached to, kept until the file is
-- purged: a file only ever attached to one record may be purged when that
-- record lets go of it.
CREATE TABLE attachment_history (
	workspace   TEXT NOT NULL,
	file_id     TEXT NOT NULL REFERENCES files (id),
	record_type TEXT NOT NULL,
	record_id   TEXT NOT NULL,
	PRIMARY KEY (file_id, record_type, record_id)
);

-- Rows whose update serialises writers of one scope (a workspace's
-- collection tree, one record field) on PostgreSQL; SQLite writers are
-- serialised anyway.
CREATE TABLE organize_locks (
	workspace TEXT   NOT NULL,
	name      TEXT   NOT NULL,
	n         BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (workspace, name)
);
