-- 0005: durable background jobs and named leases.
--
-- Portable between SQLite and PostgreSQL, like 0001. A job is due when
-- run_at and lease_until are at or before now; a claim sets lease_owner
-- and lease_until and counts an attempt. Completed jobs are deleted.

CREATE TABLE jobs (
	id          TEXT    NOT NULL PRIMARY KEY,
	workspace   TEXT    NOT NULL,
	file_id     TEXT    NOT NULL DEFAULT '',
	version     INTEGER NOT NULL DEFAULT 0,
	kind        TEXT    NOT NULL,
	payload     TEXT    NOT NULL DEFAULT '',
	attempts    INTEGER NOT NULL DEFAULT 0,
	run_at      BIGINT  NOT NULL,
	lease_owner TEXT    NOT NULL DEFAULT '',
	lease_until BIGINT  NOT NULL DEFAULT 0,
	last_error  TEXT    NOT NULL DEFAULT '',
	created_at  BIGINT  NOT NULL,
	updated_at  BIGINT  NOT NULL
);

-- Claims scan due jobs in run_at order.
CREATE INDEX jobs_due ON jobs (run_at, id);
CREATE INDEX jobs_file ON jobs (file_id);

-- Named leases for periodic work (the janitor) shared by replicas.
CREATE TABLE leases (
	name        TEXT   NOT NULL PRIMARY KEY,
	owner       TEXT   NOT NULL,
	lease_until BIGINT NOT NULL
);
