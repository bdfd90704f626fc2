-- 0002: document management. Listing by keyset with flat page cost,
-- indexable tag and visibility filters, maintained totals.
--
-- Portable between SQLite and PostgreSQL, like 0001. Rows of files that
-- exist before this migration are backfilled by Store.Open (tags and access
-- lists are JSON, which no portable SQL can take apart): the marker row in
-- meta_backfills asks for it once.

-- The file name folded to lower case in Go (strings.ToLower), for
-- case-insensitive name order and name search.
ALTER TABLE files ADD COLUMN name_key TEXT NOT NULL DEFAULT '';

-- Listed files are undeleted with a confirmed version; the partial indexes
-- hold only them, so hidden rows never slow a page down.
CREATE INDEX files_list_created ON files (workspace, created_at, id) WHERE deleted_at = 0 AND version > 0;
CREATE INDEX files_list_name ON files (workspace, name_key, id) WHERE deleted_at = 0 AND version > 0;
CREATE INDEX files_list_collection_created ON files (workspace, collection_id, created_at, id) WHERE deleted_at = 0 AND version > 0;
CREATE INDEX files_list_collection_name ON files (workspace, collection_id, name_key, id) WHERE deleted_at = 0 AND version > 0;
-- Expired temporary files of a workspace, subtracted from its total.
CREATE INDEX files_workspace_expires ON files (workspace, expires_at) WHERE expires_at > 0;
-- Superseded by files_list_name (names are ordered by name_key).
DROP INDEX files_workspace_name;

-- One row per tag of a file (the tags JSON column stays the record).
CREATE TABLE file_tags (
	workspace TEXT NOT NULL,
	file_id   TEXT NOT NULL REFERENCES files (id),
	tag       TEXT NOT NULL,
	PRIMARY KEY (file_id, tag)
);
CREATE INDEX file_tags_tag ON file_tags (workspace, tag, file_id);

-- Who may view a file, canonical: 'workspace' alone when every member may
-- (public-read, or the view list names the workspace), else 'user:<owner>'
-- and the view list's users. A user sees the files of 'workspace' and of
-- 'user:<id>', and no file is in both. The rows copy the file's sort keys,
-- expiry and listed state, so a user's listing is two keyset range scans
-- merged, whatever share of the workspace the user sees.
CREATE TABLE file_viewers (
	workspace  TEXT    NOT NULL,
	file_id    TEXT    NOT NULL REFERENCES files (id),
	principal  TEXT    NOT NULL,
	created_at BIGINT  NOT NULL DEFAULT 0,
	name_key   TEXT    NOT NULL DEFAULT '',
	expires_at BIGINT  NOT NULL DEFAULT 0,
	listed     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (file_id, principal)
);
CREATE INDEX file_viewers_created ON file_viewers (workspace, principal, created_at, file_id) WHERE listed = 1;
CREATE INDEX file_viewers_name ON file_viewers (workspace, principal, name_key, file_id) WHERE listed = 1;

-- Listed files per workspace ('' principal) and per viewer principal,
-- expired temporary files included, spread over slots so that concurrent
-- writers rarely update the same row. A total is the sum of the slots.
CREATE TABLE file_counts (
	workspace TEXT    NOT NULL,
	principal TEXT    NOT NULL,
	slot      INTEGER NOT NULL,
	n         BIGINT  NOT NULL DEFAULT 0,
	PRIMARY KEY (workspace, principal, slot)
);

CREATE TABLE meta_backfills (
	name TEXT NOT NULL PRIMARY KEY
);
INSERT INTO meta_backfills (name) VALUES ('0002_documents');
